"""The fanned-out periodic run (``csms.charging.fanout``, ``adapters.fanout``): measured steps and the
modelled whole run for 100,000 and 1,000,000 plugged-in vehicles at the stack's configured concurrency.

    .venv/bin/python -m bench.bench_fanout [--fleets 100000,1000000] [--page 5000] [--orders 2000]
                                           [--moto-orders 100] [--sites]

Measured here (a shared 2-core machine: CPU time is what the model takes):
1. one shard task of ``--page`` vehicles through the real step (``adapters.fanout.plan_task``: the
   page read, two reads per vehicle, the per-vehicle plans, the orders JSON and batching) on the
   in-memory stores (``tests.fakes``): wall, CPU and peak memory;
2. with ``--sites``: one shard's first site page and first charger page of a fleet on sites of
   1-50 chargers with limits, all in one region under a grid-demand event, through the LIVE steps
   (``adapters.fanout.plan_task``: stage 1 of both pages, the split ``start_stage2``, each stage-2
   unit; ``measure_sites_and_event``): wall, CPU and peak memory per task, each site's limit and the
   event's cap checked on the orders; the whole run modelled for both stages (``two_stage_model``);
3. the sender's step (``adapters.fanout.send_order``: parse, SetChargingProfile built, queued and
   posted to a fake management API, the plan stored) on the in-memory stores: CPU per profile;
4. the same step against moto's DynamoDB: the DynamoDB requests one profile costs (counted at the
   botocore client; moto's own time is not AWS's, so only the count is used).

Modelled: a request's round trip in AWS (``DDB_MS``, ``SQS_MS``, ``POST_MS``: stated assumptions,
docs/scale.md) times the counted requests, plus the measured CPU. Pages of a shard start one after
another (each task queues the next before planning), planners run ``ShardPlanner`` reserved
concurrency at once and reads run in ``READ_WORKERS`` threads; the sender drains orders as they come
at ``ProfileSender`` concurrency. The run = max(planning, first wave + sending) (they overlap).
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from unittest import mock

DDB_MS = 6.0  # one DynamoDB GetItem / Query / PutItem / UpdateItem in-region (single-digit ms)
QUERY_PAGE_MS = 40.0  # one 1 MB Query page of the active-index (~2,000 sessions)
SQS_MS = 15.0  # one SendMessageBatch (10 messages)
POST_MS = 25.0  # one post_to_connection through the management API
POLL_MS = 500.0  # an SQS event source's delivery delay for the next page's task (long polling)
ONLINE_SHARE = 0.9  # chargers online when their profile is sent (the others' calls stay queued: fewer requests)
# CPU seconds measured here -> seconds in a 2 GB Lambda (about 1.2 vCPU of Graviton): assumed 1.5x slower
# than this machine's core, to be safe. The machine is shared (load average ~20 on 2 cores while these
# numbers were taken): wall time here is waiting, not work, so the model takes CPU time.
CPU_FACTOR = 1.5


class _Meter:
    """The latest sample per connector in a dict (``tests.fakes.MemoryMeter`` sorts every sample on
    each read: its cost, not the step's, would be measured)."""

    def __init__(self):
        self.last = {}

    def put(self, samples):
        for s in samples:
            self.last[(s.charge_point_id, s.connector_id)] = s

    def latest(self, charge_point_id, connector_id):
        return self.last.get((charge_point_id, connector_id))


def _memory_world(n: int, online_share: float = ONLINE_SHARE):
    """A runtime of in-memory stores with ``n`` plugged-in vehicles on registered chargers."""
    from adapters.fanout import InProcessQueue
    from csms.charging import signals as signal_rows
    from csms.charging import tariff
    from csms.model import MeterSample, Reading, Session
    from csms.ocpp.commands import Commander
    from csms.timeutil import utcnow
    from tests.fakes import (MemoryActiveShards, MemoryCallQueue, MemoryChargers, MemoryGridEvents,
                             MemoryPoster, MemorySessions, MemorySignals, MemorySites)
    from bench.bench_fleet import DATA

    now = utcnow()
    chargers, sessions, meter, calls, poster = MemoryChargers(), MemorySessions(), _Meter(), MemoryCallQueue(), MemoryPoster()
    for i in range(n):
        cp = f"CP{i:07d}"
        chargers.register(cp, "x" * 64, now)
        if i < online_share * n:
            chargers.connect(cp, f"conn-{i}", now)
        started = now - timedelta(minutes=(i * 7) % 300)
        tx = sessions.create(Session(cp, 0, 1, "T", 0, started, started), f"k{i}")
        meter.put([MeterSample(cp, 1, now - timedelta(minutes=1), "mv",
                               (Reading("Energy.Active.Import.Register", 1000.0 * (i % 9), "Wh"),), tx, None,
                               1000.0 * (i % 9), now)])
    signals = MemorySignals()
    recorded = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    signals.put(signal_rows.rows_from_signals(tariff.replayed(recorded, now, days=3)), now)
    commander = Commander(calls, chargers, poster)
    runtime = SimpleNamespace(settings=SimpleNamespace(site_cap_kw=None, carbon_price_gbp_per_t=100.0),
                              sessions=sessions, meter=meter, chargers=chargers, events=MemoryGridEvents(),
                              signals=signals, commander=commander, calls=calls, sites=MemorySites(shards=1))
    return runtime, MemoryActiveShards(sessions, shards=1), InProcessQueue(), poster


def measure_shard(page: int) -> dict:
    """One shard task of ``page`` vehicles (all in one shard here) through ``plan_task``."""
    from adapters import fanout
    from adapters.smart_charging import stored_signals
    from csms.charging.fanout import ShardTask
    from csms.timeutil import utcnow
    from tests.fakes import MemoryWorkQueue

    def once(traced: bool):
        runtime, active, _, _ = _memory_world(page)
        sends = MemoryWorkQueue()
        window = stored_signals(runtime, utcnow)()
        task = ShardTask("0", utcnow()).body()
        if traced:
            tracemalloc.start()
        t0, c0 = time.perf_counter(), time.process_time()
        report = fanout.plan_task(runtime, task, MemoryWorkQueue(), sends, signals=lambda: window, active=active,
                                  page_size=page)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
        assert report.planned == page and len(sends.bodies) == report.sent, report
        return report, sends, wall, cpu, peak

    report, sends, wall, cpu, _ = once(False)  # timed without tracemalloc (it slows Python down) ...
    peak = once(True)[4]  # ... and the peak memory from a second, traced run
    body_bytes = statistics.mean(len(repr(b)) for b in sends.bodies[:200])
    return {"vehicles": page, "wall_s": wall, "cpu_s": cpu, "peak_mib": peak / 2**20, "orders": report.sent,
            "sqs_batches": sends.puts, "order_bytes": body_bytes}


def measure_sender(orders: int) -> dict:
    """CPU per profile of ``send_order`` on the in-memory stores (a fake management API)."""
    from adapters import fanout
    from csms.charging.fanout import ProfileOrder
    from csms.timeutil import utcnow

    runtime, _, _, poster = _memory_world(orders)
    now = utcnow()
    bodies = [ProfileOrder(f"CP{i:07d}", 1, i + 1, now, ((now, now + timedelta(hours=2), 7400.0),
                                                          (now + timedelta(hours=2), now + timedelta(hours=8), 0.0)),
                           f"d{i}").body() for i in range(orders)]
    t0, c0 = time.perf_counter(), time.process_time()
    outcomes = collections.Counter(fanout.send_order(runtime, b) for b in bodies)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert outcomes["sent"] == orders and len(poster.sent) >= ONLINE_SHARE * orders - 1, outcomes
    return {"orders": orders, "cpu_ms": 1000 * cpu / orders, "wall_ms": 1000 * wall / orders}


def count_sender_requests(orders: int) -> dict:
    """DynamoDB requests per profile of ``send_order`` against moto (online and offline chargers)."""
    import botocore.client
    from moto import mock_aws

    from adapters import fanout
    from adapters.dynamo.models import create_tables
    from adapters.settings import Settings
    from adapters.wiring import build_runtime
    from csms.charging.fanout import ProfileOrder
    from csms.timeutil import utcnow
    from tests.fakes import MemoryPoster
    from tests.integration.test_fleet_run import _fleet

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
        return original(self, operation_name, api_params)

    out = {}
    env = {**Settings.with_prefix("bench", region="eu-west-2").as_env(), "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench"}
    with mock.patch.dict(os.environ, env), mock_aws(), \
            mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting):
        rt = build_runtime(Settings.from_env(), poster=MemoryPoster(), replan=None)
        create_tables()
        online = [f"FLEET{i:04d}" for i in range(orders // 2)]
        _fleet(rt, orders, online)
        now = utcnow()
        for label, chosen in (("online", range(orders // 2)), ("offline", range(orders // 2, orders))):
            calls.clear()
            for i in chosen:
                order = ProfileOrder(f"FLEET{i:04d}", 1, i + 1, now, ((now, now + timedelta(hours=2), 7400.0),), "d")
                assert fanout.send_order(rt, order.body()) == "sent"
            out[label] = collections.Counter(calls)
            out[f"{label}_n"] = len(chosen)
    return out


EVENT_SHARE = 0.7  # the region's cap: this share of its stage-1 (unmanaged) peak (as bench_fleet)
SITE_LIMIT_SHARE = 0.35  # a site of 3 or more chargers: a limit of this share of its chargers' power


def _site_world(page: int, seed: int = 1):
    """An in-memory runtime for one shard's sample: limited sites of 3-50 chargers (and sites of 1-2
    with no limit) in region "R" holding about ``page`` chargers, and ``page`` more chargers on
    unlimited home sites in "R" (a charger page), every charger with a vehicle plugged in; one region
    event on "R" from now for 4 hours (its cap set after stage 1: ``measure_sites_and_event``)."""
    import random

    from csms.charging import signals as signal_rows
    from csms.charging import tariff
    from csms.charging.groups import REGION, EventTarget
    from csms.charging.sites import Site
    from csms.model import MeterSample, Reading, Session
    from csms.ocpp.commands import Commander
    from csms.timeutil import utcnow
    from tests.fakes import (MemoryActiveShards, MemoryCallQueue, MemoryChargers, MemoryGridEvents, MemoryPoster,
                             MemoryAllowances, MemoryRunLedger, MemorySessions, MemorySignals, MemorySites)
    from bench.bench_fleet import DATA

    class Sessions(MemorySessions):  # active sessions by charger (the fake scans: its cost, not the step's)
        def __init__(self):
            super().__init__()
            self.by_charger: dict = {}

        def create(self, session, start_key):
            tx = super().create(session, start_key)
            self.by_charger.setdefault(session.charge_point_id, []).append(tx)
            return tx

        def active(self, charge_point_id):
            return [self.items[(charge_point_id, tx)] for tx in self.by_charger.get(charge_point_id, [])]

        def all_active(self):
            return [s for _, s in sorted(self.items.items()) if s.active]

    class Sites(MemorySites):  # members by index (built once the world is set up: ``index``)
        def index(self):
            self.by_site: dict = {}
            for cp, sid in sorted(self.site_of_charger.items()):
                self.by_site.setdefault(sid, []).append(cp)

        def members(self, site_id):
            return list(self.by_site.get(site_id, []))

    rng = random.Random(seed)
    now = utcnow()
    chargers, sessions, meter, calls, poster = MemoryChargers(), Sessions(), _Meter(), MemoryCallQueue(), MemoryPoster()
    sites = Sites(shards=1)
    n = 0

    def plug(cp: str, site_id: str) -> None:
        nonlocal n
        chargers.register(cp, "x" * 64, now)
        chargers.connect(cp, f"conn-{cp}", now)
        started = now - timedelta(minutes=(n * 7) % 300)
        tx = sessions.create(Session(cp, 0, 1, "T", 0, started, started), f"k{cp}")
        meter.put([MeterSample(cp, 1, now - timedelta(minutes=1), "mv",
                               (Reading("Energy.Active.Import.Register", 1000.0 * (n % 9), "Wh"),), tx, None,
                               1000.0 * (n % 9), now)])
        sites.site_of_charger[cp] = site_id
        n += 1
    on_sites = 0
    while on_sites < page:  # "S..." sort after "A...": the charger page is the homes
        size = rng.randint(1, 50)
        site_id = f"S{len(sites.sites):05d}"
        sites.put(Site(site_id, None if size < 3 else round(size * 7.4 * SITE_LIMIT_SHARE, 1), "R"))
        for k in range(size):
            plug(f"{site_id}-{k:02d}", site_id)
        on_sites += size
    for k in range(page):
        if k % 2 == 0:
            sites.put(Site(f"A{k:05d}", None, "R"))
        plug(f"A{k - k % 2:05d}-{k % 2}", f"A{k - k % 2:05d}")
    sites.index()
    signals = MemorySignals()
    recorded = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    signals.put(signal_rows.rows_from_signals(tariff.replayed(recorded, now, days=3)), now)
    events = MemoryGridEvents()
    event_id = events.add_targeted(now, now + timedelta(hours=4), cap_kw=1e9, reduction_kw=None,
                                   target=EventTarget(REGION, ("R",)))
    runtime = SimpleNamespace(settings=SimpleNamespace(site_cap_kw=None, carbon_price_gbp_per_t=100.0),
                              sessions=sessions, meter=meter, chargers=chargers, events=events, signals=signals,
                              commander=Commander(calls, chargers, poster), calls=calls, sites=sites,
                              run_ledger=MemoryRunLedger(), allowances=MemoryAllowances())
    return runtime, MemoryActiveShards(sessions, shards=1), event_id, now


def _timed(step):
    """(result, wall s, CPU s, peak MiB) of ``step()``, traced by tracemalloc (CPU on the safe side)."""
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result = step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, wall, cpu, peak


def measure_sites_and_event(page: int) -> dict:
    """One shard's first site page and first charger page of the 1,000,000-vehicle fleet through the
    LIVE steps (``adapters.fanout.plan_task``): stage 1 of both, the split (``start_stage2``) and
    each stage-2 unit; the region's cap is ``EVENT_SHARE`` of the sample's stage-1 peak (set before
    the split, as if the sample were the region). Checks every site limit and the cap on the orders."""
    import json
    from dataclasses import replace

    import numpy as np

    from adapters import fanout, fanout_events
    from adapters.smart_charging import stored_signals
    from csms.charging.fanout import ShardTask
    from csms.timeutil import parse_ts
    from tests.fakes import MemoryWorkQueue

    from csms.charging.planner import Problem, Vehicle, plan as warm_up

    warm_up(Problem([datetime(2026, 1, 1, tzinfo=timezone.utc)], np.ones(1),  # imports and HiGHS loaded once
                    [Vehicle("v", datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, 1, tzinfo=timezone.utc),
                             1.0, 7.4)], site_cap_kw=1.0))
    runtime, active, event_id, now = _site_world(page)
    window = stored_signals(runtime, lambda: now)()
    run = fanout_events.run_name(now)
    runtime.run_ledger.open(run, 3)  # the sample's two tasks, and one more: the split is started here
    tasks, sends = MemoryWorkQueue(), MemoryWorkQueue()
    rows = []

    def plan(body):
        return fanout.plan_task(runtime, body, tasks, sends, signals=lambda: window, clock=lambda: now,
                                active=active, page_size=page)
    for kind in ("sites", "shard"):
        body = ShardTask("0", now, kind=kind, events=(event_id,)).body()
        report, wall, cpu, peak = _timed(lambda: plan(body))
        rows.append({"step": f"stage 1, {kind} page", "label": (
            f"stage 1, site page (live `plan_task`: {len([x for x in runtime.sites.sites.values() if x.limit_kw])} "
            f"limited sites, all covered by the event)" if kind == "sites" else
            f"stage 1, charger page (live `plan_task`: {page:,} vehicles on home sites in the region)"), "wall": wall, "cpu": cpu, "peak": peak,
                     "planned": report.planned, "orders": report.sent})
    records = runtime.run_ledger.records(run)
    units = [u for classes in records.values() for u in classes.values()]
    slots = len(next(iter(units))["loads"][event_id])
    load = np.sum([u["loads"][event_id] for u in units], axis=0)
    cap = EVENT_SHARE * float(load.max())
    event = runtime.events.targeted[event_id]
    runtime.events.targeted[event_id] = replace(event, cap_kw=cap)
    handed_on = len(tasks.bodies)  # the pages after the sample's (not planned here)
    tasks.bodies.clear()
    queued, wall, cpu, peak = _timed(lambda: fanout_events.start_stage2(runtime, now, tasks, now))
    rows.append({"step": "the split (start_stage2)", "label": "the split (`start_stage2`: the ledger's records, each "
                 "event's cap into shares, the stage-2 tasks)", "wall": wall, "cpu": cpu, "peak": peak, "planned": 0, "orders": 0})
    for body in list(tasks.bodies):
        report, wall, cpu, peak = _timed(lambda: plan(body))
        rows.append({"step": f"stage 2, {body['source']} unit", "label": (
            "stage 2, the site page's unit (one LP: its sites' limits and its share)" if body["source"] == "sites" else
            "stage 2, the charger page's unit (one LP of its vehicles under its per-slot share)"), "wall": wall, "cpu": cpu, "peak": peak,
                     "planned": report.planned, "orders": report.sent})
    plans = {}
    for body in sends.bodies:
        plans[body["chargePointId"]] = [(parse_ts(a), parse_ts(b), float(w)) for a, b, w in body["plan"]]
    def peak(rows, start=None, end=None) -> float:  # the most these plans draw together at any moment (kW)
        edges = sorted({t for p in rows for a, b, _ in p for t in (a, b)
                        if start is None or start <= t < end} | ({start} if start else set()))
        return max((sum(w for p in rows for a, b, w in p if a <= t < b) / 1000 for t in edges), default=0.0)
    held = peak(list(plans.values()), event.start, event.end)
    over_sites, site_over_kw = 0, 0.0
    for site_id, site in runtime.sites.sites.items():
        if site.limit_kw is not None:
            over = peak([plans[cp] for cp in runtime.sites.members(site_id) if cp in plans]) - site.limit_kw
            over_sites += over > 1e-6  # orders carry the plan's W rounded down (whole_w): none may be over
            site_over_kw = max(site_over_kw, over)
    vehicles = sum(r["planned"] for r in rows if r["step"].startswith("stage 2"))
    return {"rows": rows, "vehicles": vehicles, "sites": sum(1 for s in runtime.sites.sites.values() if s.limit_kw),
            "cap_kw": cap, "held_max_kw": held, "event_over_kw": max(0.0, held - cap),
            "sites_over_limit": over_sites, "site_over_kw": max(0.0, site_over_kw), "handed_on": handed_on, "slots": slots,
            "units": queued, "orders": len(sends.bodies), "order_bytes": statistics.mean(len(json.dumps(b)) for b in sends.bodies[:200])}


def model(fleet: int, page: int, shard_s: float, per_profile_ms: float, planners: int, senders: int,
          shards: int) -> dict:
    """The whole run for ``fleet`` plugged-in vehicles (every plan changed: the first run of the day)."""
    per_shard = math.ceil(fleet / shards)
    pages = math.ceil(per_shard / page)
    tasks = shards * pages
    waves = math.ceil(tasks / planners)
    chain_s = pages * (QUERY_PAGE_MS * math.ceil(page / 2000) + SQS_MS + POLL_MS) / 1000  # a shard's pages start in turn
    planning = max(waves * shard_s, chain_s + shard_s)
    send_rate = senders * 1000 / per_profile_ms  # profiles a second
    sending = fleet / send_rate
    whole = max(planning, shard_s + sending)
    return {"fleet": fleet, "tasks": tasks, "waves": waves, "planning_s": planning, "send_rate": send_rate,
            "sending_s": sending, "whole_s": whole}


def _aws_s(row: dict, event: dict, page: int) -> float:
    """A sampled step's time in AWS: ``CPU_FACTOR`` x its CPU, its reads (``DDB_MS`` each,
    ``READ_WORKERS`` at a time) and its SendMessageBatch calls. Reads per step: a site page and a site
    unit one Query of the list, 2 per site, 1 per charger and 2 per vehicle (meter, preference); a
    charger page its index page, 2 BatchGetItems per 100 chargers in series (their sites) and 2 per
    vehicle; a charger unit 3 per vehicle (the session by key, meter, preference); each task's ledger
    requests (~4) and the split's (~4) in series."""
    from adapters.fanout import READ_WORKERS, SQS_BATCH

    step, vehicles = row["step"], max(row["planned"], 1)
    sites = event["sites"]
    if "split" in step:
        reads = 4 * DDB_MS / 1000
    elif "sites" in step:
        reads = (1 + 2 * sites + 3 * page) * DDB_MS / 1000 / READ_WORKERS + 4 * DDB_MS / 1000
    elif "stage 1" in step:
        reads = (QUERY_PAGE_MS * math.ceil(page / 2000) + 2 * math.ceil(page / 100) * DDB_MS
                 + 2 * page * DDB_MS / READ_WORKERS + 4 * DDB_MS) / 1000
    else:
        reads = 3 * vehicles * DDB_MS / 1000 / READ_WORKERS + 4 * DDB_MS / 1000
    return CPU_FACTOR * row["cpu"] + reads + math.ceil(row["orders"] / SQS_BATCH) * SQS_MS / 1000


def two_stage_model(fleet: int, page: int, event: dict, per_profile_ms: float, planners: int, senders: int,
                    shards: int) -> dict:
    """The whole run for ``fleet`` vehicles when an event covers all of them (the worst case: every
    task takes part in both stages and every order waits for stage 2): stage 1 (every page: the slower
    of the sampled site and charger pages), the split, stage 2 (every unit: the slower sampled unit),
    then sending, which overlaps stage 2 after its first wave."""
    rows = event["rows"]
    stage1 = max(_aws_s(r, event, page) for r in rows if r["step"].startswith("stage 1"))
    split_s = next(_aws_s(r, event, page) for r in rows if "split" in r["step"])
    stage2 = max(_aws_s(r, event, page) for r in rows if r["step"].startswith("stage 2"))
    tasks = math.ceil(fleet / page) + 2 * shards  # pages, and each shard's last, partial page of each kind
    waves = math.ceil(tasks / planners)
    chain_s = math.ceil(fleet / shards / page) * (SQS_MS + POLL_MS) / 1000  # a shard's pages start in turn
    planning = max(waves * stage1, chain_s + stage1) + split_s + POLL_MS / 1000 + waves * stage2
    sending = fleet / (senders * 1000 / per_profile_ms)
    whole = max(planning, planning - (waves - 1) * stage2 + sending)
    return {"tasks": tasks, "waves": waves, "planning_s": planning, "sending_s": sending, "whole_s": whole}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", default="100000,1000000")
    parser.add_argument("--page", type=int, default=None, help="vehicles per shard task (default: SHARD_PAGE)")
    parser.add_argument("--orders", type=int, default=2000, help="orders through the in-memory sender")
    parser.add_argument("--moto-orders", type=int, default=60, help="orders through moto (request counts)")
    parser.add_argument("--sites", action="store_true", help="also one shard of sites with limits and an event (LP)")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.INFO)  # the send path logs every profile sent

    from adapters.dynamo.indexes import SHARDS
    from adapters.fanout import READ_WORKERS
    from csms.charging.fanout import SHARD_PAGE
    from infra.quotas import BACKGROUND

    page = args.page or SHARD_PAGE
    planners, senders = BACKGROUND["ShardPlanner"], BACKGROUND["ProfileSender"]
    shard = measure_shard(page)
    sender = measure_sender(args.orders)
    counts = count_sender_requests(args.moto_orders)
    per_online = sum(counts["online"].values()) / counts["online_n"]
    per_offline = sum(counts["offline"].values()) / counts["offline_n"]
    ddb_per_profile = ONLINE_SHARE * per_online + (1 - ONLINE_SHARE) * per_offline
    per_profile_ms = CPU_FACTOR * sender["cpu_ms"] + ddb_per_profile * DDB_MS + ONLINE_SHARE * POST_MS
    # a shard task in AWS: its measured CPU, plus the reads (two per vehicle, READ_WORKERS at a time,
    # the page's Query pages) and the orders' SendMessageBatch calls, in series
    reads_s = 2 * page * DDB_MS / 1000 / READ_WORKERS + math.ceil(page / 2000) * QUERY_PAGE_MS / 1000
    queue_s = shard["sqs_batches"] * SQS_MS / 1000
    shard_s = CPU_FACTOR * shard["cpu_s"] + reads_s + queue_s

    print("Measured steps\n")
    print("| step | measured | in AWS (modelled) |")
    print("|---|---|---|")
    print(f"| shard task, {page:,} vehicles (per-vehicle plans) | {shard['wall_s']:.1f} s wall, {shard['cpu_s']:.1f} s CPU, "
          f"peak {shard['peak_mib']:.0f} MiB, {shard['orders']:,} orders of ~{shard['order_bytes']:.0f} B in "
          f"{shard['sqs_batches']} batches | {shard_s:.1f} s ({CPU_FACTOR} x CPU + {reads_s:.1f} s reads in {READ_WORKERS} threads + "
          f"{queue_s:.1f} s SendMessageBatch) |")
    event = None
    if args.sites:
        event = measure_sites_and_event(page)
        for row in event["rows"]:
            print(f"| {row['label']} | "
                  f"{row['wall']:.1f} s wall, {row['cpu']:.1f} s CPU, peak {row['peak']:.0f} MiB, "
                  f"{row['planned']:,} vehicles planned, {row['orders']:,} orders | "
                  f"{_aws_s(row, event, page):.1f} s |")
    ops_on = ", ".join(f"{op} {n / counts['online_n']:.0f}" for op, n in sorted(counts["online"].items()))
    ops_off = ", ".join(f"{op} {n / counts['offline_n']:.0f}" for op, n in sorted(counts["offline"].items()))
    print(f"| sender, one profile (in memory, fake management API; {sender['orders']:,} orders) | "
          f"{sender['cpu_ms']:.2f} ms CPU | {per_profile_ms:.0f} ms ({ddb_per_profile:.1f} DynamoDB requests x {DDB_MS:.0f} ms"
          f" + {ONLINE_SHARE:.0%} x one {POST_MS:.0f} ms post + CPU) |")
    print(f"| sender, DynamoDB requests per profile (moto, {args.moto_orders} orders) | online: {ops_on}; "
          f"offline: {ops_off} | |")
    print()
    print(f"Whole periodic run, every vehicle's plan changed (the first run; later runs send only changed plans): "
          f"{SHARDS} index shards, pages of {page:,}, {planners} shard planners and {senders} senders at once "
          f"(reserved concurrency = the event sources' maximum concurrency)\n")
    print("| plugged-in vehicles | tasks (no shared limit) | planner waves | planning s | sender profiles/s | sending s | "
          "whole run s (period: 900), no shared limit |" + (" whole run s, sites with limits and a region event over "
                                                             "every vehicle (two stages) |" if event else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if event else ""))
    for fleet in [int(x) for x in args.fleets.split(",")]:
        m = model(fleet, page, shard_s, per_profile_ms, planners, senders, SHARDS)
        extra = f" {two_stage_model(fleet, page, event, per_profile_ms, planners, senders, SHARDS)['whole_s']:.0f} |" \
            if event else ""
        print(f"| {fleet:,} | {m['tasks']} | {m['waves']} | {m['planning_s']:.0f} | {m['send_rate']:,.0f} | "
              f"{m['sending_s']:.0f} | {m['whole_s']:.0f} |{extra}", flush=True)
    if event:
        print(f"\nSample: {event['sites']} limited sites and {event['vehicles']:,} vehicles in the region; the cap "
              f"{event['cap_kw']:,.0f} kW ({EVENT_SHARE:.0%} of their stage-1 peak), held peak {event['held_max_kw']:,.1f} kW "
              f"(over by {event['event_over_kw']:.3f} kW); sites over their limit: {event['sites_over_limit']} "
              f"(largest excess {event['site_over_kw']:.3f} kW: orders carry whole W); {event['units']} stage-2 units.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
