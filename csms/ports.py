"""The small interfaces the domain needs from storage.

Implemented by ``adapters.dynamo`` (pynamodb, DynamoDB) and by
``csms.memory`` (in-memory fakes for unit tests and benchmarks).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable, Protocol

from csms.model import (
    BootInfo,
    ChargerAuth,
    ChargerView,
    ConnectorStatus,
    MeterSample,
    ReviewItem,
    Session,
)

Clock = Callable[[], datetime]


class AlreadyExists(Exception):
    """A conditional create found the item already there."""


class ChargerRepository(Protocol):
    def register(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        """Create a charger; raises AlreadyExists when the id is taken."""

    def set_password_hash(self, charge_point_id: str, password_hash: str) -> bool:
        """Replace the stored hash; False when the charger does not exist."""

    def delete(self, charge_point_id: str) -> bool: ...

    def get_auth(self, charge_point_id: str) -> ChargerAuth | None: ...

    def record_auth_failure(self, charge_point_id: str, at: datetime, window: timedelta) -> None:
        """Count a wrong key for a known charger (brute-force lockout)."""

    def connect(self, charge_point_id: str, connection_id: str, at: datetime) -> bool:
        """Make ``connection_id`` the charger's current connection (idempotent).
        False when the charger is not registered."""

    def disconnect(self, charge_point_id: str, connection_id: str, at: datetime) -> bool:
        """Mark offline only if ``connection_id`` is still the current one.
        True when this call marked it offline."""

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> None: ...

    def touch(self, charge_point_id: str, at: datetime) -> None:
        """Heartbeat: last seen (a single write, no read)."""

    def record_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None: ...

    def record_diagnostics_status(self, charge_point_id: str, status: str, at: datetime) -> None: ...

    def get(self, charge_point_id: str) -> ChargerView | None: ...

    def list(self) -> list[ChargerView]: ...


class ConnectorRepository(Protocol):
    def record_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        """Store unless a newer status is stored; False when it was older."""

    def list(self, charge_point_id: str) -> list[ConnectorStatus]: ...


class SessionRepository(Protocol):
    def find_by_start_key(self, start_key: str) -> int | None:
        """Transaction id already given to a StartTransaction with this dedupe key."""

    def create(self, session_without_id: Session, start_key: str) -> int:
        """Allocate a new unique positive transaction id and store the session,
        atomically with the dedupe key. If another request stored the same key
        first, return that request's transaction id instead."""

    def get(self, charge_point_id: str, transaction_id: int) -> Session | None: ...

    def active(self, charge_point_id: str) -> list[Session]: ...

    def list(self, charge_point_id: str) -> list[Session]: ...

    def save_stop(self, session: Session) -> None:
        """Store the stop fields, energy and flags of a session."""


class MeterRepository(Protocol):
    def put(self, samples: Iterable[MeterSample]) -> None:
        """Store samples; the same (charger, connector, timestamp, source) overwrites (idempotent)."""

    def between(
        self, charge_point_id: str, connector_id: int, start: datetime, end: datetime | None
    ) -> list[MeterSample]:
        """Samples of a connector in [start, end] (end None = open), oldest first."""

    def for_transaction(self, charge_point_id: str, connector_id: int, transaction_id: int,
                        start: datetime | None = None, stop: datetime | None = None) -> list[MeterSample]:
        """The transaction's samples; with ``start`` / ``stop`` (None = open) only that time range
        of the connector is read (a session view reads its own samples, not the whole history)."""

    def latest(self, charge_point_id: str, connector_id: int) -> MeterSample | None: ...


class ReviewLog(Protocol):
    def add(self, item: ReviewItem) -> None: ...

    def list(self, charge_point_id: str) -> list[ReviewItem]: ...
