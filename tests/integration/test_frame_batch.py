"""The local platform's frame log (always on) is written in batches after the answer
(``adapters.dynamo.frame_batch``), through the real handlers against moto: a charger's answer costs
no frame write on its path, and the log still shows every frame already answered."""

from __future__ import annotations

import dataclasses
import json

import pytest

from adapters.dynamo.frame_batch import BatchedFrameLog
from adapters.wiring import build_runtime
from handlers import _runtime
from tests.integration.conftest import ChargerClient
from tests.integration.test_http_api import call
from tests.integration.test_request_counts import _count, dynamodb_calls  # noqa: F401 (fixture)


@pytest.fixture
def local_charger(platform):
    """CP001 against a runtime built as the local platform builds it (frame log always on)."""
    rt = _runtime.install(build_runtime(dataclasses.replace(platform.settings, frame_log_always=True),
                                        counters=_runtime.lambda_counters()))
    assert isinstance(rt.frame_log.store, BatchedFrameLog)
    charger = ChargerClient(rt, "CP001").register()
    yield charger
    rt.frame_log.store.close()


def test_the_answer_costs_no_frame_write_and_the_log_shows_every_frame_answered(local_charger, dynamodb_calls):
    local_charger.handshake()
    local_charger.connected_at_ms = 1_700_000_000_000  # past the set-up window
    store = local_charger.rt.frame_log.store
    store.flush()
    dynamodb_calls.clear()
    for n in range(30):
        local_charger.result("MeterValues", {"connectorId": 1, "meterValue": [{
            "timestamp": f"2024-06-12T18:00:{n:02d}Z", "sampledValue": [{"value": str(1000 + n)}]}]})
    on_path = [op for op in dynamodb_calls if op != "BatchWriteItem"]  # the writer thread's requests aside
    assert _count(on_path)[:2] == (0, 30) and "PutItem" in _count(on_path)[2]  # one write per reading, as in AWS
    frames = call("GET", "/v1/chargers/CP001/log", query={"limit": "100"})[1]["frames"]  # waits for the queue
    assert len(frames) == 60 and [f["direction"] for f in frames[:2]] == ["out", "in"]
    assert json.loads(frames[1]["text"])[3]["meterValue"][0]["sampledValue"][0]["value"] == "1029"
    assert dynamodb_calls.count("BatchWriteItem") >= 1


def test_frames_waiting_while_the_writer_is_busy_go_out_together(local_charger, dynamodb_calls):
    from datetime import datetime, timezone

    from csms.ocpp.frame_log import LoggedFrame

    store = local_charger.rt.frame_log.store
    store.flush()
    dynamodb_calls.clear()
    with store._cond:  # the writer cannot take anything until all 60 wait (the lock is re-entrant)
        for n in range(60):
            store.add(LoggedFrame("CP001", datetime(2024, 6, 12, 18, 0, n % 60, n, tzinfo=timezone.utc), "in",
                                  f'[2,"h{n}","Heartbeat",{{}}]', "c1", f"{n:06x}"))
    assert store.flush()
    assert dynamodb_calls == ["BatchWriteItem"] * 3  # 25 + 25 + 10, not 60 requests
    assert len(store.page("CP001", 100)[0]) == 60


def test_a_graceful_stop_writes_what_is_queued_and_later_frames_are_written_at_once(local_charger):
    local_charger.handshake()
    store = local_charger.rt.frame_log.store
    local_charger.result("Heartbeat", {})
    store.close()  # the platform's stop
    assert len(store.page("CP001", 100)[0]) == 2
    local_charger.result("Heartbeat", {})  # answered while the platform stops
    assert len(store.page("CP001", 100)[0]) == 4 and store.dropped == 0
