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
        rows.append(
            ConnectorOverview(
                connector_id=status.connector_id,
                status=status.status,
                error_code=status.error_code,
                state=connector_state(view.online, status.status, power),
                power_w=power,
                status_at=status.timestamp,
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
