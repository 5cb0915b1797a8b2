"""Real concurrency against a DynamoDB server over HTTP: the conditional writes keep the
invariants when invocations race.

The server is the local platform's embedded DynamoDB (``csms_local.dynamo_serve``: moto behind
the write-ahead journal, in its own process), not moto's ThreadedMotoServer: moto does not apply
a conditional UpdateItem atomically across its request threads (check and write can interleave),
so a race could lose the newest status there although DynamoDB would not. The journal applies
every mutating request under one lock, as DynamoDB applies each item write atomically."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from adapters.dynamo.models import create_tables
from adapters.settings import Settings
from adapters.wiring import build_runtime
from csms.ocpp.commands import PendingCall
from csms.ocpp.credentials import hash_key
from csms.model import ConnectorStatus, Session
from csms_local.dynamodb import EmbeddedDynamo

T0 = datetime(2024, 6, 12, 18, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def server_runtime():
    server = EmbeddedDynamo()  # a scratch state dir, removed on stop
    server.start()
    try:
        settings = Settings.with_prefix("race", region="eu-west-2", dynamodb_endpoint=server.endpoint)
        rt = build_runtime(settings)
        create_tables()
        rt.chargers.register("CP", hash_key("0123456789abcdef"), T0)
        yield rt
    finally:
        server.stop()


def _race(n, fn):
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_racing_retries_of_one_start_transaction_get_one_id(server_runtime):
    rt = server_runtime
    session = Session("CP", 0, 1, "TAG", 100, T0, T0)
    ids = _race(8, lambda i: rt.sessions.create(session, "CP|1|race-start|100|TAG"))
    assert len(set(ids)) == 1
    assert [s.transaction_id for s in rt.sessions.list("CP") if s.meter_start_wh == 100] == ids[:1]


def test_racing_new_transactions_get_distinct_ids(server_runtime):
    rt = server_runtime
    ids = _race(8, lambda i: rt.sessions.create(Session("CP", 0, 2, "T", i, T0, T0), f"CP|2|distinct|{i}"))
    assert len(set(ids)) == 8 and min(ids) > 0


def test_racing_status_updates_keep_the_newest(server_runtime):
    rt = server_runtime
    statuses = [ConnectorStatus(3, s, "NoError", T0 + timedelta(seconds=i), T0)
                for i, s in enumerate(["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Available",
                                       "Preparing", "Charging"])]
    _race(len(statuses), lambda i: rt.connectors.record_status("CP", statuses[i]))
    (stored,) = [s for s in rt.connectors.list("CP") if s.connector_id == 3]
    assert stored.timestamp == statuses[-1].timestamp and stored.status == "Charging"


def test_only_one_invocation_claims_the_outstanding_slot(server_runtime):
    rt = server_runtime
    calls = [PendingCall("CP", f"u{i}", "ClearCache", {}, T0) for i in range(8)]
    won = _race(8, lambda i: rt.calls.claim(calls[i], "conn", T0, T0 + timedelta(seconds=60)))
    assert sum(won) == 1
    assert rt.calls.outstanding("CP").call.unique_id == calls[won.index(True)].unique_id


def test_racing_connects_and_a_stale_disconnect(server_runtime):
    rt = server_runtime
    rt.chargers.connect("CP", "old", T0)
    # a reconnect and the old socket's $disconnect race
    _race(2, lambda i: rt.chargers.connect("CP", "new", T0) if i == 0 else rt.chargers.disconnect("CP", "old", T0))
    view = rt.chargers.get("CP")
    # whatever the order, the new connection is never left marked offline
    assert view.online and view.connection_id == "new"
