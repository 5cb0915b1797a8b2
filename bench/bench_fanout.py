"""The fanned-out periodic run (``csms.charging.fanout``, ``adapters.fanout``): measured steps and the
modelled whole run for 100,000 and 1,000,000 plugged-in vehicles at the stack's configured concurrency.

    .venv/bin/python -m bench.bench_fanout [--fleets 100000,1000000] [--page 5000] [--orders 2000]
                                           [--moto-orders 100] [--sites]

Measured here (a shared 2-core machine: CPU time is what the model takes):
1. one shard task of ``--page`` vehicles through the real step (``adapters.fanout.plan_task``: the
   page read, two reads per vehicle, the per-vehicle plans, the orders JSON and batching) on the
   in-memory stores (``tests.fakes``): wall, CPU and peak memory;
2. with ``--sites``: one shard of sites of 1-50 chargers with limits and its share of an event
   (``bench.bench_fleet.run_shard``: two LP stages), the planning a shard does once sites bind;
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
from datetime import timedelta
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
    from tests.fakes import (MemoryActiveShards, MemoryCallQueue, MemoryChargers, MemoryEvents,
                             MemoryPoster, MemorySessions, MemorySignals)
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
                              sessions=sessions, meter=meter, chargers=chargers, events=MemoryEvents(),
                              signals=signals, commander=commander, calls=calls)
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
    site_s = None
    if args.sites:
        from bench import bench_fleet

        starts, cost = bench_fleet.window_and_costs()
        r = bench_fleet.run_shard(page, 1, starts, cost, exact=False)
        site_s = shard_s + CPU_FACTOR * r["cpu_s"]  # CPU with tracemalloc on: on the safe side
        print(f"| shard of {r['sites']} sites with limits + event share, {r['vehicles']:,} vehicles (two LP stages) | "
              f"{r['stage1_s'] + r['stage2_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, peak {r['peak_mib']:.0f} MiB, "
              f"{r['sites_over_limit']} sites over limit, event over by {r['event_over_kw']:.3f} kW | "
              f"{site_s:.1f} s (the task above + {CPU_FACTOR} x the LPs' CPU) |")
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
    print("| plugged-in vehicles | shard tasks | planner waves | planning s | sender profiles/s | sending s | "
          "whole run s (15 min = 900 s) |" + (" whole run s, sites with limits |" if site_s else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if site_s else ""))
    for fleet in [int(x) for x in args.fleets.split(",")]:
        m = model(fleet, page, shard_s, per_profile_ms, planners, senders, SHARDS)
        extra = ""
        if site_s:
            extra = f" {model(fleet, page, site_s, per_profile_ms, planners, senders, SHARDS)['whole_s']:.0f} |"
        print(f"| {fleet:,} | {m['tasks']} | {m['waves']} | {m['planning_s']:.0f} | {m['send_rate']:,.0f} | "
              f"{m['sending_s']:.0f} | {m['whole_s']:.0f} |{extra}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
