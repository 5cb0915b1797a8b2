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
    def from_capabilities(cls, caps: Mapping[str, str], phases: int = 3, voltage_v: float = 230.0,
                          now: datetime | None = None) -> "ProfileSupport":
        """``now``: refusals are evidence with a date (``csms.ocpp.evidence``): one older than a day or than
        the charger's last firmware change no longer holds. None: every recorded refusal holds."""
        from csms.ocpp.evidence import refusal_holds

        allowed = caps.get("ChargingScheduleAllowedChargingRateUnit", "Current")
        tokens = {t.strip().lower() for t in str(allowed).replace(";", ",").split(",") if t.strip()}
        units = tuple(u for u, name in (("W", "power"), ("A", "current")) if name in tokens) or ("A",)
        rejected = frozenset(p for p in PURPOSE_ORDER if refusal_holds(caps, f"profile.{p}", now))

        def number(key: str, default: int) -> int:
            try:
                return max(0, int(str(caps.get(key, default))))
            except ValueError:
                return default

        # at most MAX_PERIODS_PER_FRAME whatever the charger reports: a period is ~45 bytes of JSON and
        # API Gateway's frame limit is 32 KB (a 48-hour plan of half-hour slots needs 96 periods)
        periods = min(MAX_PERIODS_PER_FRAME, max(1, number("ChargingScheduleMaxPeriods", 24)))
        return cls(units, number("ChargeProfileMaxStackLevel", 0), periods,
                   voltage_v, phases, rejected)

    def purposes(self, has_transaction: bool) -> list[str]:
        return [p for p in PURPOSE_ORDER if p not in self.rejected and (has_transaction or p != TX_PROFILE)]


def min_charging_w(support: ProfileSupport) -> float:
    """The least power an EV charges at: 6 A (IEC 61851-1's lowest PWM current) x voltage x phases."""
    return MIN_RESUME_A * support.voltage_v * support.phases


def bounded_watts(periods_w: Sequence[tuple[int, float]], support: ProfileSupport,
                  raise_to_minimum: bool = True) -> list[float]:
    """Each period's W with no positive limit below what an EV can take (:func:`min_charging_w`):
    below it a car does not charge and some stop their session for good (issue 14). Such a limit
    becomes 0 or the minimum, whichever keeps the energy delivered so far (from the period lengths)
    closer to the plan's; the rounding error is carried into the next periods. The last period has
    no known end: a positive limit there is raised to the minimum (the plan wants energy there).
    ``raise_to_minimum=False`` (a vehicle under a shared limit: a site's connection, a grid-demand
    event): such a limit becomes 0, never more than the plan, so the vehicles of a site together
    stay inside the limit their plans hold (raising them put a demo depot 5 kW over its 15 kW);
    the energy not drawn is planned again by the next re-plan."""
    floor_w = min_charging_w(support)
    out: list[float] = []
    carried_wh = 0.0  # planned minus sent, so far
    for index, (offset, watts) in enumerate(periods_w):
        watts = max(0.0, float(watts))
        last = index + 1 == len(periods_w)
        hours = 0.0 if last else max(0, periods_w[index + 1][0] - offset) / 3600
        chosen = watts
        if 0 < watts < floor_w:
            if not raise_to_minimum:
                chosen = 0.0
            elif last:
                chosen = floor_w
            else:
                want_wh = watts * hours + carried_wh
                chosen = floor_w if abs(floor_w * hours - want_wh) < abs(want_wh) else 0.0
        carried_wh += (watts - chosen) * hours
        out.append(chosen)
    return out
MAX_PERIODS_PER_FRAME = 240


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
    raise_to_minimum: bool = True,
) -> dict:
    """A SetChargingProfile request: ``periods_w`` are (seconds from start, limit W); a positive
    limit below an EV's minimum is raised to it, or (``raise_to_minimum=False``) made 0
    (:func:`bounded_watts`)."""
    if not periods_w or periods_w[0][0] != 0:
        raise ValueError("the first period must start at 0")
    unit = support.units[0]
    periods: list[dict[str, Any]] = []
    kept = list(periods_w[: support.max_periods])
    for (offset, _), watts in zip(kept, bounded_watts(kept, support, raise_to_minimum)):
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
