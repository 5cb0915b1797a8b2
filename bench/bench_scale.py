"""Scale model: what each event costs at several fleet sizes, with the real handlers against moto.

For each fleet size N the tables are filled with N chargers in the steady state of a running fleet
(registered, connected, booted and configured, two connectors, a driver per two chargers, a stopped
session with its meter samples and call outcomes each, one in ten charging), then every event is
run on one probe charger and its AWS requests are counted at the botocore client:

    .venv/bin/python -m bench.bench_scale --sizes 100,1000,5000

The last line printed is one JSON object: ``{"fleet_sizes": [...], "costs": {event: {size:
{"read_requests", "write_requests", "read_units", "write_units", "management_posts",
"apigw_messages"}}}}``. Units are estimated from the bytes each request reads or writes (4 KB a
strongly consistent read unit, half for eventually consistent ones and index queries; 1 KB a
write unit, plus one per global secondary index the write changes). A per-event cost that grows
with N is a bug (issue 15); the periodic jobs (sweeper, gauge) are run with the same work due at
every size, so their cost must not grow either (the gauge's units follow the connected chargers).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import math
import os
import sys
from datetime import datetime, timedelta, timezone
from unittest import mock

EVENTS = ("meter_values", "heartbeat", "status_notification", "start_transaction", "stop_transaction",
          "call_answer", "reconnect_without_boot", "boot", "sweeper_run", "gauge_run", "operator_listing_page",
          "driver_listing", "session_view")
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
SAMPLES_PER_CHARGER = 10  # the stopped session's history (every charger has the same)
DUE_WORK = 5  # chargers with a due call and connections due to close, at every fleet size


def _size(value) -> int:
    """Approximate DynamoDB item size in bytes of a wire-format attribute map."""
    total = 0
    for name, typed in value.items():
        total += len(name)
        (kind, v), = typed.items()
        if kind in ("S", "N", "B"):
            total += len(str(v))
        elif kind == "M":
            total += 3 + _size(v)
        elif kind == "L":
            total += 3 + sum(_size({"": x}) for x in v)
        else:
            total += 1
    return total


class Meter:
    """Counts DynamoDB requests and estimated units, and management API posts, at the botocore client."""

    def __init__(self, index_keys: dict[str, set[str]]):
        self.index_keys = index_keys  # table name -> attribute names that are index keys
        self.reset()

    def reset(self) -> None:
        self.c = collections.Counter()

    def observe(self, operation: str, params: dict, response: dict) -> None:
        c = self.c
        if operation in READS:
            c["read_requests"] += 1
            strong = params.get("ConsistentRead", False) and "IndexName" not in params
            if operation == "BatchGetItem":
                items = [i for rows in response.get("Responses", {}).values() for i in rows]
            else:
                items = response.get("Items") or ([response["Item"]] if response.get("Item") else [])
            read = sum(_size(i) for i in items)
            if params.get("Select") == "COUNT":
                read = response.get("ScannedCount", 0) * 64  # keys-only index entries
            units = max(1, math.ceil(read / 4096))
            c["read_units"] += units if strong else max(0.5, units / 2)
        elif operation in WRITES:
            c["write_requests"] += 1
            if operation == "BatchWriteItem":
                for table, rows in params.get("RequestItems", {}).items():
                    for row in rows:
                        item = row.get("PutRequest", {}).get("Item", {})
                        c["write_units"] += max(1, math.ceil(_size(item) / 1024)) + self._gsi(table, item)
            elif operation == "TransactWriteItems":
                for entry in params.get("TransactItems", []):
                    (kind, body), = entry.items()
                    item = body.get("Item", {})
                    c["write_units"] += 2 * max(1, math.ceil(_size(item) / 1024)) + self._gsi(body["TableName"], item)
            else:
                item = params.get("Item") or params.get("ExpressionAttributeValues") or {}
                names = set((params.get("ExpressionAttributeNames") or {}).values()) | set(params.get("Item", {}))
                gsi = len(names & self.index_keys.get(params["TableName"], set()))
                c["write_units"] += max(1, math.ceil(_size(item) / 1024)) + gsi

    def _gsi(self, table: str, item: dict) -> int:
        return len(set(item) & self.index_keys.get(table, set()))

    def snapshot(self, posts: int, apigw: int) -> dict:
        c = self.c
        return {"read_requests": c["read_requests"], "write_requests": c["write_requests"],
                "read_units": round(c["read_units"], 1), "write_units": round(c["write_units"], 1),
                "management_posts": posts, "apigw_messages": apigw}


def _populate(rt, n: int, now: datetime) -> None:
    """N chargers in a running fleet's steady state, written with BatchWriteItem."""
    from adapters.dynamo import indexes
    from adapters.dynamo.models import CallModel, ChargerModel, ConnectorModel, KeyModel, MeterSampleModel, SessionModel
    from adapters.dynamo.sessions import TRANSACTION_COUNTER
    from csms.ocpp.credentials import hash_key

    KeyModel(TRANSACTION_COUNTER, value=10 * n + 10).save()  # new transactions after the populated ones

    from csms.ocpp.setup_policy import setup_version

    version = setup_version(rt.commander)
    password = hash_key("f" * 40)
    boot = {"vendor": "Acme", "model": "W1", "firmware_version": "1.0"}
    with ChargerModel.batch_write() as chargers, ConnectorModel.batch_write() as connectors, \
            SessionModel.batch_write() as sessions, MeterSampleModel.batch_write() as meter, \
            CallModel.batch_write() as calls:
        for i in range(n):
            cp = f"CP{i:07d}"
            shard = indexes.shard_of(cp)
            chargers.save(ChargerModel(cp, password_hash=password, created_at=now, enabled=True, online=True,
                                       connection_id=f"conn-{cp}", connected_at=now, last_seen=now, boot=boot,
                                       boot_at=now - timedelta(days=1), capabilities={}, fleet=indexes.FLEET,
                                       online_shard=shard, close_at=(now + timedelta(minutes=60)).isoformat(),
                                       setup_version=version, setup_connection_id=f"conn-{cp}",
                                       driver=f"driver-{i // 2}"))
            for connector, status in ((0, "Available"), (1, "Charging" if i % 10 == 0 else "Available")):
                connectors.save(ConnectorModel(cp, connector, status=status, error_code="NoError", status_at=now,
                                               received_at=now))
            start = now - timedelta(days=2)
            sessions.save(SessionModel(cp, 10 * i + 1, connector_id=1, id_tag="T", meter_start_wh=0, started_at=start,
                                       start_received_at=start, active=False, stopped_at=start + timedelta(hours=1),
                                       meter_stop_wh=7000, energy_wh=7000))
            if i % 10 == 0:
                sessions.save(SessionModel(cp, 10 * i + 2, connector_id=1, id_tag="T", meter_start_wh=7000,
                                           started_at=now - timedelta(hours=1), start_received_at=now, active=True,
                                           active_shard=shard))
            for k in range(SAMPLES_PER_CHARGER):
                at = start + timedelta(minutes=6 * k)
                meter.save(MeterSampleModel(f"{cp}#1", f"{at.isoformat()}#p", transaction_id=10 * i + 1, power_w=7000,
                                            energy_wh=700 * k, readings="[]", received_at=at))
            for k in range(5):
                calls.save(CallModel(cp, f"r#{now.isoformat()}#{k}", unique_id=f"u{k}", action="ChangeConfiguration",
                                     payload="{}", created_at=now, origin="setup", outcome="answered"))


def measure_size(n: int, page: int = 50) -> dict[str, dict]:
    import botocore.client
    from moto import mock_aws

    from adapters.dynamo.models import MODELS, create_tables
    from adapters.settings import Settings
    from adapters.wiring import build_operations, build_runtime
    from tests.fakes import MemoryPoster
    from csms.operations import Principal
    from csms.timeutil import iso, utcnow
    from handlers import _runtime, sweeper
    from tests.integration.conftest import ChargerClient

    env = Settings.with_prefix(f"scale{n}", region="eu-west-2").as_env()
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-2",
                "POWERTOOLS_LOG_LEVEL": "WARNING"})
    costs: dict[str, dict] = {}
    original = botocore.client.BaseClient._make_api_call
    meter: Meter | None = None

    def counting(self, operation_name, api_params):
        response = original(self, operation_name, api_params)
        if meter is not None and self.meta.service_model.service_name == "dynamodb":
            meter.observe(operation_name, api_params, response)
        return response

    with mock.patch.dict(os.environ, env), mock_aws(), \
            mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting), \
            contextlib.redirect_stdout(io.StringIO()):
        _runtime.reset()
        poster = MemoryPoster()  # keeps what is sent to chargers
        rt = _runtime.install(build_runtime(Settings.from_env(), poster=poster, counters=_runtime.lambda_counters()))
        create_tables()
        index_keys = {}
        for model in MODELS.values():
            # an index's hash key attribute marks a write that changes that index (one more write unit)
            index_keys[model.Meta.table_name] = {a.attr_name for index in model._indexes.values()
                                                 for a in index.Meta.attributes.values() if a.is_hash_key}
        now = utcnow()
        _populate(rt, n, now)
        ops = build_operations(rt)
        probe = ChargerClient(rt, "CP0000000", password="f" * 40)
        meter = Meter(index_keys)

        def record(event, fn, inbound=1):
            meter.reset()
            before = len(poster.sent)
            replies = fn()
            posts = len(poster.sent) - before
            replies = [r for r in (replies if isinstance(replies, list) else [replies]) if r]
            costs[event] = meter.snapshot(posts, inbound + len(replies) + posts)

        # the probe's own connection, older than the set-up window (steady state)
        probe.connection_id = "conn-CP0000000"
        probe.connected_at_ms = 1_700_000_000_000
        mv = lambda tx: [2, "mv", "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [  # noqa: E731
            {"timestamp": iso(utcnow()), "sampledValue": [
                {"value": "100", "measurand": "Energy.Active.Import.Register"},
                {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"}]}]}]
        record("heartbeat", lambda: probe.send(json.dumps([2, "h", "Heartbeat", {}])))
        record("status_notification", lambda: probe.send(json.dumps([2, "s", "StatusNotification", {
            "connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": iso(utcnow())}])))
        start = {"connectorId": 1, "idTag": "T", "meterStart": 7000, "timestamp": iso(utcnow())}
        holder = {}

        def start_tx():
            reply = probe.send(json.dumps([2, "st", "StartTransaction", start]))
            holder["tx"] = json.loads(reply)[2]["transactionId"]
            return reply
        record("start_transaction", start_tx)
        record("meter_values", lambda: probe.send(json.dumps(mv(holder["tx"]))))
        record("stop_transaction", lambda: probe.send(json.dumps([2, "sp", "StopTransaction", {
            "transactionId": holder["tx"], "meterStop": 7100, "timestamp": iso(utcnow())}])))
        # a platform CALL answered (the operator's command was sent first; only the answer is counted)
        call = rt.commander.send("CP0000000", "ChangeConfiguration", {"key": "K", "value": "1"})
        record("call_answer", lambda: probe.send(json.dumps([3, call.unique_id, {"status": "Accepted"}])))
        # a boot-less reconnect of a configured charger: its first message's set-up work (beyond the
        # steady Heartbeat's) and the trigger's answer; the $connect/$disconnect are in "connect"
        record("connect", lambda: [probe.handshake(), probe.disconnect("conn-CP0000000")], inbound=0)

        def reconnect():
            replies = [probe.send(json.dumps([2, "h2", "Heartbeat", {}]))]
            trigger = json.loads(poster.sent[-1][1])
            replies.append(probe.send(json.dumps([3, trigger[1], {"status": "Accepted"}])))
            return replies
        record("reconnect_without_boot", reconnect, inbound=2)
        steady = costs["heartbeat"]
        costs["reconnect_without_boot"] = {k: round(v - steady[k], 1) if k != "management_posts" else v
                                           for k, v in costs["reconnect_without_boot"].items()}
        costs["reconnect_without_boot"]["apigw_messages"] = 2  # the trigger out, its answer in
        record("boot", lambda: probe.send(json.dumps([2, "b", "BootNotification", {"chargePointVendor": "Acme",
                                                                                   "chargePointModel": "W1"}])))
        # periodic jobs with the same work due at every size: DUE_WORK chargers with a call queued past
        # the grace period, DUE_WORK connections past their close age
        from adapters.dynamo.models import CallModel, ChargerModel
        from adapters.dynamo import indexes
        past = now - timedelta(minutes=5)
        for i in range(1, DUE_WORK + 1):
            cp = f"CP{i:07d}"
            CallModel(cp, f"q#{iso(past)}#x{i}", unique_id=f"x{i}", action="ClearCache", payload="{}", created_at=past,
                      origin="operator", due_shard=indexes.shard_of(cp), due_at=iso(past)).save()
            ChargerModel(f"CP{DUE_WORK + i:07d}").update(actions=[ChargerModel.close_at.set(iso(past))])
        record("sweeper_run", lambda: [rt.commander.sweep(), sweeper.close_aged(rt, utcnow())], inbound=0)
        costs["sweeper_run"]["apigw_messages"] = costs["sweeper_run"]["management_posts"]
        record("gauge_run", lambda: rt.chargers.count_online(), inbound=0)
        operator = Principal("op", operator=True)
        record("operator_listing_page", lambda: ops.chargers_page(operator, page) and None, inbound=0)
        record("driver_listing", lambda: ops.chargers_page(Principal("driver-0"), 50) and None, inbound=0)
        record("session_view", lambda: ops.get_session(operator, "CP0000001", 11) and None, inbound=0)
        for event in ("operator_listing_page", "driver_listing", "session_view", "gauge_run"):
            costs[event]["apigw_messages"] = 0  # HTTP API requests, not WebSocket messages
        _runtime.reset()
    return costs


def flat(costs: dict[str, dict[str, dict]], sizes: list[int], tolerance: float = 0.10) -> list[str]:
    """The (event, field) pairs whose cost at the largest size is more than ``tolerance`` above the
    smallest size's (gauge_run's units follow the connected chargers by design)."""
    bad = []
    lo, hi = str(sizes[0]), str(sizes[-1])
    for event, by_size in costs.items():
        for field, value in by_size[lo].items():
            if event == "gauge_run" and field == "read_units":
                continue
            if by_size[hi][field] > value * (1 + tolerance) + 0.5:
                bad.append(f"{event}.{field}: {value} -> {by_size[hi][field]}")
    return bad


def run(sizes: list[int]) -> dict:
    page = min(50, sizes[0])  # the API's default page, or a full page at the smallest size
    per_size = {}
    for n in sizes:
        per_size[n] = measure_size(n, page)
        print(f"N={n}: " + json.dumps(per_size[n], separators=(",", ":")), file=sys.stderr, flush=True)
    events = list(EVENTS) + [e for e in per_size[sizes[0]] if e not in EVENTS]
    return {"fleet_sizes": sizes,
            "costs": {e: {str(n): per_size[n][e] for n in sizes} for e in events if e in per_size[sizes[0]]}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="fleet sizes, comma-separated")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        print("--sizes must be integers, e.g. 100,1000,5000", file=sys.stderr)
        return 2
    if not sizes or sizes[0] < 10:
        print("--sizes: at least 10 chargers per size", file=sys.stderr)
        return 2
    result = run(sizes)
    print(f"operator listing page: {min(50, sizes[0])} chargers")
    print("| event | " + " | ".join(f"N={n} reads/writes (RU/WU)" for n in sizes) + " | posts |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for event, by_size in result["costs"].items():
        cells = [f"{c['read_requests']}/{c['write_requests']} ({c['read_units']}/{c['write_units']})"
                 for c in by_size.values()]
        print(f"| {event} | " + " | ".join(cells) + f" | {by_size[str(sizes[-1])]['management_posts']} |")
    bad = flat(result["costs"], sizes)
    print("flat within 10 %: " + ("yes" if not bad else "NO: " + "; ".join(bad)))
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
