"""The periodic run with sites (issue 16): limited sites are planned by their own tasks, shard by
shard of the sparse limited-site list, each page bounded; chargers on no limited site by the
charger-shard tasks, each vehicle alone. In memory (``tests.fakes``), through ``run_in_process``:
the same dispatch, tasks and sender as in AWS."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from adapters import fanout
from csms.charging import tariff
from csms.charging.scheduler import DEFAULT_ENERGY_KWH, Interval
from csms.charging.sites import Site
from csms.model import Session
from csms.ocpp.commands import Commander
from csms.timeutil import parse_ts
from tests.fakes import (MemoryAllowances, MemoryActiveShards, MemoryCallQueue, MemoryChargers, MemoryGridEvents, MemoryMeter,
                         MemoryPoster, MemoryRunLedger, MemorySessions, MemorySites, MemorySignals)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
SLOTS = tuple(T0 - timedelta(hours=1) + timedelta(minutes=30 * i) for i in range(60))
# uneven prices: the cheapest slots are spread out, so an unlimited plan stacks vehicles in them
SIGNALS = tariff.Signals(SLOTS, tuple(float(10 + (i * 7) % 23) for i in range(60)), (100.0,) * 60, (100.0,) * 60)


def world(site_sizes: dict[str, tuple[int, float | None]], loose: int = 0, region: str = ""):
    """An in-memory runtime: per site id (size, limit kW) that many chargers with a vehicle plugged in
    30 minutes ago (default need: 30 kWh in 8 h), plus ``loose`` vehicles on no site; every site in
    ``region``."""
    chargers, sessions, sites = MemoryChargers(), MemorySessions(), MemorySites()
    calls, poster = MemoryCallQueue(), MemoryPoster()
    started = T0 - timedelta(minutes=30)

    def plug(cp: str) -> None:
        chargers.register(cp, "x" * 64, started)
        chargers.connect(cp, f"conn-{cp}", started)
        sessions.create(Session(cp, 0, 1, "T", 0, started, started), f"k-{cp}")
    for site_id, (size, limit) in site_sizes.items():
        sites.put(Site(site_id, limit, region))
        for n in range(size):
            plug(f"{site_id}-CP{n}")
            sites.assign(site_id, f"{site_id}-CP{n}")
    for n in range(loose):
        plug(f"LOOSE{n}")
    runtime = SimpleNamespace(settings=SimpleNamespace(site_cap_kw=None, carbon_price_gbp_per_t=100.0),
                              sessions=sessions, meter=MemoryMeter(), chargers=chargers, events=MemoryGridEvents(),
                              signals=MemorySignals(), calls=calls, sites=sites, run_ledger=MemoryRunLedger(),
                              allowances=MemoryAllowances(),
                              commander=Commander(calls, chargers, poster))
    return runtime, MemoryActiveShards(sessions)


def run(runtime, active, page: int):
    """The whole run in process; returns (report, vehicles planned by each task)."""
    per_task: list[tuple[str, int]] = []
    real = fanout.plan_task

    def counting(*args, **kwargs):
        report = real(*args, **kwargs)
        per_task.append((args[1]["kind"], report.planned))  # "shard", "sites" or "share" (an event's stage 2)
        return report
    fanout.plan_task = counting
    try:
        report = fanout.run_in_process(runtime, signals=lambda: SIGNALS, clock=lambda: T0, active=active,
                                       page_size=page)
    finally:
        fanout.plan_task = real
    return report, per_task


def plans(runtime) -> dict[str, list[tuple[datetime, datetime, float]]]:
    """Every vehicle's plan as the sender stored it: charge point id -> [(start, end, W)]."""
    out = {}
    for session in runtime.sessions.all_active():
        text = runtime.sessions.plan_of(session.charge_point_id, session.transaction_id)
        assert text, session.charge_point_id  # every vehicle got a plan
        out[session.charge_point_id] = [(parse_ts(a), parse_ts(b), float(w)) for a, b, w in json.loads(text)]
    return out


def peak_kw(rows: list[list[tuple[datetime, datetime, float]]]) -> float:
    """The most the plans draw together at any moment (kW)."""
    edges = sorted({t for plan in rows for a, b, _ in plan for t in (a, b)})
    return max((sum(w for plan in rows for a, b, w in plan if a <= at < b) / 1000 for at in edges), default=0.0)


def energy_kwh(plan) -> float:
    return sum(w * (b - a).total_seconds() / 3600 for a, b, w in plan) / 1000


def test_limited_sites_across_shards_each_hold_their_limit_and_every_need_is_met_in_bounded_tasks():
    # 12 sites of 2-6 chargers, limits that bind at the price dips but leave room for every need
    sizes = {f"S{i:02d}": (2 + i % 5, round((2 + i % 5) * 4.6, 1)) for i in range(12)}
    runtime, active = world(sizes, loose=6)
    shards_with_sites = {k for k in range(16) if runtime.sites.limited(str(k), 100)[0]}
    assert len(shards_with_sites) >= 5  # the sites are spread over shards
    report, per_task = run(runtime, active, page=6)
    vehicles = sum(n for n, _ in sizes.values()) + 6
    assert report.dead == [] and report.failures == 0
    assert report.planned == vehicles  # each vehicle planned once: a site task or a charger task, never both
    assert report.sent == vehicles
    assert max(n for _, n in per_task) <= 6  # no task plans more than its page ...
    assert Counter(k for k, _ in per_task)["sites"] > 16  # ... so fuller site shards handed pages on
    stored = plans(runtime)
    for site_id, (size, limit) in sizes.items():
        members = [stored[f"{site_id}-CP{n}"] for n in range(size)]
        assert peak_kw(members) <= limit + 1e-3, site_id  # the site's limit holds at every moment
        for plan in members:  # every need met: the default 30 kWh
            assert energy_kwh(plan) >= DEFAULT_ENERGY_KWH - 0.05, (site_id, energy_kwh(plan))
    unlimited = [stored[f"LOOSE{n}"] for n in range(6)]
    assert peak_kw(unlimited) > 6 * 7.4 * 0.8  # no limit: they charge together in the cheapest slots


def test_a_site_that_loses_its_limit_is_planned_with_the_chargers_and_the_dispatcher_reads_no_site():
    runtime, active = world({"DEPOT": (3, 9.0), "HOME": (2, None)})
    runtime.sites.put(Site("DEPOT", None))  # no limit any more: off the limited list
    assert all(runtime.sites.limited(str(k), 10)[0] == [] for k in range(16))
    runtime.sites.limited_pages = 0

    def every_site():
        raise AssertionError("the run must not list every site")
    runtime.sites.listed = every_site
    report, per_task = run(runtime, active, page=50)
    assert report.planned == 5 and all(n == 0 for k, n in per_task if k == "sites")
    assert runtime.sites.limited_pages == 16  # one page per site task, none by the dispatcher


def test_a_page_hands_its_cursor_on_after_whole_sites_and_a_site_larger_than_a_page_is_one_page():
    from tests.fakes import MemoryWorkQueue

    runtime, _ = world({"A": (2, 10.0), "B": (2, 10.0), "BIG": (9, 60.0)})
    runtime.sites.shards = 1  # every site in shard "0"
    tasks, sends = MemoryWorkQueue(), MemoryWorkQueue()
    body = fanout.ShardTask("0", T0, kind="sites").body()
    first = fanout.plan_task(runtime, body, tasks, sends, signals=lambda: SIGNALS, clock=lambda: T0, page_size=4)
    assert first.planned == 4  # "A" and "B": 4 chargers; "BIG" would overflow the page
    assert [b["cursor"] for b in tasks.bodies] == ["B"] and tasks.bodies[0]["kind"] == "sites"
    second = fanout.plan_task(runtime, tasks.bodies[0], tasks, sends, signals=lambda: SIGNALS, clock=lambda: T0,
                              page_size=4)
    assert second.planned == 9 and len(tasks.bodies) == 1  # a site is never split; the shard is done


def test_a_region_event_across_shards_holds_its_cap_in_every_slot_through_two_stages():
    from csms.charging.groups import REGION, EventTarget

    sizes = {f"S{i:02d}": (2 + i % 5, round((2 + i % 5) * 4.6, 1)) for i in range(10)}
    sizes["HOMES"] = (8, None)  # chargers on a site with no limit, in the region too
    runtime, active = world(sizes, loose=5, region="north")  # the 5 loose ones: on no site, not covered
    end = T0 + timedelta(hours=3)
    cap = 40.0
    runtime.events.add_targeted(T0 - timedelta(minutes=10), end, cap_kw=cap, reduction_kw=None,
                                target=EventTarget(REGION, ("north",)))
    report, per_task = run(runtime, active, page=6)
    covered = sum(n for n, _ in sizes.values())
    assert report.dead == [] and report.failures == 0
    assert report.planned == covered + 5  # each vehicle planned once: the covered ones in stage 2
    assert sum(n for kind, n in per_task if kind == "share") == covered
    assert max(n for _, n in per_task) <= 6  # a stage-2 unit is a class of one page: bounded too
    stored = plans(runtime)
    in_region = [stored[cp] for cp in stored if not cp.startswith("LOOSE")]
    window = [[(max(a, T0), min(b, end), w) for a, b, w in plan if a < end and b > T0] for plan in in_region]
    free = [[(a, b, w) for a, b, w in plan] for plan in in_region]
    assert peak_kw(free) > cap * 1.5  # the event binds: without it the region draws far more later on
    assert peak_kw(window) <= cap + 1e-3  # the region's cap holds in every slot of the event
    for site_id, (size, limit) in sizes.items():
        if limit is not None:
            assert peak_kw([stored[f"{site_id}-CP{n}"] for n in range(size)]) <= limit + 1e-3, site_id
    # outside the region: not held, every need met
    assert all(energy_kwh(stored[f"LOOSE{n}"]) >= DEFAULT_ENERGY_KWH - 0.05 for n in range(5))
    # the run left each site of the region its allowance (what a plug-in there re-plans against):
    # together never above the cap, each at least what its vehicles were planned to draw
    from csms.charging.allowances import RUN_UNIT, load_kw, window_slots

    event = runtime.events.grid_events(T0)[0]
    held = {unit: a for (unit, e), (a, _) in runtime.allowances.items.items() if unit != RUN_UNIT}
    homes = [f"cp:HOMES-CP{n}" for n in range(sizes["HOMES"][0])]  # no limit: each charger its own unit
    assert set(held) == {s for s, (_, limit) in sizes.items() if limit is not None} | set(homes)
    assert {a.run for a in held.values()} == {runtime.allowances.items[(RUN_UNIT, event.event_id)][0].run}
    starts = window_slots(event, T0)
    for t, start in enumerate(starts):
        assert sum(dict(zip(a.starts, a.kw)).get(start, 0.0) for a in held.values()) <= cap + 1e-9
    for site_id, (size, limit) in sizes.items():
        units = {site_id: range(size)} if limit is not None else {f"cp:{site_id}-CP{n}": [n] for n in range(size)}
        for unit, chargers in units.items():
            planned = load_kw([[Interval(a, b, w) for a, b, w in stored[f"{site_id}-CP{n}"]] for n in chargers], starts)
            assert all(kw <= allowed + 1e-3 for kw, allowed in zip(planned, held[unit].kw)), unit


def test_an_order_a_re_plan_superseded_while_it_waited_is_dropped():
    from tests.fakes import MemoryWorkQueue

    runtime, _ = world({"B": (2, 10.0)})
    runtime.sites.shards = 1
    tasks, sends = MemoryWorkQueue(), MemoryWorkQueue()
    body = fanout.ShardTask("0", T0, kind="sites").body()
    report = fanout.plan_task(runtime, body, tasks, sends, signals=lambda: SIGNALS, clock=lambda: T0)
    assert report.planned == 2 and {b["chargePointId"] for b in sends.bodies} == {"B-CP0", "B-CP1"}
    # B's orders wait in the queue; meanwhile a re-plan stores a newer plan for B-CP0: its order is dropped
    session = runtime.sessions.active("B-CP0")[0]
    runtime.sessions.save_plan("B-CP0", session.transaction_id, "[]", "newer-plan")
    outcomes = {b["chargePointId"]: fanout.send_order(runtime, b, clock=lambda: T0) for b in sends.bodies}
    assert outcomes == {"B-CP0": "superseded", "B-CP1": "sent"}
    # the order that was sent, delivered again after its save (SQS is at least once), is not "superseded"
    again = next(b for b in sends.bodies if b["chargePointId"] == "B-CP1")
    assert fanout.send_order(runtime, again, clock=lambda: T0) == "sent"
