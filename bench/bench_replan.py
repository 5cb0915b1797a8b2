"""A plug-in's re-plan at fleet sizes: DynamoDB requests (counted at the botocore client) and wall
time of the scheduler handler invoked for one charger, with 100, 1,000 and 5,000 other vehicles
plugged in, against moto (no AWS). Flat is the goal: no request or time grows with the fleet.

    .venv/bin/python -m bench.bench_replan [--sizes 100,1000,5000] [--repeat 5] [--site]

``--site``: the plug-in is on a site whose limit binds, so its site (three vehicles) is re-planned.

Wall time is moto's in-process DynamoDB on a shared machine: compare the sizes, not the absolute
milliseconds (a real Lambda adds ~5-10 ms per DynamoDB request).
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from unittest import mock

import botocore.client

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--site", action="store_true",
                        help="the plug-in is on a site whose 8 kW limit binds (2 neighbours plugged in): the site is re-planned")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]

    import os

    from moto import mock_aws

    from adapters.dynamo.models import create_tables
    from adapters.settings import Settings
    from handlers import _runtime
    from handlers import scheduler as scheduler_handler
    from tests.integration.conftest import ChargerClient
    from tests.integration.test_replan_cost import _site_with_plugged_neighbours, add_plugged_in_fleet
    from tests.integration.test_scheduler_lambda import _plug_in, _store_day_around_now

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
        return original(self, operation_name, api_params)

    print("| vehicles plugged in | reads | writes | requests | median handler ms |")
    print("|---|---|---|---|---|")
    with mock.patch.dict(os.environ, Settings.with_prefix("bench", region="eu-west-2").as_env()), mock_aws(), \
            mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting):
        _runtime.reset()
        rt = _runtime.runtime()
        create_tables()
        _store_day_around_now(rt)
        added = 0
        for size in sizes:
            add_plugged_in_fleet(size - added, added)
            added = size
            times, counted = [], collections.Counter()
            for r in range(args.repeat):
                if args.site:
                    charger = _site_with_plugged_neighbours(rt, f"SITE{size}-{r}", 8.0, neighbours=2)
                else:
                    charger = ChargerClient(rt, f"NEW{size}-{r}").register()
                _plug_in(charger)
                calls.clear()
                started = time.perf_counter()
                result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": charger.id}, None)
                times.append(1000 * (time.perf_counter() - started))
                assert result["planned"] == (3 if args.site else 1) and result["sent"] >= 1, result
                counted = collections.Counter(calls)
            reads = sum(n for op, n in counted.items() if op in READS)
            writes = sum(n for op, n in counted.items() if op in WRITES)
            ops = ", ".join(f"{op} x{n}" for op, n in sorted(counted.items()))
            print(f"| {size:,} | {reads} | {writes} | {ops} | {statistics.median(times):.0f} |", flush=True)
        _runtime.reset()
    return 0


if __name__ == "__main__":
    sys.exit(main())
