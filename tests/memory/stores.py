"""In-memory connectors, sessions, meter samples, review items, signals and grid-demand events."""

from __future__ import annotations

import builtins
import copy
import itertools
import threading
from dataclasses import replace
from datetime import datetime
from typing import Iterable

from csms.charging.planner import DemandEvent
from csms.charging.signals import SignalRow, to_signals
from csms.charging.tariff import Signals
from csms.model import ConnectorStatus, MeterSample, ReviewItem, Session
from csms.ocpp.quirks import FUTURE_TOLERANCE


def page_of(rows: list, key, limit: int, cursor: str | None) -> tuple[list, str | None]:
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
        return page_of(newest_first, lambda x: x.transaction_id, limit, cursor)

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
