"""Learnt capabilities are evidence with a date, not a verdict (issue 14).

What a charger refused (a SetChargingProfile purpose answered Rejected / NotSupported /
NotImplemented) is kept in its capabilities map as ``profile.<purpose>`` = ``Rejected`` with the
time of the answer in ``profile.<purpose>.at``. A refusal only holds while:

- it is younger than :data:`REPROBE_AFTER` (a bounded interval: firmware and configuration change
  without telling us), and
- it is younger than the charger's last firmware change (``firmware.changed_at``, set when a
  BootNotification reports a ``firmwareVersion`` other than the one last seen, ``firmware.seen``).

A refusal without a date (learnt before this rule) no longer holds: the charger is asked again once
and the new answer is dated. Pure functions over the ``dict[str, str]`` capability map.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Mapping

from csms.timeutil import BadTimestamp, iso, parse_ts

REPROBE_AFTER = timedelta(hours=24)  # one refused SetChargingProfile a day at most per purpose
FIRMWARE_SEEN = "firmware.seen"
FIRMWARE_CHANGED_AT = "firmware.changed_at"
REJECTED = "Rejected"


def _at(caps: Mapping[str, str], key: str) -> datetime | None:
    value = caps.get(key)
    if not value:
        return None
    try:
        return parse_ts(value)
    except BadTimestamp:
        return None


def verdict(key: str, value: str, at: datetime) -> dict[str, str]:
    """The capability entries that record ``value`` for ``key`` (e.g. ``profile.TxProfile``) at ``at``."""
    return {key: value, f"{key}.at": iso(at)}


def refusal_holds(caps: Mapping[str, str], key: str, now: datetime | None) -> bool:
    """True when ``caps`` hold a refusal of ``key`` that is still evidence at ``now``.
    ``now`` None: any recorded refusal holds (no clock: the caller does not re-probe)."""
    if caps.get(key) != REJECTED:
        return False
    if now is None:
        return True
    at = _at(caps, f"{key}.at")
    if at is None or now - at >= REPROBE_AFTER:
        return False
    changed = _at(caps, FIRMWARE_CHANGED_AT)
    return changed is None or at > changed


def firmware_change(caps: Mapping[str, str], firmware_version: str | None, at: datetime) -> dict[str, str]:
    """The capability entries to write after a BootNotification reporting ``firmware_version``:
    empty when it is the firmware already seen (or none is reported), else the new version and,
    when an earlier one was seen, the time of the change (which voids older refusals)."""
    if not firmware_version or caps.get(FIRMWARE_SEEN) == firmware_version:
        return {}
    update = {FIRMWARE_SEEN: firmware_version}
    if caps.get(FIRMWARE_SEEN) is not None:
        update[FIRMWARE_CHANGED_AT] = iso(at)
    return update
