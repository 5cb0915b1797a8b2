"""The frame log's decision and recording (issue 22) with in-memory ports: nothing written while a
charger's log is off, both directions while it is on, and a failing store never costs an answer."""

from __future__ import annotations

import json
from datetime import timedelta

from csms.ocpp.frame_log import FrameLog
from csms.ocpp.v16.central import CentralSystem
from tests.fakes import MemoryChargers, MemoryConnectors, MemoryFrameLog, MemoryMeter, MemoryReview, MemorySessions
from tests.unit.test_central import NOW

HEARTBEAT = '[2,"h1","Heartbeat",{}]'


def _central(log: FrameLog) -> CentralSystem:
    chargers = MemoryChargers()
    chargers.register("CP", "hash", NOW)
    return CentralSystem(chargers, MemoryConnectors(), MemorySessions(), MemoryMeter(), MemoryReview(),
                         clock=lambda: NOW, frame_log=log)


def test_off_means_not_a_single_write_and_on_means_both_directions():
    store = MemoryFrameLog()
    central = _central(FrameLog(store))
    central.handle_frame("CP", "c1", HEARTBEAT)  # never switched on
    central.handle_frame("CP", "c1", HEARTBEAT, frame_log_until=NOW - timedelta(seconds=1))  # window over
    assert store.frames == []
    reply = central.handle_frame("CP", "c1", HEARTBEAT, frame_log_until=NOW + timedelta(hours=1))
    assert [(f.direction, f.text, f.connection_id) for f in store.frames] == [("in", HEARTBEAT, "c1"), ("out", reply, "c1")]
    assert store.frames[0].action == "Heartbeat" and store.frames[1].action is None


def test_always_logs_every_charger_even_an_unreadable_frame():
    store = MemoryFrameLog()
    central = _central(FrameLog(store, always=True))
    reply = central.handle_frame("CP", "c1", b"[2,\"x\",\"Heartbeat\",{}]\xff")
    assert json.loads(reply)[0] == 4  # answered with an error ...
    assert store.frames[0].text.endswith("\\xff") and store.frames[1].text == reply  # ... and both kept


def test_a_failing_store_never_costs_the_charger_its_answer():
    class Broken(MemoryFrameLog):
        def add(self, frame):
            raise OSError("table gone")

    reply = _central(FrameLog(Broken(), always=True)).handle_frame("CP", "c1", HEARTBEAT)
    assert json.loads(reply)[:2] == [3, "h1"]
