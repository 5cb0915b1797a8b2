"""In-memory implementations of every port (``csms.ocpp.ports``, ``csms.views.ports``,
``csms.charging.ports``): the same contracts as the DynamoDB adapters, for unit tests without moto
and for benchmarking the handler without storage latency. Not shipped: the Lambda package is
``csms``, ``adapters`` and ``handlers`` only (infra/constants.py SOURCE_PACKAGES). mypy checks
that each fake satisfies its ports (the ``TYPE_CHECKING`` block at the end)."""

from __future__ import annotations

import builtins
import copy
import itertools
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterable

from csms.charging.planner import DemandEvent
from csms.charging.signals import SignalRow, to_signals
from csms.charging.tariff import Signals
from csms.model import (BootInfo, ChargerAuth, ChargerView, ConnectorStatus, MeterSample, Preference, ReviewItem,
                        Session)
from csms.ocpp.certificates import ConnectionSecurity, security_record
from csms.ocpp.commands import CallOutcome, Outstanding, PendingCall
from csms.ocpp.lockout import FORGET_AFTER, FailureCount
from csms.ocpp.ports import AlreadyExists, SetupClaim
from csms.ocpp.quirks import FUTURE_TOLERANCE
from csms.views.driver_links import LinkPeriod


class MemoryChargers:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def register(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        if charge_point_id in self.items:
            raise AlreadyExists(charge_point_id)
        self.items[charge_point_id] = {"hash": password_hash, "enabled": True, "online": False,
                                       "connection_id": None, "last_seen": None, "boot": None, "boot_at": None,
                                       "firmware_status": None, "diagnostics_status": None, "driver": None,
                                       "setup_connection_id": None, "capabilities": {}, "preference": Preference(),
                                       "firmware_history": []}

    def set_password_hash(self, charge_point_id: str, password_hash: str) -> bool:
        if charge_point_id not in self.items:
            return False
        self.items[charge_point_id]["hash"] = password_hash
        return True

    def delete(self, charge_point_id: str) -> bool:
        return self.items.pop(charge_point_id, None) is not None

    def get_auth(self, charge_point_id: str) -> ChargerAuth | None:
        item = self.items.get(charge_point_id)
        if not item:
            return None
        return ChargerAuth(charge_point_id, item["hash"], item["enabled"], bool(item.get("legacy_handshake")),
                           item.get("pending_hash"), item.get("security_profile", 2),
                           frozenset(item.get("revoked", ())))

    def set_legacy_handshake(self, charge_point_id: str, legacy: bool) -> bool:
        item = self.items.get(charge_point_id)
        if item is None:
            return False
        item["legacy_handshake"] = legacy
        return True

    def connect(self, charge_point_id: str, connection_id: str, at: datetime,
                security: ConnectionSecurity | None = None) -> bool:
        item = self.items.get(charge_point_id)
        if item is None:
            return False
        item.update(connection_id=connection_id, online=True, last_seen=at)
        if security is not None:
            item["security"], certificate = security_record(security, at)
            if certificate is not None:
                item.update(certificate=certificate, security_profile=security.profile)
        return True

    def set_security_profile(self, charge_point_id: str, profile: int) -> bool:
        item = self.items.get(charge_point_id)
        if item is None or item.get("security_profile", 2) > profile:
            return False
        item["security_profile"] = profile
        return True

    def record_security_event(self, charge_point_id: str, event: dict, keep: int) -> None:
        item = self.items.get(charge_point_id)
        if item is not None:
            item["security_events"] = (list(item.get("security_events", ())) + [event])[-keep:]

    def revoke(self, charge_point_id: str, keys: Iterable[str]) -> bool:
        item = self.items.get(charge_point_id)
        if item is None:
            return False
        item["revoked"] = set(item.get("revoked", ())) | set(keys)
        return True

    def disconnect(self, charge_point_id: str, connection_id: str, at: datetime) -> bool:
        item = self.items.get(charge_point_id)
        if item is None or item["connection_id"] != connection_id:
            return False
        item.update(online=False, connection_id=None)
        return True

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> dict[str, str] | None:
        if charge_point_id in self.items:
            self.items[charge_point_id].update(boot=boot, boot_at=at, last_seen=at)
            return dict(self.items[charge_point_id]["capabilities"])
        return None

    def touch(self, charge_point_id: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["last_seen"] = at

    def record_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["firmware_status"] = status
            self.items[charge_point_id]["firmware_history"].append(f"{at.isoformat()} {status}")

    def record_diagnostics_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["diagnostics_status"] = status

    def get(self, charge_point_id: str) -> ChargerView | None:
        item = self.items.get(charge_point_id)
        if item is None:
            return None
        return ChargerView(charge_point_id, item["online"], item["connection_id"], item["last_seen"], item["boot"],
                           (), item["firmware_status"], item["diagnostics_status"], item["driver"],
                           security_profile=item.get("security_profile", 2), security=item.get("security"),
                           certificate=item.get("certificate"), security_events=tuple(item.get("security_events", ())))

    # ChargerLink: what the outbound call queue needs
    def connection(self, charge_point_id: str) -> tuple[str | None, str | None, datetime | None]:
        item = self.items.get(charge_point_id)
        if item is None:
            return None, None, None
        return (item["connection_id"] if item["online"] else None), item["setup_connection_id"], item["boot_at"]

    def mark_setup(self, charge_point_id: str, connection_id: str) -> bool:
        item = self.items.get(charge_point_id)
        if item is None or item["setup_connection_id"] == connection_id:
            return False
        item["setup_connection_id"] = connection_id
        return True

    def mark_stale(self, charge_point_id: str, connection_id: str) -> None:
        item = self.items.get(charge_point_id)
        if item is not None and item["connection_id"] == connection_id:
            item.update(online=False, connection_id=None)

    def claim_setup(self, charge_point_id: str, connection_id: str) -> SetupClaim | None:
        item = self.items.get(charge_point_id)
        if item is None or not item["online"] or item["connection_id"] != connection_id:
            return None
        pending = item.get("setup_pump") == connection_id  # set-up calls a BootNotification queued, to send
        if item["setup_connection_id"] == connection_id and not pending:
            return None
        item["setup_connection_id"] = connection_id
        item["setup_pump"] = None
        return SetupClaim(pending, item["boot_at"], item.get("setup_version"))

    def boot_setup(self, charge_point_id: str, connection_id: str, version: str) -> str | None:
        item = self.items.get(charge_point_id)
        if item is None:
            return None
        old = item.get("setup_version")
        item["setup_connection_id"] = connection_id
        if old != version:
            item.update(setup_version=version, setup_pump=connection_id)
        return old

    def record_capabilities(self, charge_point_id: str, values: dict[str, str]) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["capabilities"].update({k: str(v)[:500] for k, v in values.items()})

    def capabilities(self, charge_point_id: str) -> dict[str, str]:
        item = self.items.get(charge_point_id)
        return dict(item["capabilities"]) if item else {}

    # ChargerDirectory: what operators and drivers arrange
    def of_driver(self, driver: str) -> list[ChargerView]:
        return [v for v in self.list() if v.driver == driver]

    def set_driver(self, charge_point_id: str, driver: str | None) -> bool:
        if charge_point_id not in self.items:
            return False
        self.items[charge_point_id]["driver"] = driver
        return True

    def preference(self, charge_point_id: str) -> Preference:
        item = self.items.get(charge_point_id)
        return item["preference"] if item else Preference()

    def set_preference(self, charge_point_id: str, departure: datetime | None, energy_kwh: float | None,
                       charge_now: bool = False, carbon_price: float | None = None) -> bool:
        if charge_point_id not in self.items:
            return False
        self.items[charge_point_id]["preference"] = Preference(departure, energy_kwh, charge_now, carbon_price)
        return True

    def firmware_history(self, charge_point_id: str) -> list[str]:
        item = self.items.get(charge_point_id)
        return list(item["firmware_history"]) if item else []

    def count_online(self) -> int:
        return sum(1 for item in self.items.values() if item["online"])

    def list(self) -> list[ChargerView]:
        return [v for v in (self.get(cp) for cp in sorted(self.items)) if v is not None]

    def page(self, limit: int, cursor: str | None = None) -> tuple[builtins.list[ChargerView], str | None]:
        return _page(self.list(), lambda v: v.charge_point_id, limit, cursor)

    def page_of_driver(self, driver: str, limit: int, cursor: str | None = None) -> tuple[builtins.list[ChargerView], str | None]:
        return _page(self.of_driver(driver), lambda v: v.charge_point_id, limit, cursor)


def _page(rows: list, key, limit: int, cursor: str | None) -> tuple[list, str | None]:
    """The rows after the one whose ``key`` is ``cursor`` (rows in listing order), at most ``limit``,
    and the cursor after the last (None at the end), like the DynamoDB stores' pages."""
    keys = [str(key(r)) for r in rows]
    if cursor is not None and cursor not in keys:
        raise ValueError("cursor is not valid")
    start = keys.index(cursor) + 1 if cursor is not None else 0
    chosen = rows[start:start + limit]
    return chosen, (str(key(chosen[-1])) if chosen and start + limit < len(rows) else None)


class MemoryConnectors:
    def __init__(self) -> None:
        self.items: dict[tuple[str, int], ConnectorStatus] = {}

    def record_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        key = (charge_point_id, status.connector_id)
        current = self.items.get(key)
        # A stored stamp later than this receipt (beyond the tolerance) is a clock that ran ahead:
        # it never outranks a message received after it (csms.ocpp.quirks, issue 14).
        trusted = current is not None and current.timestamp <= status.received_at + FUTURE_TOLERANCE
        if current is not None and current.timestamp > status.timestamp and trusted:
            return False
        self.items[key] = status
        return True

    def list(self, charge_point_id: str) -> list[ConnectorStatus]:
        return [s for (cp, _), s in sorted(self.items.items()) if cp == charge_point_id]


class MemorySessions:
    def __init__(self) -> None:
        self.items: dict[tuple[str, int], Session] = {}
        self.start_keys: dict[str, int] = {}
        self.plans: dict[tuple[str, int], str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def find_by_start_key(self, start_key: str) -> int | None:
        return self.start_keys.get(start_key)

    def create(self, session_without_id: Session, start_key: str) -> int:
        with self._lock:
            if start_key in self.start_keys:
                return self.start_keys[start_key]
            transaction_id = next(self._ids)
            self.start_keys[start_key] = transaction_id
            self.items[(session_without_id.charge_point_id, transaction_id)] = replace(
                session_without_id, transaction_id=transaction_id, flags=list(session_without_id.flags)
            )
            return transaction_id

    def get(self, charge_point_id: str, transaction_id: int) -> Session | None:
        session = self.items.get((charge_point_id, transaction_id))
        return copy.deepcopy(session) if session else None

    def active(self, charge_point_id: str) -> list[Session]:
        return [copy.deepcopy(s) for (cp, _), s in sorted(self.items.items()) if cp == charge_point_id and s.active]

    def recent(self, charge_point_id: str, limit: int) -> list[Session]:
        return self.list(charge_point_id)[::-1][:limit]

    def list(self, charge_point_id: str) -> list[Session]:
        return [copy.deepcopy(s) for (cp, _), s in sorted(self.items.items()) if cp == charge_point_id]

    def page(self, charge_point_id: str, limit: int, cursor: str | None = None) -> tuple[builtins.list[Session], str | None]:
        newest_first = sorted(self.list(charge_point_id), key=lambda x: x.transaction_id, reverse=True)
        return _page(newest_first, lambda x: x.transaction_id, limit, cursor)

    def save_stop(self, session: Session) -> None:
        self.items[(session.charge_point_id, session.transaction_id)] = copy.deepcopy(session)

    def all_active(self) -> "builtins.list[Session]":
        return [copy.deepcopy(s) for _, s in sorted(self.items.items()) if s.active]

    def save_plan(self, charge_point_id: str, transaction_id: int, plan_json: str, digest: str) -> None:
        session = self.items.get((charge_point_id, transaction_id))
        if session is not None:
            self.plans[(charge_point_id, transaction_id)] = plan_json
            self.items[(charge_point_id, transaction_id)] = replace(session, plan_hash=digest)

    def plan_of(self, charge_point_id: str, transaction_id: int) -> str | None:
        return self.plans.get((charge_point_id, transaction_id))


class MemoryMeter:
    def __init__(self) -> None:
        self.items: dict[tuple[str, int, datetime, str], MeterSample] = {}

    def put(self, samples: Iterable[MeterSample]) -> None:
        for s in samples:
            self.items[(s.charge_point_id, s.connector_id, s.timestamp, s.source)] = s

    def _stream(self, charge_point_id: str, connector_id: int) -> list[MeterSample]:
        return sorted((s for (cp, c, _, _), s in self.items.items() if cp == charge_point_id and c == connector_id),
                      key=lambda s: (s.timestamp, s.source))

    def between(self, charge_point_id: str, connector_id: int, start: datetime, end: datetime | None) -> list[MeterSample]:
        return [s for s in self._stream(charge_point_id, connector_id)
                if s.timestamp >= start and (end is None or s.timestamp <= end)]

    def for_transaction(self, charge_point_id: str, connector_id: int, transaction_id: int,
                        start: datetime | None = None, stop: datetime | None = None) -> list[MeterSample]:
        return [s for s in self._stream(charge_point_id, connector_id) if s.transaction_id == transaction_id
                and (start is None or s.timestamp >= start) and (stop is None or s.timestamp <= stop)]

    def latest(self, charge_point_id: str, connector_id: int) -> MeterSample | None:
        stream = self._stream(charge_point_id, connector_id)
        return stream[-1] if stream else None


class MemoryReview:
    def __init__(self) -> None:
        self.items: list[ReviewItem] = []

    def add(self, item: ReviewItem) -> None:
        self.items.append(item)

    def list(self, charge_point_id: str) -> list[ReviewItem]:
        return [i for i in self.items if i.charge_point_id == charge_point_id]


class MemoryCallQueue:
    """In-memory ``csms.ocpp.ports.CallQueue`` with the same slot semantics."""

    def __init__(self) -> None:
        self.queue: dict[str, dict[str, PendingCall]] = {}
        self.slots: dict[str, Outstanding] = {}
        self.results: list[CallOutcome] = []
        self._lock = threading.Lock()

    def add(self, call: PendingCall) -> None:
        self.queue.setdefault(call.charge_point_id, {})[call.seq] = call

    def oldest(self, charge_point_id: str) -> PendingCall | None:
        items = self.queue.get(charge_point_id) or {}
        return items[min(items)] if items else None

    def queued(self, charge_point_id: str) -> list[PendingCall]:
        items = self.queue.get(charge_point_id) or {}
        return [items[k] for k in sorted(items)]

    def remove(self, call: PendingCall) -> None:
        (self.queue.get(call.charge_point_id) or {}).pop(call.seq, None)

    def redact(self, call: PendingCall, payload: dict) -> None:
        items = self.queue.get(call.charge_point_id) or {}
        if call.seq in items:
            items[call.seq] = replace(items[call.seq], payload=payload)
        held = self.slots.get(call.charge_point_id)
        if held is not None and held.call.unique_id == call.unique_id:
            self.slots[call.charge_point_id] = replace(held, call=replace(held.call, payload=payload))

    def claim(self, call: PendingCall, connection_id: str, now: datetime, deadline: datetime) -> bool:
        with self._lock:
            held = self.slots.get(call.charge_point_id)
            if held is not None and held.deadline >= now:
                return False
            self.slots[call.charge_point_id] = Outstanding(call, connection_id, deadline)
            return True

    def outstanding(self, charge_point_id: str) -> Outstanding | None:
        return self.slots.get(charge_point_id)

    def release(self, charge_point_id: str, unique_id: str) -> bool:
        with self._lock:
            held = self.slots.get(charge_point_id)
            if held is None or held.call.unique_id != unique_id:
                return False
            del self.slots[charge_point_id]
            return True

    def record(self, outcome: CallOutcome) -> None:
        self.results.append(outcome)

    def outcomes(self, charge_point_id: str) -> list[CallOutcome]:
        return [o for o in self.results if o.charge_point_id == charge_point_id]

    def chargers_with_work(self, now: datetime | None = None) -> list[str]:
        return sorted({cp for cp, items in self.queue.items() if items} | set(self.slots))


class MemorySignals:
    """In-memory ``csms.charging.ports.SignalStore``: a row's empty fields keep what is stored."""

    def __init__(self) -> None:
        self.by_start: dict[datetime, SignalRow] = {}

    def put(self, rows: Iterable[SignalRow], at: datetime) -> int:
        count = 0
        for row in rows:
            old = self.by_start.get(row.start)
            if old is not None:
                row = SignalRow(row.start, *(new if new is not None else kept for new, kept in
                                             zip((row.price_p_per_kwh, row.carbon_forecast, row.carbon_actual),
                                                 (old.price_p_per_kwh, old.carbon_forecast, old.carbon_actual))))
            self.by_start[row.start] = row
            count += 1
        return count

    def rows(self, start: datetime, end: datetime) -> list[SignalRow]:
        return [self.by_start[t] for t in sorted(self.by_start) if start <= t <= end]

    def window(self, start: datetime, end: datetime) -> Signals | None:
        return to_signals(self.rows(start, end))


class MemoryEvents:
    """In-memory ``csms.charging.ports.EventStore``."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[DemandEvent, bool]] = {}
        self._ids = itertools.count(1)

    def add(self, start: datetime, end: datetime, cap_kw: float) -> str:
        event_id = f"{start:%Y%m%dT%H%MZ}-{next(self._ids):08d}"
        self.items[event_id] = (DemandEvent(start, end, cap_kw), False)
        return event_id

    def cancel(self, event_id: str) -> bool:
        if event_id not in self.items:
            return False
        self.items[event_id] = (self.items[event_id][0], True)
        return True

    def listed(self, now: datetime) -> list[tuple[str, DemandEvent, bool]]:
        return [(i, e, c) for i, (e, c) in sorted(self.items.items()) if e.end > now]

    def active(self, now: datetime) -> list[DemandEvent]:
        return [e for _, e, c in self.listed(now) if not c]


class MemoryPoster:
    """Records frames per connection; connections in ``gone`` answer 410."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.gone: set[str] = set()
        self.closed: list[str] = []

    def post(self, connection_id: str, frame: str) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, frame))
        return True

    def close(self, connection_id: str) -> bool:
        if connection_id in self.gone:
            return False
        self.gone.add(connection_id)
        self.closed.append(connection_id)
        return True

class MemoryPendingKeys:
    """A rotation's pending AuthorizationKey hash on ``MemoryChargers`` items (``get_auth`` reads it)."""

    def __init__(self, chargers: MemoryChargers) -> None:
        self.chargers = chargers

    def set_pending(self, charge_point_id: str, password_hash: str, call_id: str) -> bool:
        item = self.chargers.items.get(charge_point_id)
        if item is None:
            return False
        item.update(pending_hash=password_hash, pending_call=call_id)
        return True

    def drop_pending(self, charge_point_id: str, call_id: str) -> bool:
        item = self.chargers.items.get(charge_point_id)
        if item is None or item.get("pending_call") != call_id:
            return False
        item.update(pending_hash=None, pending_call=None)
        return True

    def promote_pending(self, charge_point_id: str) -> bool:
        item = self.chargers.items.get(charge_point_id)
        if item is None or item.get("pending_hash") is None:
            return False
        item.update(hash=item["pending_hash"], pending_hash=None, pending_call=None)
        return True


class MemoryFailures:
    """Handshake failure counters (``csms.ocpp.lockout``), forgotten ``FORGET_AFTER`` after the last."""

    def __init__(self) -> None:
        self.items: dict[str, FailureCount] = {}

    def read(self, keys: builtins.list[str], now: datetime) -> dict[str, FailureCount]:
        return {k: self.items[k] for k in keys if k in self.items and now - self.items[k].last_at < FORGET_AFTER}

    def add(self, key: str, now: datetime, source: str | None, forget_after: timedelta) -> None:
        old = self.items.get(key)
        if old is None or now - old.last_at >= forget_after:
            self.items[key] = FailureCount(1, now, now, source)
        else:
            self.items[key] = FailureCount(old.count + 1, old.first_at, now, source)

    def clear(self, key: str) -> None:
        self.items.pop(key, None)


class MemoryDriverLinks:
    """Driver links as periods (``csms.views.driver_links``) over ``MemoryChargers``' ``driver``."""

    def __init__(self, chargers: MemoryChargers) -> None:
        self.chargers = chargers
        self.closed: dict[str, builtins.list[LinkPeriod]] = {}
        self.since: dict[str, datetime] = {}

    def link(self, charge_point_id: str, driver: str | None, at: datetime) -> bool:
        item = self.chargers.items.get(charge_point_id)
        if item is None:
            return False
        current = item.get("driver")
        if current is not None and current != driver:
            self.closed.setdefault(charge_point_id, []).append(
                LinkPeriod(current, self.since.get(charge_point_id, at), at))
        if driver is not None and driver != current:
            self.since[charge_point_id] = at
        return self.chargers.set_driver(charge_point_id, driver)

    def periods(self, charge_point_id: str) -> builtins.list[LinkPeriod]:
        out = builtins.list(self.closed.get(charge_point_id, []))
        driver = (self.chargers.items.get(charge_point_id) or {}).get("driver")
        if driver is not None:
            out.append(LinkPeriod(driver, self.since.get(charge_point_id, datetime.min.replace(tzinfo=timezone.utc))))
        return out


if TYPE_CHECKING:  # mypy: every fake satisfies the ports it stands in for
    from csms.charging.ports import EventStore, SignalStore
    from csms.ocpp.ports import (CallQueue, ChargerLink, ChargerRepository, ConnectionPoster, ConnectorRepository,
                                 FailureStore, MeterRepository, PendingKeys, ReviewLog, SessionRepository)
    from csms.operations import OperatorChargers
    from csms.views.ports import CallRecords, DriverLinks, ReviewReader, SessionHistory

    _chargers: ChargerRepository = MemoryChargers()
    _link: ChargerLink = MemoryChargers()
    _operator_chargers: OperatorChargers = MemoryChargers()
    _connectors: ConnectorRepository = MemoryConnectors()
    _sessions: SessionRepository = MemorySessions()
    _history: SessionHistory = MemorySessions()
    _meter: MeterRepository = MemoryMeter()
    _review: ReviewLog = MemoryReview()
    _review_reader: ReviewReader = MemoryReview()
    _queue: CallQueue = MemoryCallQueue()
    _records: CallRecords = MemoryCallQueue()
    _poster: ConnectionPoster = MemoryPoster()
    _signals: SignalStore = MemorySignals()
    _events: EventStore = MemoryEvents()
    _pending_keys: PendingKeys = MemoryPendingKeys(MemoryChargers())
    _failures: FailureStore = MemoryFailures()
    _links: DriverLinks = MemoryDriverLinks(MemoryChargers())


# ------------------------------------------------------------------ operator console (issue 22)
class MemoryFrameLog:
    """``csms.ocpp.ports.FrameStore`` in memory."""

    def __init__(self):
        from csms.ocpp.frame_log import LoggedFrame

        self.frames: list[LoggedFrame] = []
        self.until: dict[str, datetime] = {}
        self.closed: list[str] = []  # chargers whose connection was due to close at a switch

    def add(self, frame) -> None:
        self.frames.append(frame)

    def page(self, charge_point_id, limit, cursor=None, search=None, direction=None, after=None):
        rows = [f for f in reversed(self.frames) if f.charge_point_id == charge_point_id
                and (search is None or search in f.text) and (direction is None or f.direction == direction)
                and (after is None or f.at > after)]
        start = int(cursor or 0)
        if cursor is not None and not cursor.isdigit():
            raise ValueError("cursor is not valid")
        page = rows[start:start + limit]
        return page, str(start + limit) if start + limit < len(rows) else None

    def switch(self, charge_point_id, until, now) -> bool:
        if until is None:
            self.until.pop(charge_point_id, None)
        else:
            self.until[charge_point_id] = until
            self.closed.append(charge_point_id)
        return True

    def switched_until(self, charge_point_id):
        return self.until.get(charge_point_id)


if TYPE_CHECKING:
    from csms.ocpp.ports import FrameStore

    _frames: FrameStore = MemoryFrameLog()


class MemoryAlerts:
    """``csms.console.ports.AlertStore`` in memory."""

    def __init__(self):
        self.alerts: list = []
        self.checks: dict = {}

    def add(self, alert) -> None:
        self.alerts.append(alert)

    def recent(self, since, limit, kind=None, charge_point_id=None):
        rows = [a for a in reversed(self.alerts) if a.at >= since and kind in (None, a.kind)
                and charge_point_id in (None, a.charge_point_id)]
        return rows[:limit]

    def schedule(self, check) -> None:
        self.checks[(check.kind, check.charge_point_id, check.ref)] = check

    def due(self, now):
        return [c for c in self.checks.values() if c.due_at <= now]

    def done(self, check) -> None:
        self.checks.pop((check.kind, check.charge_point_id, check.ref), None)


if TYPE_CHECKING:
    from csms.console.ports import AlertStore

    _alerts: AlertStore = MemoryAlerts()
