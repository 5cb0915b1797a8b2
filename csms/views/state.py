"""What the app shows per connector: offline, unplugged, plugged in, charging, faulted."""

from __future__ import annotations

from enum import Enum


class ConnectorState(str, Enum):
    OFFLINE = "offline"
    UNPLUGGED = "unplugged"
    RESERVED = "reserved"  # StatusNotification Reserved: held for a ReserveNow's idTag (OCPP 1.6 section 5.13)
    PLUGGED_IN = "plugged_in"
    CHARGING = "charging"
    FAULTED = "faulted"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"


PLUGGED_STATUSES = frozenset({"Preparing", "SuspendedEV", "SuspendedEVSE", "Finishing"})
# Below this import power a "Charging" connector is not really drawing energy
# (some chargers report Charging while the car has paused).
CHARGING_THRESHOLD_W = 50.0


def connector_state(online: bool, status: str | None, power_w: float | None) -> ConnectorState:
    """Map an OCPP 1.6 status (and the latest import power) to the app's state.

    ``Charging`` counts as charging only with import power above a threshold, or
    when no power reading is known yet; with ~0 W it is plugged in, not charging.
    """
    if not online:
        return ConnectorState.OFFLINE
    if status is None:
        return ConnectorState.UNKNOWN
    if status == "Faulted":
        return ConnectorState.FAULTED
    if status == "Available":
        return ConnectorState.UNPLUGGED
    if status == "Reserved":
        return ConnectorState.RESERVED
    if status == "Unavailable":
        return ConnectorState.UNAVAILABLE
    if status in PLUGGED_STATUSES:
        return ConnectorState.PLUGGED_IN
    if status == "Charging":
        if power_w is not None and power_w < CHARGING_THRESHOLD_W:
            return ConnectorState.PLUGGED_IN
        return ConnectorState.CHARGING
    return ConnectorState.UNKNOWN
