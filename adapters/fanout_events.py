"""Grid-demand events in the fanned-out periodic run (issue 16): the two stages of
``csms.charging.event_shares`` wired to the run's tasks, the ledger (``RunLedger``) and the queues.

Stage 1 happens inside every task of a run that coordinates events (the dispatcher opened the run's
counter and put the events' ids in each task): the task plans the vehicles it has that an event
covers *without* the event, records their load per slot per event and counts itself done
(``Stage1``); it plans and queues its other vehicles as usual. The task whose count completes the run
splits each event's cap into shares and queues one stage-2 task per unit (``start_stage2``); each
plans its vehicles again inside its shares and queues their orders (``plan_share``).

Units are whole: a charger task's covered vehicles by class (the set of events covering them), a
site task's covered sites by class (a site is covered when an event covers any of its chargers: its
limit couples them, so its whole load counts against the event, on the safe side)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Callable

from csms.charging.event_shares import ShareTask, Tally, class_key, event_slots, plan_shares, slot_load
from csms.charging.fanout import QueuedSink, ShardTask, queue_all
from csms.charging.ports import WorkQueue
from csms.timeutil import iso

log = logging.getLogger(__name__)

ROUNDING_KW = 0.0005  # a profile's power is whole W: up to half a W of rounding per vehicle


def run_name(run_at: datetime) -> str:
    """A run's name in the ledger: its dispatch time."""
    return iso(run_at)


class CaptureSink:
    """A ``PlanSink`` that keeps each plan as (start, end, W) intervals and sends nothing (stage 1)."""

    def __init__(self) -> None:
        self.plans: list[list[tuple[datetime, datetime, float]]] = []

    def send(self, plug, plan, now: datetime) -> bool:
        self.plans.append([(p.start, p.end, p.power_w) for p in plan])
        return True

    def saved(self, plug, plan, digest: str) -> None:
        """Nothing is stored in stage 1."""


def every_plan(plugs: list) -> list:
    """The plugs with no plan remembered, so that every vehicle's plan reaches the capture."""
    return [replace(p, last_plan_hash=None) for p in plugs]


class Stage1:
    """One task's stage-1 record, built as it plans (``add``), stored once (``finish``)."""

    def __init__(self, task: ShardTask, events: list, source: str):
        self.task, self.source = task, source
        # only the events with slots in the planning horizon from the run's dispatch
        self.slots = {e.event_id: event_slots(e.start, e.end, task.run_at) for e in events}
        self.events = [e for e in events if self.slots[e.event_id]]
        self.units: dict[str, dict] = {}
        self.members: dict[str, list[str]] = {}

    def covering(self, charge_point_ids: list[str], site) -> str:
        """The class of these chargers (on ``site`` or none): the events covering any of them ("": none)."""
        return class_key(e.event_id for e in self.events for cp in charge_point_ids if e.covers(cp, site))

    def add(self, cls: str, plans: list, capacity_kw: float, members: list[str]) -> None:
        """Covered vehicles' plans (stage 1: without the events), their capacity for a reduction event
        (kW) and the unit's members (session keys or site ids)."""
        unit = self.units.setdefault(cls, {"source": self.source, "first": {}, "loads": {}, "capacity": {}})
        for event_id in cls.split("+"):
            slots = self.slots[event_id]
            load = slot_load(plans, slots)
            had = unit["loads"].get(event_id, [0.0] * len(slots))
            unit["first"][event_id] = iso(slots[0])
            unit["loads"][event_id] = [round(a + b, 4) for a, b in zip(had, load)]
            unit["capacity"][event_id] = unit["capacity"].get(event_id, 0.0) + capacity_kw
        self.members.setdefault(cls, []).extend(members)

    def finish(self, runtime, shard_queue: WorkQueue, clock: Callable[[], datetime]) -> Tally:
        """Record the task in the run's ledger (once) and, when it is the last, start stage 2."""
        tally = runtime.run_ledger.record(run_name(self.task.run_at), self.task.name, self.units, self.members)
        if tally.complete():
            start_stage2(runtime, self.task.run_at, shard_queue, clock())
        return tally


def hand_on(runtime, task: ShardTask, shard_queue: WorkQueue, cursor: str) -> None:
    """Queue the task of the next page; under events, counted as expected *before* it is queued."""
    if task.events:
        runtime.run_ledger.expect(run_name(task.run_at))
    shard_queue.put([task.after(cursor).body()])


def coordinated(runtime, task: ShardTask, now: datetime) -> list:
    """The events the run coordinates that are still active (one events Query; none: no read)."""
    if not task.events:
        return []
    wanted = set(task.events)
    return [e for e in runtime.events.grid_events(now) if e.event_id in wanted and not e.cancelled]


def start_stage2(runtime, run_at: datetime, shard_queue: WorkQueue, now: datetime) -> int:
    """Split each event's cap between the run's units and queue their stage-2 tasks (once per run:
    a claim in the ledger; a claim whose queuing failed is released and the task delivered again).
    Returns the tasks queued. Reads: the ledger's records (one Query) and the events (one Query)."""
    ledger, run = runtime.run_ledger, run_name(run_at)
    if not ledger.claim_stage2(run):
        return 0
    try:
        active = [e for e in runtime.events.grid_events(now) if not e.cancelled]
        events = {e.event_id: (e.cap_kw, e.reduction_kw) for e in active}
        tasks = plan_shares(ledger.records(run), events, run_at)
        _mark_large(runtime, active, run)
        return queue_all(shard_queue, [t.body() for t in tasks])
    except Exception:
        ledger.release_stage2(run)
        raise


def _mark_large(runtime, events: list, run: str) -> None:
    """Mark each large event as split by this run (``allowances.run_mark``), before its units plan:
    from now on a plug-in's re-plan counts only this run's allowances (one write per large event)."""
    from csms.charging.allowances import is_large, run_mark

    for event in events:
        if is_large(event):
            runtime.allowances.put_allowances([run_mark(event, run)], event.end)


def _record_allowances(runtime, task: ShareTask, plans: list, sites: dict, now: datetime) -> int:
    """Each site's (or site-less vehicle's) allowance of every large event the unit holds a share of
    (``allowances.record_allowances``): its planned load in this run plus its part of the unit's
    unused share. ``plans``: (plug, plan) of every vehicle the unit planned; ``sites``: charge point id
    -> Site or None. A failure is logged, not raised: a re-plan then counts 0 kW in the window for this
    unit until the next run (the run mark), which keeps the cap."""
    from collections import defaultdict

    from csms.charging.allowances import (is_large, load_kw, record_allowances, unit_capacity_kw, unit_of,
                                          window_slots)
    from csms.charging.defaults import DEFAULT_MAX_POWER_W
    from csms.charging.tariff import SLOT

    written = 0
    try:
        events = [e for e in runtime.events.grid_events(now) if e.event_id in task.shares and not e.cancelled]
        by_unit: dict[str, list] = defaultdict(list)
        chargers: dict[str, set[str]] = defaultdict(set)
        limits: dict[str, float | None] = {}
        for plug, plan in plans:  # a unit: a limited site, or one charger (on no site, or one without a limit)
            site = sites.get(plug.charge_point_id)
            limited = site if site is not None and site.connection_kw() is not None else None
            unit = unit_of(plug.charge_point_id, limited.site_id if limited is not None else None)
            by_unit[unit].append(plan)
            chargers[unit].add(plug.charge_point_id)
            limits[unit] = limited.connection_kw() if limited is not None else None
        for site in {s.site_id: s for s in sites.values() if s is not None and s.connection_kw() is not None}.values():
            limits.setdefault(site.site_id, site.connection_kw())  # a limited site with no vehicle too
        for event in events:
            if not is_large(event):
                continue
            first, kws = task.shares[event.event_id]
            starts = window_slots(event, now)
            index = [int((s - first) / SLOT) for s in starts]
            share = [kws[i] if 0 <= i < len(kws) else 0.0 for i in index]
            planned = {u: load_kw(p, starts) for u, p in by_unit.items()}
            capacity = {u: unit_capacity_kw(limits.get(u), len(chargers[u]), DEFAULT_MAX_POWER_W / 1000) for u in limits}
            written += record_allowances(runtime.allowances, event, now, share, planned, capacity,
                                         run=run_name(task.run_at))
    except Exception:
        log.exception("recording the allowances of %s/%s failed", task.task, task.cls)
    return written


def plan_share(runtime, body: dict, send_queue: WorkQueue, *, read_signals: Callable, clock: Callable[[], datetime],
               in_threads: Callable, plugged: Callable[[list], list]):
    """Stage 2 of one unit: its members again (sessions by key, or limited sites with their chargers'
    active sessions), planned inside its shares (each slot's share a cap on the unit's vehicles, with
    each site's own limit), orders queued. Raises BadMessage, and whatever the reads or the queue raise."""
    from csms.charging.fanout import STALE_AFTER
    from csms.charging.planner import DemandEvent
    from csms.charging.scheduler import RunReport, SmartScheduler

    task = ShareTask.from_body(body)
    if clock() - task.run_at > STALE_AFTER:
        log.info("share task %s of %s is older than a period; dropped", task.task, task.run_at)
        return RunReport()
    members = runtime.run_ledger.members(run_name(task.run_at), task.task, task.cls)
    sink = QueuedSink(send_queue)
    options: dict = {"carbon_price": runtime.settings.carbon_price_gbp_per_t, "site_cap_kw": None}
    if task.source == "shard":
        keys = [m.rsplit("#", 1) for m in members]
        sessions = [s for s in in_threads(lambda k: runtime.sessions.get(k[0], int(k[1])), keys)
                    if s is not None and s.active]
        sites_of = runtime.sites.sites_of([s.charge_point_id for s in sessions]) if sessions else {}
    else:
        sites = [s for s in in_threads(runtime.sites.get, members) if s is not None and s.connection_kw() is not None]
        chargers = in_threads(lambda s: runtime.sites.members(s.site_id), sites)
        sessions = [s for found in in_threads(runtime.sessions.active, [cp for m in chargers for cp in m]) for s in found]
        options["site_caps"] = [(float(s.connection_kw()), frozenset(m)) for s, m in zip(sites, chargers)]
        sites_of = {cp: s for s, m in zip(sites, chargers) for cp in m}
    plugs = plugged(sessions)
    seen: list = []  # every vehicle's plan, for the allowances
    # A profile carries whole W (half a W of rounding a vehicle) and the LP holds its caps to a
    # tolerance: the share is held that much lower, so the rounded orders stay inside it.
    margin = ROUNDING_KW * len(plugs)
    caps = [DemandEvent(a, b, max(0.0, kw * (1 - 1e-6) - margin)) for a, b, kw in task.caps()]
    report = SmartScheduler(read_signals, sink, clock, events=lambda: caps,
                            observe=lambda plug, plan: seen.append((plug, plan)), **options).run(plugs)
    report.group = f"share:{task.task}:{task.cls}"
    sink.flush()
    _record_allowances(runtime, task, seen, sites_of, clock())
    return report
