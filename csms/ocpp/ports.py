"""The small interfaces the domain needs from storage.

Implemented by ``adapters.dynamo`` (pynamodb, DynamoDB) and by
``tests.fakes`` (in-memory fakes for unit tests and benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol

from csms.model import (
    BootInfo,
    ChargerAuth,
    ChargerView,
    ConnectorStatus,
    MeterSample,
    ReviewItem,
    Session,
)

if TYPE_CHECKING:  # annotations only: the queue's records are defined with the send engine
    from csms.ocpp.certificates import ConnectionSecurity
    from csms.ocpp.commands import CallOutcome, Outstanding, PendingCall
    from csms.ocpp.lockout import FailureCount
    from csms.ocpp.frame_log import LoggedFrame

Clock = Callable[[], datetime]


class AlreadyExists(Exception):
    """A conditional create found the item already there."""


class ChargerCredentials(Protocol):
    """The charger store as the handshake and key management see it (``connection``, ``credentials``)."""

    def register(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        """Create a charger; raises AlreadyExists when the id is taken."""

    def set_password_hash(self, charge_point_id: str, password_hash: str) -> bool:
        """Replace the stored hash; False when the charger does not exist."""

    def delete(self, charge_point_id: str) -> bool: ...

    def get_auth(self, charge_point_id: str) -> ChargerAuth | None:
        """The stored hash (and a rotation's pending hash); None: unknown charger."""

    def set_legacy_handshake(self, charge_point_id: str, legacy: bool) -> bool:
        """Admit (or stop admitting) the charger as OCPP 1.6 when it offers no subprotocol or a
        variant spelling (issue 14); False when the charger does not exist."""


class ChargerPresence(Protocol):
    """The charger store as the OCPP handlers write it: connection, boot, liveness, firmware."""

    def connect(self, charge_point_id: str, connection_id: str, at: datetime,
                security: ConnectionSecurity | None = None) -> bool:
        """Make ``connection_id`` the charger's current connection (idempotent), recording how it was
        admitted (``security``: TLS version/cipher, client certificate; a certificate raises the
        profile floor to 3) in the same write. False when the charger is not registered."""

    def disconnect(self, charge_point_id: str, connection_id: str, at: datetime) -> bool:
        """Mark offline only if ``connection_id`` is still the current one.
        True when this call marked it offline."""

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> Mapping[str, str] | None:
        """Store the boot data; return the charger's learnt capabilities as stored (read for free
        with the write), or None when the store cannot tell them."""

    def record_capabilities(self, charge_point_id: str, values: dict[str, str]) -> None:
        """Merge ``values`` into the charger's learnt capabilities (one write)."""

    def touch(self, charge_point_id: str, at: datetime) -> None:
        """Heartbeat: last seen (a single write, no read)."""

    def record_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None: ...

    def record_diagnostics_status(self, charge_point_id: str, status: str, at: datetime) -> None: ...


class ChargerReader(Protocol):
    """One charger or all of them, as operators and drivers see them."""

    def get(self, charge_point_id: str) -> ChargerView | None: ...

    def list(self) -> list[ChargerView]: ...


class ChargerSecurity(Protocol):
    """The charger store's security side (OCPP Security Whitepaper ed. 2): the profile floor and the
    certificate revocation list."""

    def set_security_profile(self, charge_point_id: str, profile: int) -> bool:
        """Raise the charger's profile floor to ``profile`` (2 or 3); False when the charger is
        unknown or already on a higher profile (never lowers)."""

    def revoke(self, charge_point_id: str, keys: Iterable[str]) -> bool:
        """Add ``serial:<hex>`` / ``sha256:<hex>`` keys to the charger's revocation list (checked at
        the next handshake); False when the charger is unknown."""



class SecurityEventChargers(ChargerPresence, ChargerSecurity, Protocol):
    """The charger store as the 1.6 security extension's handlers write it (firmware and log
    statuses)."""


class SecurityEventLog(Protocol):
    """A charger's SecurityEventNotifications as review items (kind ``security_event``, detail
    ``"<type>: <techInfo>"``, the raw frame), apart from its other review items: one write per event,
    nothing on the charger's item; the latest read with one bounded query (operators' view)."""

    def add(self, item: ReviewItem) -> None: ...

    def latest(self, charge_point_id: str, limit: int) -> list[ReviewItem]:
        """The newest ``limit`` events, newest first."""


class CertificateSigner(Protocol):
    """The platform's charger CA (locally a key file; in AWS a KMS key, docs/certificates.md)."""

    def sign(self, csr: Any, charge_point_id: str) -> str:
        """The charge point certificate for ``csr`` (an ``x509.CertificateSigningRequest`` already
        checked by ``check_csr``) and its CA chain, PEM, leaf first."""


class ChargerRepository(ChargerCredentials, ChargerPresence, ChargerReader, ChargerSecurity, Protocol):
    """The whole charger store (what an adapter implements); a consumer names the role it needs."""


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

    def recent(self, charge_point_id: str, limit: int) -> list[Session]:
        """The charger's ``limit`` sessions with the highest transaction ids (a bounded read)."""

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
    """Charger messages (or answers) kept for a person: read around a quirk or flagged (issue 14)."""

    def add(self, item: ReviewItem) -> None: ...

    def list(self, charge_point_id: str) -> list[ReviewItem]: ...


class CallQueue(Protocol):
    def add(self, call: PendingCall) -> None: ...

    def oldest(self, charge_point_id: str) -> PendingCall | None: ...

    def queued(self, charge_point_id: str) -> list[PendingCall]: ...

    def remove(self, call: PendingCall) -> None: ...

    def claim(self, call: PendingCall, connection_id: str, now: datetime, deadline: datetime) -> bool:
        """Take the charger's single outstanding slot unless a live call holds it."""

    def outstanding(self, charge_point_id: str) -> Outstanding | None: ...

    def release(self, charge_point_id: str, unique_id: str) -> bool:
        """Free the slot if ``unique_id`` still holds it."""

    def record(self, outcome: CallOutcome) -> None: ...

    def outcomes(self, charge_point_id: str) -> list[CallOutcome]: ...

    def chargers_with_work(self, now: datetime | None = None) -> list[str]:
        """Chargers with queued or outstanding calls the sweep should look at (by ``now``)."""

    def redact(self, call: PendingCall, payload: dict[str, Any]) -> None:
        """Replace the stored payload of a queued / outstanding call (a secret, once sent)."""


class ConnectionPoster(Protocol):
    def post(self, connection_id: str, frame: str) -> bool:
        """Send a frame; False when the connection is gone (HTTP 410)."""


@dataclass(frozen=True)
class SetupClaim:
    """What the charger item said when a young connection claimed its set-up (its values before)."""
    pump_pending: bool  # a BootNotification on this connection queued set-up calls still to be sent
    boot_at: datetime | None
    setup_version: str | None


class ChargerLink(Protocol):
    """What the commander needs to know of a charger's connection and setup."""

    def connection(self, charge_point_id: str) -> tuple[str | None, str | None, datetime | None]:
        """(current connection id, connection id already set up, boot time)."""

    def mark_setup(self, charge_point_id: str, connection_id: str) -> bool:
        """Record that ``connection_id`` was set up; False if it already was."""

    def mark_stale(self, charge_point_id: str, connection_id: str) -> None:
        """The connection is gone (410): offline, if it is still the current one."""

    def claim_setup(self, charge_point_id: str, connection_id: str) -> SetupClaim | None:
        """One conditional write: claim the set-up of ``connection_id`` if it is the current
        connection and it is not set up yet (or a BootNotification left set-up calls to send).
        None when there is nothing to do."""

    def boot_setup(self, charge_point_id: str, connection_id: str, version: str) -> str | None:
        """After a BootNotification: ``connection_id`` is set up with configuration ``version``;
        its calls are sent by the next message. Returns the version stored before."""

    def record_capabilities(self, charge_point_id: str, values: dict[str, str]) -> None: ...

    def capabilities(self, charge_point_id: str) -> dict[str, str]: ...


class SecretSealer(Protocol):
    """Encrypts a short secret for storage (``csms.ocpp.rotation``; ``adapters.kms_sealer`` in AWS,
    ``adapters.file_sealer`` locally). ``context`` (the charge point id) is bound to the ciphertext
    (KMS encryption context / AES-GCM associated data): a value copied to another charger's call
    does not open."""

    def seal(self, plaintext: str, context: str) -> str:
        """An opaque ASCII token starting with ``sealed:``."""

    def open(self, token: str, context: str) -> str:
        """The plaintext; raises ``csms.ocpp.rotation.SealError``."""


class PendingKeys(Protocol):
    """The charger's pending AuthorizationKey hash during a rotation (``adapters.dynamo.rotation``)."""

    def set_pending(self, charge_point_id: str, password_hash: str, call_id: str) -> bool:
        """Store the new key's hash as pending for call ``call_id``; False: no such charger."""

    def drop_pending(self, charge_point_id: str, call_id: str) -> bool:
        """Forget the pending hash if it is still the one of ``call_id``."""

    def promote_pending(self, charge_point_id: str) -> bool:
        """Make the pending hash the current one (the old key stops working)."""


class FailureStore(Protocol):
    """Handshake failure counters (``csms.ocpp.lockout``; the keys table's ``authfail#`` items)."""

    def read(self, keys: list[str], now: datetime) -> dict[str, FailureCount]:
        """The live (unexpired) counters among ``keys``; absent keys are missing from the result."""

    def add(self, key: str, now: datetime, source: str | None, forget_after: timedelta) -> int:
        """Count one failure (a counter older than ``forget_after`` restarts at 1); returns the count
        after it, from the atomic update itself (concurrent failures each get their own number)."""

    def clear(self, key: str) -> None: ...


class IdTagAuthority(Protocol):
    """Who answers an idTag (``csms.authorization.service.Authorization``; None in ``CentralSystem``:
    every idTag is Accepted, the platform's default policy)."""

    def id_tag_info(self, charge_point_id: str, id_tag: str, at: datetime) -> dict[str, Any]:
        """The IdTagInfo (OCPP 1.6 section 7.1): ``{"status": "Accepted"|"Blocked"|"Expired"|"Invalid",
        "expiryDate"?, "parentIdTag"?}``."""

    def reservation_used(self, charge_point_id: str, reservation_id: int, transaction_id: int, at: datetime) -> None:
        """A StartTransaction with ``reservationId`` started ``transaction_id``: the reservation is over."""


class FrameStore(Protocol):
    """The frame log's storage (issue 22, ``csms.ocpp.frame_log``): frames per charger, newest
    first, each kept ``csms.ocpp.frame_log.RETENTION``; and the per-charger switch (AWS opt-in)."""

    def add(self, frame: "LoggedFrame") -> None:
        """One write; no read."""

    def page(self, charge_point_id: str, limit: int, cursor: str | None = None, search: str | None = None,
             direction: str | None = None, after: datetime | None = None) -> tuple[list["LoggedFrame"], str | None]:
        """At most ``limit`` frames, newest first (only those after ``after`` when given), whose text
        contains ``search`` (case-sensitive) and whose direction is ``direction`` when given; the
        cursor of the next page, None at the end. Raises ValueError for a cursor it did not hand out."""

    def switch(self, charge_point_id: str, until: datetime | None, now: datetime) -> bool:
        """Log the charger's frames until ``until`` (None: off) and have its current connection
        closed by the sweeper now, so that the next one carries the switch. False: unknown charger."""

    def switched_until(self, charge_point_id: str) -> datetime | None:
        """Until when the charger's frames are logged (None: off)."""
