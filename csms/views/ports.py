"""What the read side (operators' and drivers' views) needs from storage, one Protocol per role.

Implemented by ``adapters.dynamo`` and by ``tests.fakes``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from csms.model import ChargerView, ConnectorStatus, MeterSample, Preference, ReviewItem, Session

if TYPE_CHECKING:  # annotations only
    from csms.ocpp.commands import CallOutcome, Outstanding, PendingCall
    from csms.views.driver_links import LinkPeriod


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

    def page(self, limit: int, cursor: str | None = None) -> tuple[list[ChargerView], str | None]:
        """At most ``limit`` chargers in id order and the next page's cursor (None at the end);
        raises ValueError for a cursor this store did not hand out."""

    def page_of_driver(self, driver: str, limit: int, cursor: str | None = None) -> tuple[list[ChargerView], str | None]:
        """One page of a driver's chargers, as ``page``."""

    def list(self) -> list[ChargerView]: ...  # last: the name shadows the builtin in the class body


class ConnectorReader(Protocol):
    def list(self, charge_point_id: str) -> list[ConnectorStatus]: ...


class MeterReader(Protocol):
    def for_transaction(self, charge_point_id: str, connector_id: int, transaction_id: int,
                        start: datetime | None = None, stop: datetime | None = None) -> list[MeterSample]:
        """The transaction's samples; with ``start`` / ``stop`` (None = open) only that time range is read."""

    def latest(self, charge_point_id: str, connector_id: int) -> MeterSample | None: ...


class SessionHistory(Protocol):
    def get(self, charge_point_id: str, transaction_id: int) -> Session | None: ...

    def page(self, charge_point_id: str, limit: int, cursor: str | None = None) -> tuple[list[Session], str | None]:
        """At most ``limit`` of a charger's sessions, newest first, and the next page's cursor (None
        at the end); raises ValueError for a cursor this store did not hand out."""

    def list(self, charge_point_id: str) -> list[Session]: ...  # after page: the name shadows the builtin

    def plan_of(self, charge_point_id: str, transaction_id: int) -> str | None:
        """The JSON plan last sent for the session (``[[start, end, W], ...]``), if any."""


class ReviewReader(Protocol):
    """What a charger sent that was read around a quirk or flagged, kept for review (issue 14)."""

    def list(self, charge_point_id: str) -> list[ReviewItem]: ...


class CallRecords(Protocol):
    """The platform-initiated calls of a charger: queued, outstanding and answered."""

    def queued(self, charge_point_id: str) -> list[PendingCall]: ...

    def outstanding(self, charge_point_id: str) -> Outstanding | None: ...

    def outcomes(self, charge_point_id: str) -> list[CallOutcome]: ...


class DriverLinks(Protocol):
    """A charger's driver links as periods (``csms.views.driver_links``; ``adapters.dynamo.driver_links``)."""

    def link(self, charge_point_id: str, driver: str | None, at: datetime) -> bool:
        """Link ``driver`` (None unlinks) from ``at`` (UTC), closing the current period. False: no charger."""

    def periods(self, charge_point_id: str) -> list[LinkPeriod]:
        """Every period of the charger, closed ones and the current one."""
