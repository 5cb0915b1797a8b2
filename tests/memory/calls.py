"""In-memory call queue, connection poster, pending AuthorizationKeys and handshake failure counters."""

from __future__ import annotations

import builtins
import threading
from dataclasses import replace
from datetime import datetime, timedelta

from csms.ocpp.commands import CallOutcome, Outstanding, PendingCall
from csms.ocpp.lockout import FORGET_AFTER, FailureCount
from tests.memory.chargers import MemoryChargers


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

    def add(self, key: str, now: datetime, source: str | None, forget_after: timedelta) -> int:
        old = self.items.get(key)
        if old is None or now - old.last_at >= forget_after:
            self.items[key] = FailureCount(1, now, now, source)
        else:
            self.items[key] = FailureCount(old.count + 1, old.first_at, now, source)
        return self.items[key].count

    def clear(self, key: str) -> None:
        self.items.pop(key, None)
