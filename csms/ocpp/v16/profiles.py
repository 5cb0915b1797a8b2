"""Charging profiles a given charger will accept, from what it told us.

Real chargers differ: some reject ChargePointMaxProfile (use TxDefaultProfile),
some accept only stack level 0, some are W-only or A-only
(``ChargingScheduleAllowedChargingRateUnit``: ``Current``, ``Power``,
``Current,Power``, lower-case variants seen). Pausing is a 0 A / 0 W limit;
some chargers need >= 6 A to resume, so a positive limit is never below that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from csms.timeutil import iso

TX_PROFILE = "TxProfile"
TX_DEFAULT = "TxDefaultProfile"
CP_MAX = "ChargePointMaxProfile"
# Tried in this order; a purpose the charger rejected is skipped from then on.
PURPOSE_ORDER = (TX_PROFILE, TX_DEFAULT, CP_MAX)
MIN_RESUME_A = 6.0
PROFILE_ID = {TX_PROFILE: 901, TX_DEFAULT: 902, CP_MAX: 903}  # one id per purpose: a new profile replaces the old


@dataclass(frozen=True)
class ProfileSupport:
    units: tuple[str, ...] = ("A",)  # "A" and/or "W", preferred first
    max_stack_level: int = 0
    max_periods: int = 24
    voltage_v: float = 230.0
    phases: int = 3
    rejected: frozenset[str] = frozenset()

    @classmethod
    def from_capabilities(cls, caps: Mapping[str, str], phases: int = 3, voltage_v: float = 230.0) -> "ProfileSupport":
        allowed = caps.get("ChargingScheduleAllowedChargingRateUnit", "Current")
        tokens = {t.strip().lower() for t in str(allowed).replace(";", ",").split(",") if t.strip()}
        units = tuple(u for u, name in (("W", "power"), ("A", "current")) if name in tokens) or ("A",)
        rejected = frozenset(p for p in PURPOSE_ORDER if caps.get(f"profile.{p}") == "Rejected")

        def number(key: str, default: int) -> int:
            try:
                return max(0, int(str(caps.get(key, default))))
            except ValueError:
                return default

        return cls(units, number("ChargeProfileMaxStackLevel", 0), max(1, number("ChargingScheduleMaxPeriods", 24)),
                   voltage_v, phases, rejected)

    def purposes(self, has_transaction: bool) -> list[str]:
        return [p for p in PURPOSE_ORDER if p not in self.rejected and (has_transaction or p != TX_PROFILE)]


def _limit(watts: float, unit: str, support: ProfileSupport) -> float:
    if unit == "W":
        return float(max(0, round(watts)))
    amps = watts / (support.voltage_v * support.phases)
    if amps <= 0:
        return 0.0
    return max(MIN_RESUME_A, math.floor(amps * 10) / 10)  # one decimal, never above the plan


def profile_request(
    purpose: str,
    periods_w: Sequence[tuple[int, float]],
    support: ProfileSupport,
    *,
    connector_id: int,
    transaction_id: int | None = None,
    start: datetime | None = None,
) -> dict:
    """A SetChargingProfile request: ``periods_w`` are (seconds from start, limit W)."""
    if not periods_w or periods_w[0][0] != 0:
        raise ValueError("the first period must start at 0")
    unit = support.units[0]
    periods: list[dict[str, Any]] = []
    for offset, watts in periods_w[: support.max_periods]:
        limit = _limit(watts, unit, support)
        if periods and periods[-1]["limit"] == limit:
            continue  # merge equal neighbours: fewer periods, fewer on/off edges
        periods.append({"startPeriod": int(offset), "limit": limit})
    schedule: dict = {"chargingRateUnit": unit, "chargingSchedulePeriod": periods}
    if unit == "A":
        for period in periods:
            period["numberPhases"] = support.phases
    profile: dict = {
        "chargingProfileId": PROFILE_ID[purpose],
        "stackLevel": support.max_stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute" if start is not None else "Relative",
        "chargingSchedule": schedule,
    }
    if start is not None:
        schedule["startSchedule"] = iso(start)
    if purpose == TX_PROFILE:
        if transaction_id is None:
            raise ValueError("a TxProfile needs the active transaction's id")
        profile["transactionId"] = transaction_id
    target_connector = 0 if purpose == CP_MAX else connector_id
    return {"connectorId": target_connector, "csChargingProfiles": profile}


def with_purpose(request: dict, purpose: str) -> dict:
    """The same schedule under another purpose (fallback after a rejection)."""
    profile = dict(request["csChargingProfiles"])
    profile["chargingProfilePurpose"] = purpose
    profile["chargingProfileId"] = PROFILE_ID[purpose]
    profile.pop("transactionId", None)
    connector = 0 if purpose == CP_MAX else (request["connectorId"] or 1)
    return {"connectorId": connector, "csChargingProfiles": profile}
