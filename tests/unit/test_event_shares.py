"""The pure parts of an event's two stages across the fleet run's tasks (``csms.charging.event_shares``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from csms.charging.event_shares import ShareTask, Tally, class_key, event_cap, event_slots, plan_shares, slot_load, split
from csms.charging.fanout import BadMessage

T0 = datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def test_shares_follow_the_load_add_up_to_the_cap_and_split_equally_where_nobody_drew():
    shares = split([30.0, 30.0, 12.0], {"a": [10.0, 0.0, 0.0], "b": [30.0, 5.0, 0.0], "c": [0.0, 15.0, 0.0]})
    assert shares["a"] == pytest.approx([7.5, 0.0, 4.0]) and shares["b"] == pytest.approx([22.5, 7.5, 4.0])
    assert shares["c"] == pytest.approx([0.0, 22.5, 4.0])
    for t in range(3):
        assert sum(s[t] for s in shares.values()) == pytest.approx([30.0, 30.0, 12.0][t])
    with pytest.raises(ValueError):
        split([1.0], {"a": [1.0, 2.0]})


def test_a_plan_is_counted_in_the_slots_it_overlaps_pro_rata_and_only_inside_the_event():
    slots = event_slots(T0 + timedelta(minutes=10), T0 + 2 * H, T0 - H)  # 16:10-18:00 -> 16:00 .. 17:30
    assert slots == [T0 + i * timedelta(minutes=30) for i in range(4)]
    load = slot_load([[(T0 - H, T0 + timedelta(minutes=45), 7400.0)], [(T0 + H, T0 + 3 * H, 11000.0)]], slots)
    assert load == pytest.approx([7.4, 3.7, 11.0, 11.0])
    assert event_slots(T0 + 72 * H, T0 + 73 * H, T0) == []  # beyond the planning horizon


def test_stage_two_tasks_give_every_unit_its_share_of_each_of_its_events():
    first = "2026-11-30T16:00:00Z"
    records = {
        "shard:1:": {"R": {"source": "shard", "first": {"R": first}, "loads": {"R": [20.0, 0.0]}, "capacity": {"R": 22.2}}},
        "sites:4:": {"R": {"source": "sites", "first": {"R": first}, "loads": {"R": [60.0, 10.0]}, "capacity": {"R": 30.0}},
                     "R+X": {"source": "sites", "first": {"R": first, "X": first},
                             "loads": {"R": [20.0, 10.0], "X": [20.0, 10.0]}, "capacity": {"R": 10.0, "X": 10.0}}},
        "shard:2:": {"": {"source": "shard", "first": {}, "loads": {}, "capacity": {}}},
    }
    tasks = {(t.task, t.cls): t for t in plan_shares(records, {"R": (50.0, None), "X": (None, 4.0)}, T0)}
    assert tasks[("shard:1:", "R")].shares["R"][1] == pytest.approx((10.0, 0.0))
    assert tasks[("sites:4:", "R")].shares["R"][1] == pytest.approx((30.0, 25.0))
    assert tasks[("sites:4:", "R+X")].shares["X"][1] == pytest.approx((6.0, 6.0))  # 10 kW capacity - 4 kW reduction
    assert sum(t.shares["R"][1][0] for t in tasks.values() if "R" in t.shares) == pytest.approx(50.0)
    again = ShareTask.from_body(tasks[("sites:4:", "R+X")].body())
    assert again.source == "sites" and again.caps()[0] == (T0, T0 + timedelta(minutes=30), 10.0)
    assert tasks[("shard:2:", "")].shares == {}  # a unit whose event ended meanwhile: planned with no cap
    with pytest.raises(BadMessage):
        ShareTask.from_body({**again.body(), "source": "elsewhere"})


def test_the_run_is_complete_when_every_expected_task_is_counted():
    assert not Tally(0, 0).complete() and not Tally(33, 32).complete() and Tally(33, 33).complete()
    assert class_key(["b", "a", "b"]) == "a+b" and class_key([]) == ""
    assert event_cap(None, 30.0, 20.0) == 0.0 and event_cap(12.0, None, 99.0) == 12.0
