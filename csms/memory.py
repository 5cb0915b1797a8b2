"""In-memory repositories: the same contracts as the DynamoDB adapters, for unit
tests and for benchmarking the handler without storage latency."""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Iterable

from csms.model import BootInfo, ChargerAuth, ChargerView, ConnectorStatus, MeterSample, ReviewItem, Session
from csms.ports import AlreadyExists


class MemoryChargers:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def register(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        if charge_point_id in self.items:
            raise AlreadyExists(charge_point_id)
        self.items[charge_point_id] = {"hash": password_hash, "enabled": True, "online": False,
                                       "connection_id": None, "last_seen": None, "boot": None,
                                       "firmware_status": None, "diagnostics_status": None}

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
        return ChargerAuth(charge_point_id, item["hash"], item["enabled"], item.get("failures", 0),
                           item.get("failures_since"), item.get("security_profile", 2),
                           frozenset(item.get("revoked", ())))

    def record_auth_failure(self, charge_point_id: str, at: datetime, window: timedelta) -> None:
        item = self.items.get(charge_point_id)
        if item is None:
            return
        since = item.get("failures_since")
        if since is not None and since > at - window:
            item["failures"] = item.get("failures", 0) + 1
        else:
            item.update(failures=1, failures_since=at)

    def connect(self, charge_point_id: str, connection_id: str, at: datetime, security=None) -> bool:
        item = self.items.get(charge_point_id)
        if item is None:
            return False
        item.update(connection_id=connection_id, online=True, last_seen=at)
        if security is not None:
            from csms.certificates import security_record

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

    def revoke(self, charge_point_id: str, keys) -> bool:
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

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id].update(boot=boot, last_seen=at)

    def touch(self, charge_point_id: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["last_seen"] = at

    def record_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["firmware_status"] = status

    def record_diagnostics_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["diagnostics_status"] = status

    def get(self, charge_point_id: str) -> ChargerView | None:
        item = self.items.get(charge_point_id)
        if item is None:
            return None
        return ChargerView(charge_point_id, item["online"], item["connection_id"], item["last_seen"], item["boot"],
                           (), item["firmware_status"], item["diagnostics_status"],
                           security_profile=item.get("security_profile", 2), security=item.get("security"),
                           certificate=item.get("certificate"), security_events=tuple(item.get("security_events", ())))

    def list(self) -> list[ChargerView]:
        return [self.get(cp) for cp in sorted(self.items)]


class MemoryConnectors:
    def __init__(self) -> None:
        self.items: dict[tuple[str, int], ConnectorStatus] = {}

    def record_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        key = (charge_point_id, status.connector_id)
        current = self.items.get(key)
        if current is not None and current.timestamp > status.timestamp:
            return False
        self.items[key] = status
        return True

    def list(self, charge_point_id: str) -> list[ConnectorStatus]:
        return [s for (cp, _), s in sorted(self.items.items()) if cp == charge_point_id]


class MemorySessions:
    def __init__(self) -> None:
        self.items: dict[tuple[str, int], Session] = {}
        self.start_keys: dict[str, int] = {}
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

    def list(self, charge_point_id: str) -> list[Session]:
        return [copy.deepcopy(s) for (cp, _), s in sorted(self.items.items()) if cp == charge_point_id]

    def save_stop(self, session: Session) -> None:
        self.items[(session.charge_point_id, session.transaction_id)] = copy.deepcopy(session)


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

    def for_transaction(self, charge_point_id: str, connector_id: int, transaction_id: int) -> list[MeterSample]:
        return [s for s in self._stream(charge_point_id, connector_id) if s.transaction_id == transaction_id]

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
    """In-memory ``csms.commands.CallQueue`` with the same slot semantics."""

    def __init__(self) -> None:
        self.queue: dict[str, dict[str, "PendingCall"]] = {}
        self.slots: dict[str, "Outstanding"] = {}
        self.results: list["CallOutcome"] = []
        self._lock = threading.Lock()

    def add(self, call) -> None:
        self.queue.setdefault(call.charge_point_id, {})[call.seq] = call

    def oldest(self, charge_point_id):
        items = self.queue.get(charge_point_id) or {}
        return items[min(items)] if items else None

    def queued(self, charge_point_id):
        items = self.queue.get(charge_point_id) or {}
        return [items[k] for k in sorted(items)]

    def remove(self, call) -> None:
        (self.queue.get(call.charge_point_id) or {}).pop(call.seq, None)

    def claim(self, call, connection_id, now, deadline) -> bool:
        from csms.commands import Outstanding

        with self._lock:
            held = self.slots.get(call.charge_point_id)
            if held is not None and held.deadline >= now:
                return False
            self.slots[call.charge_point_id] = Outstanding(call, connection_id, deadline)
            return True

    def outstanding(self, charge_point_id):
        return self.slots.get(charge_point_id)

    def release(self, charge_point_id, unique_id) -> bool:
        with self._lock:
            held = self.slots.get(charge_point_id)
            if held is None or held.call.unique_id != unique_id:
                return False
            del self.slots[charge_point_id]
            return True

    def record(self, outcome) -> None:
        self.results.append(outcome)

    def outcomes(self, charge_point_id):
        return [o for o in self.results if o.charge_point_id == charge_point_id]

    def chargers_with_work(self):
        return sorted({cp for cp, items in self.queue.items() if items} | set(self.slots))


class MemoryLink:
    """In-memory ``csms.commands.ChargerLink``."""

    def __init__(self) -> None:
        self.current: dict[str, str | None] = {}
        self.set_up: dict[str, str] = {}
        self.caps: dict[str, dict[str, str]] = {}
        self.hashes: dict[str, str] = {}

    def set_password_hash(self, charge_point_id, password_hash) -> bool:
        self.hashes[charge_point_id] = password_hash
        return True

    def connection(self, charge_point_id):
        return self.current.get(charge_point_id), self.set_up.get(charge_point_id), None

    def mark_setup(self, charge_point_id, connection_id) -> bool:
        if self.set_up.get(charge_point_id) == connection_id:
            return False
        self.set_up[charge_point_id] = connection_id
        return True

    def mark_stale(self, charge_point_id, connection_id) -> None:
        if self.current.get(charge_point_id) == connection_id:
            self.current[charge_point_id] = None

    def record_capabilities(self, charge_point_id, values) -> None:
        self.caps.setdefault(charge_point_id, {}).update(values)

    def capabilities(self, charge_point_id):
        return dict(self.caps.get(charge_point_id, {}))


class MemoryPoster:
    """Records frames per connection; connections in ``gone`` answer 410."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.gone: set[str] = set()

    def post(self, connection_id: str, frame: str) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, frame))
        return True
