"""Hostile input at volume: N frames (mutated real frames, random JSON, random bytes, oversized and
deeply nested ones) through the real ``$default`` handler against moto's DynamoDB. Every reply must
be a valid OCPP-J CALLRESULT/CALLERROR (or none), no exception may escape the domain, and a data
problem is never answered InternalError.

    .venv/bin/python -m bench.fuzz_frames --frames 100000 [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from unittest import mock


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.random()
    if depth > 3 or kind < 0.4:
        return rng.choice([None, True, -1, 0, 2**70, 1e308, "", "x" * rng.randrange(0, 50), "2024-06-12T18:00:00Z"])
    if kind < 0.7:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {rng.choice(["connectorId", "transactionId", "meterValue", "status", "idTag", "value", "k"]):
            _random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def frames(n: int, seed: int):
    from tests.unit.test_central import REAL_FRAMES, _mutate

    rng = random.Random(seed)
    for i in range(n):
        r = rng.random()
        if r < 0.6:
            yield json.dumps(_mutate(rng.choice(REAL_FRAMES), rng))
        elif r < 0.8:
            yield json.dumps([2, f"f{i}", rng.choice(["MeterValues", "StartTransaction", "StopTransaction",
                                                      "StatusNotification", "Nope"]), _random_json(rng)])
        elif r < 0.9:
            yield json.dumps(_random_json(rng))
        elif r < 0.97:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))).decode("latin-1")
        elif r < 0.99:
            yield "[" * 5000 + "]" * 5000
        else:
            yield json.dumps([2, f"big{i}", "DataTransfer", {"vendorId": "v", "data": "x" * 30_000}])


def check(reply: str | None) -> None:
    if reply is None:
        return
    message = json.loads(reply)
    assert isinstance(message, list) and message[0] in (3, 4), reply
    if message[0] == 4:
        assert len(message) == 5 and message[2] != "InternalError", reply


def run(n: int, seed: int) -> dict:
    from moto import mock_aws

    from adapters.dynamo.models import create_tables
    from adapters.settings import Settings
    from csms.ocpp.credentials import hash_key
    from handlers import _runtime, default
    from tests import events

    env = Settings.with_prefix("fuzz", region="eu-west-2").as_env()
    env.update({"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "CRITICAL"})
    escaped = []
    with mock.patch.dict(os.environ, env), mock_aws():
        _runtime.reset()
        rt = _runtime.runtime()
        create_tables()
        from datetime import datetime, timezone

        rt.chargers.register("CP001", hash_key("0123456789abcdef0123"), datetime.now(timezone.utc))
        with mock.patch.object(default.logger, "exception", lambda *a, **k: escaped.append(a)):
            started = time.perf_counter()
            count = 0
            for frame in frames(n, seed):
                response = default.lambda_handler(events.default_event("CP001", "conn-fuzz", frame), None)
                assert response["statusCode"] == 200
                check(response.get("body"))
                count += 1
            elapsed = time.perf_counter() - started
        _runtime.reset()
    assert not escaped, f"{len(escaped)} exceptions escaped the domain"
    return {"frames": count, "seconds": round(elapsed, 1), "escaped": len(escaped)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.frames, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
