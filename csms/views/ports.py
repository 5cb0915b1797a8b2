"""What the read side (operators' and drivers' views) needs from storage, one Protocol per role.

Implemented by ``adapters.dynamo`` and by ``tests.fakes``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from csms.model import ChargerView, ConnectorStatus, MeterSample, Preference, Session

if TYPE_CHECKING:  # annotations only
    from csms.ocpp.commands import CallOutcome, Outstanding, PendingCall


class ChargerDirectory(Protocol):
    """Chargers as operators and drivers see and arrange them."""

    def get(self, charge_point_id: str) -> ChargerView | None: ...

    def of_driver(self, driver: str) -> list[ChargerView]:
        """The chargers linked to a driver account."""

    def set_driver(self, charge_point_id: str, driver: str | None) -> bool:
        """Link (or with None unlink) a driver; False when there is no such charger."""

    def preference(self, charge_point_id: str) -> Preference:
        """The driver's stored preference; an empty ``Preference()`` when none is stored."""

    def set_preference(self, charge_point_id: str, departure: datetime | None, energy_kwh: float | None,
                       charge_now: bool = False, carbon_price: float | None = None) -> bool:
        """Store the preference (kWh, GBP/t CO2); False when there is no such charger."""

    def capabilities(self, charge_point_id: str) -> dict[str, str]:
        """What the charger reported or answered (configuration keys, accepted profile purposes)."""

    def firmware_history(self, charge_point_id: str) -> list[str]: ...

    def list(self) -> list[ChargerView]: ...  # last: the name shadows the builtin in the class body


class ConnectorReader(Protocol):
    def list(self, charge_point_id: str) -> list[ConnectorStatus]: ...


class MeterReader(Protocol):
    def for_transaction(self, charge_point_id: str, connector_id: int, transaction_id: int) -> list[MeterSample]: ...

    def latest(self, charge_point_id: str, connector_id: int) -> MeterSample | None: ...


class SessionHistory(Protocol):
    def get(self, charge_point_id: str, transaction_id: int) -> Session | None: ...

    def list(self, charge_point_id: str) -> list[Session]: ...

    def plan_of(self, charge_point_id: str, transaction_id: int) -> str | None:
        """The JSON plan last sent for the session (``[[start, end, W], ...]``), if any."""


class CallRecords(Protocol):
    """The platform-initiated calls of a charger: queued, outstanding and answered."""

    def queued(self, charge_point_id: str) -> list[PendingCall]: ...

    def outstanding(self, charge_point_id: str) -> Outstanding | None: ...

    def outcomes(self, charge_point_id: str) -> list[CallOutcome]: ...
