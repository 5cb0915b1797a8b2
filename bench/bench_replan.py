"""A plug-in's re-plan at fleet sizes: the scheduler handler invoked for one charger, with 100 and
5,000 vehicles plugged in, against moto (no AWS). Flat is the goal (issue 16: "within 10 % from 100
to 5,000"): the DynamoDB requests (counted at the botocore client), the handler's own CPU time, and
the modelled Lambda time do not grow with the fleet.

    .venv/bin/python -m bench.bench_replan [--sizes 100,5000] [--repeat 25] [--cases vehicle,site,region]

Cases: ``vehicle``: a charger on no site, no event (that vehicle alone); ``site``: a charger on a
site whose 8 kW limit binds (two neighbours plugged in: the site's three vehicles); ``region``: a
region-wide grid-demand event over the whole fleet (sites of 3 chargers, every vehicle plugged in),
the plug-in at a site not re-planned before (that site's 4 vehicles against its allowance, not the
region's). Every repetition is a first plug-in at a new charger (and site), so each sends the same
profiles.

How the time is measured, so that it says something about a Lambda and not about moto or the machine:

* **own CPU**: the handler's ``time.process_time`` less the CPU spent inside moto (timed around
  moto's ``before-send`` hook, ``moto.core.botocore_stubber.BotocoreStubber``, which answers each
  request in-process). botocore's own work (serialising, signing, parsing) stays in: a Lambda pays
  it too. moto's Query and GetItem slow down as its tables grow; DynamoDB's latency does not.
* **interleaved**: one worker process per size, each with its own moto and tables, set up first;
  then repetitions alternate, the order flipped each round (100, 5,000, 5,000, 100, ...), so machine
  load and whichever ran just before fall on both alike; the median of the repetitions is reported.
* **the heap**: moto's tables live in the worker's heap, so a garbage collection inside the handler
  would walk a fleet's worth of objects a Lambda does not hold: before each re-plan everything alive
  is collected and frozen (``gc.freeze``), out of the collector's walks.
* **warm**: each worker runs one re-plan first that is not counted (imports, botocore clients: the
  cold start's cost, paid once per container, not per plug-in).
* **modelled Lambda time**: own CPU + requests x ``csms cost``'s DynamoDB round trip (4 ms; the
  handler sends its requests one after another).
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import statistics
import sys
import time

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
CASES = ("vehicle", "site", "region")
SITE_SIZE = 3  # chargers per region site: the smallest fleet has a fresh site for every re-plan
PLANNED = {"vehicle": 1, "site": 3, "region": SITE_SIZE + 1}


def _worker(size: int, case: str, conn) -> None:
    """Sets up a platform with ``size`` vehicles plugged in, then runs one re-plan per "go" received,
    answering (own CPU ms, moto CPU ms, wall ms, requests by operation)."""
    import gc
    import os
    from datetime import timedelta
    from unittest import mock

    import botocore.client
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    from adapters.dynamo.models import GridItemModel, create_tables
    from adapters.settings import Settings
    from csms.charging.groups import EventTarget
    from csms.charging.sites import Site
    from csms.timeutil import iso, utcnow
    from handlers import _runtime
    from handlers import scheduler as scheduler_handler
    from tests.integration.conftest import ChargerClient
    from tests.integration.test_replan_cost import _site_with_plugged_neighbours, add_plugged_in_fleet
    from tests.integration.test_scheduler_lambda import _plug_in, _store_day_around_now

    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    calls: list[str] = []
    moto_cpu = [0.0]
    make_call, stub = botocore.client.BaseClient._make_api_call, BotocoreStubber.__call__

    def counting(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
        return make_call(self, operation_name, api_params)

    def timed_stub(self, event_name, request, **kwargs):
        started = time.process_time()
        try:
            return stub(self, event_name, request, **kwargs)
        finally:
            moto_cpu[0] += time.process_time() - started

    with mock.patch.dict(os.environ, Settings.with_prefix(f"bench{size}", region="eu-west-2").as_env()), mock_aws(), \
            mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting), \
            mock.patch.object(BotocoreStubber, "__call__", timed_stub):
        _runtime.reset()
        rt = _runtime.runtime()
        create_tables()
        _store_day_around_now(rt)
        add_plugged_in_fleet(size)
        if case == "region":  # every plugged-in vehicle on a site of the region, 3 a site
            for n in range(size // SITE_SIZE):
                rt.sites.put(Site(f"R{n:05d}", 40.0, region="east"))
            with GridItemModel.batch_write() as batch:
                for i in range(size):
                    site, cp = f"R{i // SITE_SIZE:05d}", f"FLEET{i:06d}"
                    batch.save(GridItemModel(f"cp#{cp}", "site", data=site))
                    batch.save(GridItemModel(f"site#{site}", cp))
            now = utcnow()  # the event as SiteOperations.create_event stores it (its group counted once):
            rt.events.add_targeted(now, now + timedelta(hours=6), cap_kw=size * 1.5, reduction_kw=None,  # moto
                                   target=EventTarget("region", ("east",)),  # takes minutes for 500 Queries
                                   group_capacity_kw=40.0 * (size // SITE_SIZE), group_chargers=size)
        conn.send("ready")
        rep = 0
        while conn.recv() == "go":
            if case == "site":
                charger = _site_with_plugged_neighbours(rt, f"SITE{rep}", 8.0, neighbours=2)
            else:
                charger = ChargerClient(rt, f"NEW{rep}").register()
                if case == "region":
                    rt.sites.assign(f"R{rep:05d}", charger.id)
            tx = _plug_in(charger)
            calls.clear()
            moto_cpu[0] = 0.0
            gc.collect()  # moto's tables live in this process (a Lambda's heap holds no fleet): frozen out of
            gc.freeze()  # the collector's walks, so a collection inside the handler costs what it would there
            wall, cpu = time.perf_counter(), time.process_time()
            result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": charger.id}, None)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            assert result["planned"] == PLANNED[case] and result["sent"] >= 1, result
            if case == "region":  # unplugged again: the fleet stays at its size
                charger.result("StopTransaction", {"transactionId": tx, "meterStop": 0, "timestamp": iso(utcnow())})
            conn.send((1000 * (cpu - moto_cpu[0]), 1000 * moto_cpu[0], 1000 * wall, dict(collections.Counter(calls))))
            rep += 1
        _runtime.reset()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,5000")
    parser.add_argument("--repeat", type=int, default=25, help="re-plans per size and case (median reported)")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--site", action="store_true", help="only the site case (as --cases site)")
    parser.add_argument("--ddb-ms", type=float, default=None, help="DynamoDB round trip (default: csms cost's)")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    cases = ["site"] if args.site else [c for c in args.cases.split(",") if c]
    if any(c not in CASES for c in cases) or args.repeat < 1 or \
            ("region" in cases and any(s // SITE_SIZE < args.repeat + 1 for s in sizes)):
        parser.error(f"cases are {', '.join(CASES)}; --repeat >= 1; the region case needs sizes >= "
                     f"{SITE_SIZE} x (repeat + 1)")
    from csms.tooling.usage import Profile

    ddb_ms = Profile().ddb_latency_ms if args.ddb_ms is None else args.ddb_ms
    print(f"| case | vehicles plugged in | reads | writes | requests | own CPU ms (median, IQR) | moto CPU ms | wall ms "
          f"| modelled Lambda ms (own CPU + requests x {ddb_ms:g} ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    ctx = mp.get_context("fork")
    summary = []
    for case in cases:
        workers = {}
        for size in sizes:
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(size, case, theirs), daemon=True)
            proc.start()
            workers[size] = (proc, ours)
        for proc, conn in workers.values():
            assert conn.recv() == "ready"
            conn.send("go")  # a warm-up re-plan, not counted: imports, clients and the first profile of a
            conn.recv()  # container are the cold start's, not a plug-in's (a warm Lambda has them)
        samples: dict[int, list] = {s: [] for s in sizes}
        for rep in range(args.repeat):  # interleaved, the order flipped each round: 100, 5000, 5000, 100, ...
            for size in (sizes if rep % 2 == 0 else sizes[::-1]):
                conn = workers[size][1]
                conn.send("go")
                samples[size].append(conn.recv())
        for proc, conn in workers.values():
            conn.send("stop")
            proc.join(60)
        modelled = {}
        for size in sizes:
            own = [s[0] for s in samples[size]]
            counted = samples[size][-1][3]
            requests = sum(counted.values())
            reads = sum(n for op, n in counted.items() if op in READS)
            q = statistics.quantiles(own, n=4) if len(own) > 1 else [own[0]] * 3
            modelled[size] = statistics.median(own) + requests * ddb_ms
            ops = ", ".join(f"{op} x{n}" for op, n in sorted(counted.items()))
            print(f"| {case} | {size:,} | {reads} | {requests - reads} | {ops} | {statistics.median(own):.1f} "
                  f"({q[0]:.1f}-{q[2]:.1f}) | {statistics.median(s[1] for s in samples[size]):.1f} | "
                  f"{statistics.median(s[2] for s in samples[size]):.0f} | {modelled[size]:.0f} |", flush=True)
            assert len({tuple(sorted(s[3].items())) for s in samples[size]}) == 1, f"{case}/{size}: requests vary"
        lo, hi = sizes[0], sizes[-1]
        summary.append(f"{case}: own CPU {hi:,}/{lo:,} = "
                       f"{statistics.median(s[0] for s in samples[hi]) / statistics.median(s[0] for s in samples[lo]):.3f}, "
                       f"modelled Lambda {modelled[hi] / modelled[lo]:.3f}, requests "
                       f"{'same' if samples[hi][-1][3] == samples[lo][-1][3] else 'DIFFER'}")
    print()
    for line in summary:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
