"""In-memory implementations of every port (``csms.ocpp.ports``, ``csms.views.ports``,
``csms.charging.ports``): the same contracts as the DynamoDB adapters, for unit tests without moto
and for benchmarking the handler without storage latency. Not shipped: the Lambda package is
``csms``, ``adapters`` and ``handlers`` only (infra/constants.py SOURCE_PACKAGES). mypy checks
that each fake satisfies its ports (the ``TYPE_CHECKING`` block at the end)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from csms.charging.planner import DemandEvent
from csms.model import ReviewItem, Session

# The fakes live in tests/memory/ by role; every test imports them from here.
from tests.memory.calls import MemoryCallQueue, MemoryFailures, MemoryPendingKeys, MemoryPoster
from tests.memory.chargers import MemoryChargers, MemoryDriverLinks
from tests.memory.stores import page_of
from tests.memory.stores import (MemoryConnectors, MemoryEvents, MemoryMeter, MemoryReview, MemorySessions,
                                 MemorySignals)

__all__ = ["MemoryCallQueue", "MemoryChargers", "MemoryConnectors", "MemoryDriverLinks", "MemoryEvents", "MemoryFailures",
           "MemoryMeter", "MemoryPendingKeys", "MemoryPoster", "MemoryReview", "MemorySessions", "MemorySignals"]


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


# Fakes added by the feature issues (16, 17, 22), after the split into tests/memory/
class MemorySecurityEvents:
    """``csms.ocpp.ports.SecurityEventLog`` in memory (issue 17)."""

    def __init__(self):
        self.items: dict[str, list[ReviewItem]] = {}

    def add(self, item: ReviewItem) -> None:
        self.items.setdefault(item.charge_point_id, []).append(item)

    def latest(self, charge_point_id: str, limit: int) -> list[ReviewItem]:
        return sorted(self.items.get(charge_point_id, ()), key=lambda i: i.at, reverse=True)[:limit]


class MemoryActiveShards:
    """``csms.charging.ports.ActiveShards`` over ``MemorySessions``: the active sessions in 16 shards by
    the same stable hash as the DynamoDB index (``adapters.dynamo.indexes.shard_of``), paged."""

    def __init__(self, sessions: MemorySessions, shards: int = 16) -> None:
        self.sessions, self.count = sessions, shards
        self.pages_read = 0

    def shards(self) -> list[str]:
        return [str(i) for i in range(self.count)]

    def shard_of(self, charge_point_id: str) -> str:
        import hashlib

        return str(int.from_bytes(hashlib.sha256(charge_point_id.encode()).digest()[:4], "big") % self.count)

    def page(self, shard: str, limit: int, cursor: str | None = None) -> tuple[list[Session], str | None]:
        self.pages_read += 1
        rows = [s for s in self.sessions.all_active() if self.shard_of(s.charge_point_id) == shard]
        return page_of(rows, lambda s: f"{s.charge_point_id}#{s.transaction_id}", limit, cursor)


class MemoryWorkQueue:
    """``csms.charging.ports.WorkQueue`` that keeps what was put; ``fail`` makes the next puts raise
    (a throttled SQS)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.puts = 0
        self.fail = 0

    def put(self, bodies: list[dict]) -> int:
        self.puts += 1
        if self.fail:
            self.fail -= 1
            raise RuntimeError("queue unavailable")
        self.bodies.extend(bodies)
        return len(bodies)


class MemoryAuthorization:
    """``csms.authorization.ports.AuthorizationStore`` in memory; ``lookups`` counts ``lookup`` calls
    (the one read request per answer the DynamoDB store makes)."""

    def __init__(self) -> None:
        from csms.authorization.model import IdTag, Policy, Reservation

        self.policies: dict[str, Policy] = {}
        self.id_tags: dict[str, IdTag] = {}
        self.booked: dict[tuple[str, int], Reservation] = {}
        self.counter = 0
        self.lookups = 0

    def lookup(self, charge_point_id: str, id_tag: str):
        self.lookups += 1
        return self.policies.get(charge_point_id), self.id_tags.get(id_tag)

    def policy(self, charge_point_id: str):
        return self.policies.get(charge_point_id)

    def set_policy(self, charge_point_id: str, policy) -> None:
        self.policies[charge_point_id] = policy

    def get_tag(self, id_tag: str):
        return self.id_tags.get(id_tag)

    def put_tag(self, tag) -> None:
        self.id_tags[tag.id_tag] = tag

    def delete_tag(self, id_tag: str) -> bool:
        return self.id_tags.pop(id_tag, None) is not None

    def tags(self):
        return sorted(self.id_tags.values(), key=lambda t: t.id_tag)

    def next_reservation_id(self) -> int:
        self.counter += 1
        return self.counter

    def put_reservation(self, reservation) -> None:
        self.booked[(reservation.charge_point_id, reservation.reservation_id)] = reservation

    def reservation(self, charge_point_id: str, reservation_id: int):
        return self.booked.get((charge_point_id, reservation_id))

    def reservations(self, charge_point_id: str):
        return sorted((r for (cp, _), r in self.booked.items() if cp == charge_point_id),
                      key=lambda r: r.reservation_id, reverse=True)


if TYPE_CHECKING:
    from csms.authorization.ports import AuthorizationStore

    _authorization: AuthorizationStore = MemoryAuthorization()


import json  # noqa: E402  (issue 18's fake; kept beside it so parallel branches merge cheaply)


class MemoryOnboarding:
    """In-memory ``csms.onboarding.ports`` FactSource, CheckStore and ModelVerdicts over the other
    fakes (issue 18)."""

    def __init__(self, chargers: MemoryChargers, connectors: MemoryConnectors, sessions: MemorySessions,
                 meter: MemoryMeter, calls: MemoryCallQueue, review: MemoryReview,
                 heartbeat_interval_s: int = 300) -> None:
        self.charger_items, self.connectors, self.sessions = chargers, connectors, sessions
        self.meter, self.calls, self.review = meter, calls, review
        self.heartbeat_interval_s = heartbeat_interval_s
        self.checks: dict[str, dict] = {}
        self.verdicts: dict[tuple[str, str], dict[str, dict]] = {}

    def facts(self, charge_point_id: str, now: datetime, since: datetime | None = None):
        from csms.onboarding.facts import ChargerFacts

        item = self.charger_items.items.get(charge_point_id)
        if item is None:
            return None
        connectors = tuple(self.connectors.list(charge_point_id))
        samples = [s for (cp, _, _, _), s in self.meter.items.items() if cp == charge_point_id
                   and (since is None or s.timestamp >= since)]
        samples.sort(key=lambda s: (s.timestamp, s.source))
        sessions = sorted((s for (cp, _), s in self.sessions.items.items() if cp == charge_point_id),
                          key=lambda s: -s.transaction_id)[:5]
        return ChargerFacts(
            charge_point_id=charge_point_id, now=now, online=bool(item["online"]), last_seen=item["last_seen"],
            boot=item["boot"], boot_at=item["boot_at"], security=item.get("security"),
            security_profile=int(item.get("security_profile", 2)), capabilities=dict(item["capabilities"]),
            firmware_status=item["firmware_status"], firmware_history=tuple(item["firmware_history"]),
            heartbeat_interval_s=self.heartbeat_interval_s, connectors=connectors, sessions=tuple(sessions),
            samples=tuple(samples[-240:]), outcomes=tuple(o for o in self.calls.outcomes(charge_point_id)[-200:]
                                                          if since is None or o.at >= since),
            review=tuple(self.review.list(charge_point_id)[-50:]) if since is None else (),
            check=self.load_check(charge_point_id))

    def load_check(self, charge_point_id: str) -> dict | None:
        stored = self.checks.get(charge_point_id)
        return json.loads(json.dumps(stored)) if stored is not None else None

    def save_check(self, charge_point_id: str, check: dict, expected_version: int | None) -> bool:
        current = self.checks.get(charge_point_id)
        if (current is None) != (expected_version is None) or (current is not None and current["version"] != expected_version):
            return False
        self.checks[charge_point_id] = json.loads(json.dumps(check))
        return True

    def record(self, vendor: str, model: str, firmware: str | None, charge_point_id: str,
               summary: dict[str, str], at: datetime) -> None:
        self.verdicts.setdefault((vendor, model), {})[charge_point_id] = {
            "charger": charge_point_id, "firmware": firmware, "summary": dict(summary), "at": at.isoformat()}

    def models(self) -> list[tuple[str, str]]:
        return sorted(self.verdicts)

    def chargers(self, vendor: str, model: str) -> list[dict]:
        return list(self.verdicts.get((vendor, model), {}).values())


# ----------------------------------------------------------------- sites and targeted events (issue 16)
from csms.charging.groups import FLEET, EventTarget, GridEvent  # noqa: E402
from csms.charging.sites import Site  # noqa: E402


class MemorySites:
    """In-memory ``csms.charging.ports.SiteStore``; ``shards``: how many shards the limited sites
    are listed in (as the active sessions: ``MemoryActiveShards``)."""

    def __init__(self, shards: int = 16) -> None:
        self.shards = shards
        self.limited_pages = 0  # ``limited`` calls (one Query each in DynamoDB)
        self.sites: dict[str, Site] = {}
        self.site_of_charger: dict[str, str] = {}
        self.claims: dict[str, datetime] = {}
        self.again: set[str] = set()
        self.marks: dict[str, str] = {}

    def put(self, site: Site, replace: bool = True) -> bool:
        created = site.site_id not in self.sites
        if created or replace:
            self.sites[site.site_id] = site
        return created

    def get(self, site_id: str) -> Site | None:
        return self.sites.get(site_id)

    def listed(self) -> list[Site]:
        return [self.sites[k] for k in sorted(self.sites)]

    def delete(self, site_id: str) -> bool:
        if self.sites.pop(site_id, None) is None:
            return False
        for cp in self.members(site_id):
            del self.site_of_charger[cp]
        return True

    def assign(self, site_id: str, charge_point_id: str) -> str | None:
        if site_id not in self.sites:
            raise LookupError(f"no site {site_id}")
        previous = self.site_of_charger.get(charge_point_id)
        if previous != site_id:
            self.marks.pop(charge_point_id, None)
        self.site_of_charger[charge_point_id] = site_id
        return previous

    def unassign(self, charge_point_id: str) -> str | None:
        self.marks.pop(charge_point_id, None)
        return self.site_of_charger.pop(charge_point_id, None)

    def members(self, site_id: str) -> list[str]:
        return sorted(cp for cp, s in self.site_of_charger.items() if s == site_id)

    def site_of(self, charge_point_id: str) -> Site | None:
        site_id = self.site_of_charger.get(charge_point_id)
        return self.sites.get(site_id) if site_id else None

    def defaults(self, site_id: str) -> dict[str, str | None]:
        return {cp: self.marks.get(cp) for cp in self.members(site_id)}

    def mark_default(self, site_id: str, charge_point_id: str, value: str) -> None:
        if self.site_of_charger.get(charge_point_id) == site_id:
            self.marks[charge_point_id] = value

    def sites_of(self, charge_point_ids: list[str]) -> dict[str, Site | None]:
        return {cp: self.site_of(cp) for cp in charge_point_ids}

    def in_region(self, region: str) -> list[Site]:
        return [s for s in self.listed() if s.region == region]

    def limited(self, shard: str, limit: int, after: str | None = None) -> tuple[list[Site], str | None]:
        import hashlib

        self.limited_pages += 1
        rows = [s for _, s in sorted(self.sites.items()) if s.connection_kw() is not None
                and (after is None or s.site_id > after)
                and str(int.from_bytes(hashlib.sha256(s.site_id.encode()).digest()[:4], "big") % self.shards) == shard]
        return rows[:limit], (rows[limit - 1].site_id if len(rows) > limit else None)

    def claim_replan(self, key: str, until: datetime, now: datetime) -> bool:
        held = self.claims.get(key)
        if held is not None and held > now:
            self.again.add(key)
            return False
        self.claims[key] = until
        self.again.discard(key)
        return True

    def release_replan(self, key: str) -> bool:
        if key in self.again:
            self.again.discard(key)
            return True
        self.claims.pop(key, None)
        return False


class MemoryGridEvents(MemoryEvents):
    """In-memory ``EventStore`` + ``TargetedEvents``: ``active`` is the fleet-wide events only."""

    def __init__(self) -> None:
        super().__init__()
        self.targeted: dict[str, GridEvent] = {}

    def add_targeted(self, start: datetime, end: datetime, *, cap_kw: float | None, reduction_kw: float | None,
                     target: EventTarget, group_capacity_kw: float | None = None,
                     group_chargers: int | None = None) -> str:
        event_id = f"{start:%Y%m%dT%H%MZ}-{next(self._ids):08d}"
        self.targeted[event_id] = GridEvent(event_id, start, end, cap_kw, reduction_kw, target, False,
                                            group_capacity_kw, group_chargers)
        return event_id

    def cancel(self, event_id: str) -> bool:
        if event_id in self.targeted:
            self.targeted[event_id] = replace(self.targeted[event_id], cancelled=True)
            return True
        return super().cancel(event_id)

    def grid_events(self, now: datetime) -> list[GridEvent]:
        """As ``DynamoGridEvents``: the targeted events and the plain ``add``ed ones (fleet-wide caps)."""
        plain = {i: GridEvent(i, e.start, e.end, e.cap_kw, None, EventTarget(FLEET), c) for i, (e, c) in self.items.items()}
        return [e for _, e in sorted({**plain, **self.targeted}.items()) if e.end > now]

    def active(self, now: datetime) -> list[DemandEvent]:
        return super().active(now) + [DemandEvent(e.start, e.end, float(e.cap_kw)) for e in self.grid_events(now)
                                      if not e.cancelled and e.target.kind == FLEET and e.cap_kw is not None]


if TYPE_CHECKING:
    from csms.charging.ports import SiteStore, TargetedEvents

    _site_store: SiteStore = MemorySites()
    _targeted: TargetedEvents = MemoryGridEvents()


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
from tests.memory.run_ledger import MemoryRunLedger  # noqa: E402,F401  (issue 16: the fleet run's event ledger)
from tests.memory.allowances import MemoryAllowances  # noqa: E402,F401  (issue 16: large events' allowances)
