"""The periodic fleet run, fanned out (issue 16): no function plans or sends the whole fleet.

Three steps, each a consumer of a queue (``csms.charging.ports.WorkQueue``; SQS in AWS, in process
locally), so each is bounded in time and memory whatever the fleet's size:

1. **dispatch** (every 15 minutes): per shard (16, ``adapters.dynamo.indexes``) a task of its
   chargers and a task of its limited sites (kind ``SITES``). It reads no session and no site: its
   cost is independent of the fleet's size. Only under the single-depot setting ``SITE_CAP_KW``
   (every vehicle of the deployment behind one connection) one ``FLEET`` task instead: those
   vehicles are one LP (``csms.charging.planner``), planned together as before.
2. **plan a page**: a charger task reads at most ``SHARD_PAGE`` active sessions of its shard (one
   page of the index; a fuller shard hands its next page on as a new task *before* planning, so
   pages plan in parallel), leaves out the vehicles on a limited site and plans the others each on
   its own (``csms.charging.scheduler.SmartScheduler``: sort-and-fill is exact when no limit is
   shared). A site task reads whole sites of its shard of the sparse limited-site list until they
   hold ``SHARD_PAGE`` chargers (handing its cursor on the same way) and plans each site under its
   limit as a plug-in re-plan does (``adapters.site_replan.plan_group``: the site's exact LP). Both
   queue a ``ProfileOrder`` per vehicle whose plan changed (``QueuedSink``) and write nothing else
   but the run's ledger under an event (below; a site task also sends its chargers' default shares
   when they changed): a task that fails is planned again from scratch.
3. **send**: post each order's SetChargingProfile through the platform's call queue
   (``csms.ocpp.commands.Commander``) and store the plan with its session (the "send only on change"
   hash). A failed send is retried from the queue with the *same* order: never re-planned.

A task or order older than ``STALE_AFTER`` (one period) is dropped: the next run has planned again.

At-least-once: a send retried after its call was queued may queue the same profile twice; the
charger replaces a profile of the same chargingProfileId and stackLevel (OCPP 1.6 section 3.13.2),
so the duplicate changes nothing. A shard task delivered twice queues its next page twice: the
later planning of a page finds the plans the earlier one sent unchanged (only a race sends a profile
twice, harmless as above). Messages that fail every delivery end in a dead-letter queue.

Grid-demand events: every task of a run with an active event carries the events' ids, and the
dispatcher opens the run's counter in the ledger first. Each task plans the vehicles an event covers
without it (stage 1: their sites' own limits only), records their load per slot and counts itself
done; the task that completes the count splits each event's cap into shares by that load and queues
one ``share`` task per unit (stage 2), which plans its vehicles again inside its share
(``csms.charging.event_shares``, ``adapters.fanout_events``). Shares add up to the cap, so the cap
holds without one LP of the event; every task stays a page. A task that never records (dropped as
stale, or dead-lettered) leaves the run's stage 2 unqueued: the covered vehicles keep their plans
until the next run. The ``FLEET`` task is only the
single-depot setting ``SITE_CAP_KW``: one LP of every plugged-in vehicle, fine for a depot, not for
100,000 vehicles.

Bounds behind the numbers (``bench/bench_fanout.py``, docs/scale.md): a shard page of 5,000
vehicles plans in tens of seconds and under 100 MiB; a profile order is ~0.5 KB.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Iterable

from csms.charging.defaults import whole_w
from csms.charging.ports import WorkQueue
from csms.timeutil import iso, parse_ts

if TYPE_CHECKING:  # annotations only (the scheduler imports numpy; the sender and dispatcher do not need it)
    from csms.charging.scheduler import Interval, PlugIn

log = logging.getLogger(__name__)

SHARD_PAGE = 5_000  # vehicles per planner message (bench_fleet: a 5,000-vehicle shard within Lambda's limits)
FLEET = "*"  # the task of a run where a shared limit couples every vehicle
SITES = "sites"  # the task kind of a shard of limited sites
TASK_KINDS = ("shard", SITES)
STALE_AFTER = timedelta(minutes=15)  # one period: an older task or order has been planned again since
SQS_BATCH = 10  # messages per SendMessageBatch


class BadMessage(ValueError):
    """A queue message that is not a task or order of this module (it goes to the dead-letter queue)."""


def _field(body: dict, name: str, kind: type):
    value = body.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadMessage(f"message field {name!r} is missing or not {kind.__name__}")
    return value


def _time(body: dict, name: str) -> datetime:
    try:
        return parse_ts(_field(body, name, str))
    except ValueError as exc:
        raise BadMessage(f"message field {name!r} is not an ISO 8601 time") from exc


@dataclass(frozen=True)
class ShardTask:
    """Plan one page of one shard: of the active-session index (``kind`` "shard": vehicles on no
    limited site, each on its own; ``FLEET``: every active session), or of the sparse list of sites
    with a limit (``kind`` "sites": whole sites, each under its limit; the cursor is the last site id
    planned before this page)."""

    shard: str
    run_at: datetime  # when the run was dispatched (UTC)
    cursor: str | None = None  # where the page starts (None: the shard's first page)
    kind: str = "shard"  # "shard" (chargers) or "sites" (limited sites)
    # the grid-demand events the run coordinates (``csms.charging.event_shares``: stage 1 of each)
    events: tuple[str, ...] = ()

    def body(self) -> dict:
        body = {"kind": self.kind, "shard": self.shard, "runAt": iso(self.run_at), "cursor": self.cursor}
        return {**body, "events": list(self.events)} if self.events else body

    @property
    def name(self) -> str:
        """The task's name in its run (kind, shard, where its page starts): unique in the run."""
        return f"{self.kind}:{self.shard}:{self.cursor or ''}"

    @classmethod
    def from_body(cls, body: dict) -> ShardTask:
        """Raises BadMessage."""
        if not isinstance(body, dict) or body.get("kind") not in TASK_KINDS:
            raise BadMessage("not a shard task")
        cursor = body.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise BadMessage("message field 'cursor' is not text")
        events = body.get("events", [])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise BadMessage("message field 'events' is not a list of event ids")
        return cls(_field(body, "shard", str), _time(body, "runAt"), cursor, body["kind"], tuple(events))

    def after(self, cursor: str) -> ShardTask:
        """The task of the next page (same shard, run, kind and events)."""
        return ShardTask(self.shard, self.run_at, cursor, self.kind, self.events)

    def stale(self, now: datetime) -> bool:
        return now - self.run_at > STALE_AFTER


@dataclass(frozen=True)
class ProfileOrder:
    """A changed plan to send: the vehicle's session, the planning time ``at`` (UTC; the profile's
    startSchedule) and the plan as (start, end, W) intervals from ``at``, with its hash."""

    charge_point_id: str
    connector_id: int
    transaction_id: int
    at: datetime
    plan: tuple[tuple[datetime, datetime, float], ...]
    digest: str
    previous: str | None = None  # the session's plan hash when planned ("" for none; None: not known)
    capped: bool = False  # planned under a shared limit: the profile is never raised above the plan

    def superseded(self, stored_hash: str | None) -> bool:
        """Whether another plan was stored for the session since this order was planned (a plug-in's
        re-plan of the site while the order waited in the queue): the stored hash is neither the one
        it was planned over nor its own (a retry of this order after its save). Sending it would put
        back a plan made without the newer vehicle, and the site's limit would not hold."""
        if self.previous is None:
            return False
        return (stored_hash or "") not in (self.previous, self.digest)

    def periods(self) -> list[tuple[int, float]]:
        """Profile periods: (seconds from ``at``, W), as ``csms.charging.scheduler.periods``."""
        return [(int((start - self.at).total_seconds()), whole_w(power_w)) for start, _, power_w in self.plan]

    def plan_json(self) -> str:
        """The plan as stored with the session (what the app shows)."""
        return json.dumps([[iso(a), iso(b), whole_w(w)] for a, b, w in self.plan])

    def stale(self, now: datetime) -> bool:
        return now - self.at > STALE_AFTER

    def body(self) -> dict:
        return {"kind": "profile", "chargePointId": self.charge_point_id, "connectorId": self.connector_id,
                "transactionId": self.transaction_id, "at": iso(self.at), "digest": self.digest,
                "plan": [[iso(a), iso(b), whole_w(w)] for a, b, w in self.plan], "previous": self.previous,
                "capped": self.capped}

    @classmethod
    def from_body(cls, body: dict) -> ProfileOrder:
        """Raises BadMessage."""
        if not isinstance(body, dict) or body.get("kind") != "profile":
            raise BadMessage("not a profile order")
        rows = _field(body, "plan", list)
        try:
            plan = tuple((parse_ts(a), parse_ts(b), float(w)) for a, b, w in rows)
        except (TypeError, ValueError) as exc:
            raise BadMessage("message field 'plan' is not a list of [start, end, W]") from exc
        if not plan:
            raise BadMessage("an order without a plan")
        previous = body.get("previous")
        if previous is not None and not isinstance(previous, str):
            raise BadMessage("message field 'previous' is not text")
        capped = body.get("capped", False)
        if not isinstance(capped, bool):
            raise BadMessage("message field 'capped' is not true or false")
        return cls(_field(body, "chargePointId", str), _field(body, "connectorId", int),
                   _field(body, "transactionId", int), _time(body, "at"), plan, _field(body, "digest", str), previous, capped)


class QueuedSink:
    """A ``PlanSink`` that queues each changed plan as a ``ProfileOrder`` (batched, ``flush``)
    instead of sending it: the sender sends it and stores it with the session (``saved`` is a no-op
    here), so a failed send is retried without planning again."""

    def __init__(self, queue: WorkQueue, batch: int = SQS_BATCH):
        self.queue, self.batch = queue, batch
        self._pending: list[dict] = []
        self.queued = 0

    def send(self, plug: PlugIn, plan: list[Interval], now: datetime) -> bool:
        from csms.charging.scheduler import plan_hash

        order = ProfileOrder(plug.charge_point_id, plug.connector_id, plug.transaction_id, now,
                             tuple((p.start, p.end, p.power_w) for p in plan), plan_hash(plan), plug.last_plan_hash or "",
                             plug.capped)
        self._pending.append(order.body())
        if len(self._pending) >= self.batch:
            self.flush()
        return True

    def saved(self, plug: PlugIn, plan: list[Interval], digest: str) -> None:
        """Stored by the sender once sent (``adapters.fanout.send_order``)."""

    def flush(self) -> int:
        """Queue what is pending; returns how many were queued by this call."""
        pending, self._pending = self._pending, []
        if pending:
            self.queue.put(pending)
            self.queued += len(pending)
        return len(pending)


def run_tasks(shards: Iterable[str], run_at: datetime, *, shared_limit: bool,
              events: tuple[str, ...] = ()) -> list[ShardTask]:
    """The run's first tasks: per shard one of its chargers and one of its limited sites (each
    carrying the ids of the grid-demand events the run coordinates), or the one ``FLEET`` task under
    the single-depot limit ``SITE_CAP_KW``."""
    if shared_limit:
        return [ShardTask(FLEET, run_at)]
    return [ShardTask(s, run_at, kind=kind, events=events) for s in shards for kind in TASK_KINDS]


def queue_all(queue: WorkQueue, bodies: list[dict]) -> int:
    """Put messages in batches of ``SQS_BATCH``; returns how many."""
    for i in range(0, len(bodies), SQS_BATCH):
        queue.put(bodies[i:i + SQS_BATCH])
    return len(bodies)


def dispatch(shards: Iterable[str], queue: WorkQueue, run_at: datetime, *, shared_limit: bool) -> int:
    """Queue the run's tasks (``run_tasks``, no event). Returns how many were queued. Reads nothing:
    its cost is independent of the fleet's size."""
    return queue_all(queue, [t.body() for t in run_tasks(shards, run_at, shared_limit=shared_limit)])


@dataclass
class FanoutReport:
    """What one in-process run of the fan-out did (``run_in_process``)."""

    tasks: int = 0  # shard tasks planned (pages included)
    planned: int = 0  # vehicles planned
    unchanged: int = 0
    queued: int = 0  # profile orders queued
    sent: int = 0  # profiles queued on the chargers' call queues
    dropped: int = 0  # orders too old to send, or for chargers that refuse every profile purpose
    failures: int = 0  # deliveries that failed (delivered again, or dead-lettered after the last)
    dead: list[dict] = field(default_factory=list)  # messages that failed every delivery
    skipped: list[str] = field(default_factory=list)


class InProcessQueue:
    """A ``WorkQueue`` in memory for the local platform (no SQS): messages with their delivery
    count; ``drain`` hands each to a consumer and re-delivers a failed one up to ``max_receives``
    times, then moves it to ``dead`` (the dead-letter queue)."""

    def __init__(self, max_receives: int = 3):
        self.max_receives = max_receives
        self.messages: list[tuple[dict, int]] = []
        self.dead: list[dict] = []

    def put(self, bodies: list[dict]) -> int:
        self.messages.extend((json.loads(json.dumps(b)), 0) for b in bodies)  # as SQS: a copy of plain JSON
        return len(bodies)

    def drain(self, consume: Callable[[dict], None]) -> tuple[int, int]:
        """Deliver until empty (a consumer may queue more); returns (delivered, failed deliveries)."""
        delivered = failed = 0
        while self.messages:
            body, receives = self.messages.pop(0)
            delivered += 1
            try:
                consume(body)
            except Exception:
                log.exception("fan-out message failed (delivery %d of %d)", receives + 1, self.max_receives)
                failed += 1
                if receives + 1 >= self.max_receives:
                    self.dead.append(body)
                else:
                    self.messages.append((body, receives + 1))
        return delivered, failed
