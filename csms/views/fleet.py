"""Read side for operators and the app: each charger with its connectors' state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.views.ports import ChargerDirectory, ConnectorReader, MeterReader
from csms.views.state import ConnectorState, connector_state


@dataclass(frozen=True)
class ConnectorOverview:
    connector_id: int
    status: str
    error_code: str
    state: ConnectorState
    power_w: float | None
    status_at: datetime
    info: str | None = None  # the StatusNotification's free text, errorCode's details (a fault)
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True)
class ChargerOverview:
    charge_point_id: str
    online: bool
    last_seen: datetime | None
    vendor: str | None
    model: str | None
    firmware_version: str | None
    connectors: tuple[ConnectorOverview, ...]

    @property
    def power_w(self) -> float:
        return sum(c.power_w or 0.0 for c in self.connectors if c.state is ConnectorState.CHARGING)


def shown_power(state: ConnectorState, latest_w: float | None) -> float | None:
    """The power a connector is shown with (W): its latest reading only while a vehicle is plugged in
    (the reading of the last session would be stale: a 7.2 kW on an Available or Faulted connector,
    issue 22); 0 when unplugged, faulted or unavailable; unknown (None) offline."""
    if state in (ConnectorState.CHARGING, ConnectorState.PLUGGED_IN, ConnectorState.UNKNOWN):
        return latest_w
    return None if state is ConnectorState.OFFLINE else 0.0


def charger_overview(
    charge_point_id: str,
    chargers: ChargerDirectory,
    connectors: ConnectorReader,
    meter: MeterReader,
) -> ChargerOverview | None:
    view = chargers.get(charge_point_id)
    if view is None:
        return None
    rows = []
    for status in connectors.list(charge_point_id):
        if status.connector_id == 0:
            continue  # connector 0 is the charger as a whole
        latest = meter.latest(charge_point_id, status.connector_id)
        power = latest.power_w if latest is not None else None
        state = connector_state(view.online, status.status, power)
        rows.append(
            ConnectorOverview(
                connector_id=status.connector_id,
                status=status.status,
                error_code=status.error_code,
                state=state,
                power_w=shown_power(state, power),
                status_at=status.timestamp,
                info=status.info,
                vendor_id=status.vendor_id,
                vendor_error_code=status.vendor_error_code,
            )
        )
    boot = view.boot
    return ChargerOverview(
        charge_point_id=view.charge_point_id,
        online=view.online,
        last_seen=view.last_seen,
        vendor=boot.vendor if boot else None,
        model=boot.model if boot else None,
        firmware_version=boot.firmware_version if boot else None,
        connectors=tuple(rows),
    )
