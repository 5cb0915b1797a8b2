"""The fleet run's messages and in-process queue (``csms.charging.fanout``), with the in-memory fakes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from csms.charging.fanout import (FLEET, STALE_AFTER, BadMessage, InProcessQueue, ProfileOrder, QueuedSink, ShardTask,
                                  dispatch)
from csms.charging.scheduler import Interval, PlugIn, SmartScheduler, periods, plan_hash
from csms.model import Session
from tests.fakes import MemoryActiveShards, MemorySessions, MemoryWorkQueue

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def test_dispatch_queues_a_charger_task_and_a_site_task_per_shard_or_one_fleet_task_under_a_shared_limit():
    queue = MemoryWorkQueue()
    assert dispatch([str(i) for i in range(16)], queue, T0, shared_limit=False) == 32
    tasks = [ShardTask.from_body(b) for b in queue.bodies]
    for kind in ("shard", "sites"):
        assert sorted(t.shard for t in tasks if t.kind == kind) == sorted(str(i) for i in range(16))
    assert queue.puts == 4  # SendMessageBatch takes 10 at most
    shared = MemoryWorkQueue()
    assert dispatch([str(i) for i in range(16)], shared, T0, shared_limit=True) == 1
    assert ShardTask.from_body(shared.bodies[0]) == ShardTask(FLEET, T0)


def test_a_profile_order_carries_the_plan_as_the_scheduler_would_send_and_store_it():
    plan = [Interval(T0, T0 + timedelta(hours=1), 7400.0), Interval(T0 + timedelta(hours=1), T0 + timedelta(hours=3), 0.0)]
    plug = PlugIn("CP1", 2, 77, T0 - timedelta(hours=1), 0.0, 7400.0)
    queue = MemoryWorkQueue()
    sink = QueuedSink(queue, batch=10)
    assert sink.send(plug, plan, T0) and queue.bodies == []  # batched until flushed
    assert sink.flush() == 1
    body = json.loads(json.dumps(queue.bodies[0]))  # through JSON, as SQS carries it
    order = ProfileOrder.from_body(body)
    assert (order.charge_point_id, order.connector_id, order.transaction_id) == ("CP1", 2, 77)
    assert order.periods() == periods(plan, T0) and order.digest == plan_hash(plan)
    assert json.loads(order.plan_json())[0][2] == 7400
    assert not order.stale(T0 + STALE_AFTER) and order.stale(T0 + STALE_AFTER + timedelta(seconds=1))


@pytest.mark.parametrize("body", [
    "text", {"kind": "shard"}, {"kind": "shard", "shard": 3, "runAt": "2026-11-30T12:00:00Z"},
    {"kind": "shard", "shard": "3", "runAt": "soon"}, {"kind": "profile", "chargePointId": "CP1"},
    {"kind": "profile", "chargePointId": "CP1", "connectorId": True, "transactionId": 1, "at": "2026-11-30T12:00:00Z",
     "digest": "d", "plan": [["2026-11-30T12:00:00Z", "2026-11-30T13:00:00Z", 7400]]},
    {"kind": "profile", "chargePointId": "CP1", "connectorId": 1, "transactionId": 1, "at": "2026-11-30T12:00:00Z",
     "digest": "d", "plan": [["2026-11-30T12:00:00Z", 7400]]}])
def test_a_message_that_is_not_a_task_or_order_is_refused_by_name(body):
    with pytest.raises(BadMessage):
        (ShardTask if isinstance(body, dict) and body.get("kind") == "shard" else ProfileOrder).from_body(body)


def test_the_in_process_queue_redelivers_a_failed_message_then_dead_letters_it():
    queue = InProcessQueue(max_receives=3)
    queue.put([{"n": 1}, {"n": 2}, {"n": 3}])
    seen = []

    def consume(body):
        seen.append(body["n"])
        if body["n"] == 2:
            raise RuntimeError("poisoned")
        if body["n"] == 1 and seen.count(1) == 1:
            raise RuntimeError("throttled once")
        if body["n"] == 3:
            queue.put([{"n": 4}])  # a consumer may queue more (a shard's next page)
    delivered, failed = queue.drain(consume)
    assert sorted(seen) == [1, 1, 2, 2, 2, 3, 4] and (delivered, failed) == (7, 4)
    assert queue.dead == [{"n": 2}]


def test_a_shard_is_read_in_pages_and_every_active_session_is_in_one_shard():
    sessions = MemorySessions()
    for i in range(40):
        sessions.create(Session(f"CP{i}", 0, 1, "T", 0, T0, T0), f"k{i}")
    active = MemoryActiveShards(sessions)
    seen = []
    for shard in active.shards():
        cursor = None
        while True:
            page, cursor = active.page(shard, 3, cursor)
            assert len(page) <= 3
            seen += [s.charge_point_id for s in page]
            if cursor is None:
                break
    assert sorted(seen) == sorted(f"CP{i}" for i in range(40))


def test_queued_plans_are_the_ones_the_scheduler_would_send_and_none_is_stored_before_it_is_sent():
    from csms.charging.tariff import Signals

    starts = tuple(T0 + timedelta(minutes=30 * i) for i in range(48))
    prices = tuple(float(10 + (i * 7) % 23) for i in range(48))  # uneven: the cheapest slots are spread out
    signals = Signals(starts, prices, (100.0,) * 48, (100.0,) * 48)
    plugs = [PlugIn(f"CP{i}", 1, i, T0 - timedelta(hours=1), 0.0, 7400.0) for i in range(5)]
    queue = MemoryWorkQueue()
    sink = QueuedSink(queue, batch=2)
    report = SmartScheduler(lambda: signals, sink, lambda: T0).run(plugs)
    sink.flush()
    assert report.sent == 5 and len(queue.bodies) == 5 and queue.puts == 3
    direct = SmartScheduler(lambda: signals, sink, lambda: T0)
    for plug, body in zip(plugs, queue.bodies):
        assert ProfileOrder.from_body(body).digest == plan_hash(direct.plan(plug, T0, signals))


def test_the_profiles_sent_for_a_site_never_add_up_to_more_than_its_planned_limit():
    from datetime import datetime, timedelta, timezone

    from csms.charging.fanout import ProfileOrder
    from csms.charging.scheduler import Interval, periods

    at = datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc)
    end = at + timedelta(minutes=30)
    planned_w = [3333.6, 3333.6, 3332.8]  # a 10 kW site's LP plan: 10,000.0 W together
    sent = [ProfileOrder("CP", 1, n, at, ((at, end, w),), "h").periods()[0][1] for n, w in enumerate(planned_w)]
    direct = [periods([Interval(at, end, w)], at)[0][1] for w in planned_w]
    assert sum(sent) <= 10_000 and sum(direct) <= 10_000  # to nearest W: 10,001 W, over the limit
    assert sent == direct == [3333, 3333, 3332]
