"""The central system with in-memory repositories: fast, many examples."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.ocpp.v16.central import CentralSystem
from tests.fakes import MemoryChargers, MemoryConnectors, MemoryMeter, MemoryReview, MemorySessions

NOW = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)

REAL_FRAMES = [
    [2, "1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22", "firmwareVersion": "1.0"}],
    [2, "2", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": "2024-06-12T18:00:00Z"}],
    [2, "3", "StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": 100, "timestamp": "2024-06-12T18:00:00Z"}],
    [2, "4", "MeterValues", {"connectorId": 1, "transactionId": 1, "meterValue": [{"timestamp": "2024-06-12T18:01:00Z", "sampledValue": [
        {"value": "150", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "230", "measurand": "Voltage", "unit": "V", "phase": "L1-N"}]}]}],
    [2, "5", "StopTransaction", {"transactionId": 1, "meterStop": 500, "timestamp": "2024-06-12T19:00:00Z", "reason": "Local",
                                 "transactionData": [{"timestamp": "2024-06-12T19:00:00Z", "sampledValue": [{"value": "500"}]}]}],
    [2, "6", "Heartbeat", {}],
    [2, "7", "Authorize", {"idTag": "TAG"}],
]


def _central(meter=None):
    chargers = MemoryChargers()
    chargers.register("CP", "hash", NOW)
    return CentralSystem(chargers, MemoryConnectors(), MemorySessions(), meter or MemoryMeter(), MemoryReview(),
                         clock=lambda: NOW)


def _valid_reply(reply):
    if reply is None:
        return
    message = json.loads(reply)
    assert message[0] in (3, 4) and isinstance(message[1], str) and 0 < len(message[1]) <= 36
    if message[0] == 4:
        assert message[2] != "InternalError", reply


def test_real_frames_are_all_accepted():
    central = _central()
    for frame in REAL_FRAMES:
        assert json.loads(central.handle_frame("CP", "c1", json.dumps(frame)))[0] == 3


def _mutate(value, rng):
    """Replace, drop or retype one random leaf of a real frame."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        choice = rng.random()
        out = dict(value)
        if choice < 0.2:
            del out[key]
        elif choice < 0.6:
            out[key] = _mutate(out[key], rng)
        else:
            out[key] = rng.choice([None, -1, 2**70, "", "x" * 600, [], {}, 1e308, True, "1970-01-01T00:00:00Z"])
        return out
    if isinstance(value, list) and value:
        out = list(value)
        i = rng.randrange(len(out))
        out[i] = _mutate(out[i], rng)
        return out
    return rng.choice([None, -1, 0, 3.5, "", "NaN", "Charging", [], {}])


def test_mutated_real_frames_never_get_an_internal_error():
    rng = random.Random(1234)
    central = _central()
    for _ in range(3000):
        frame = _mutate(rng.choice(REAL_FRAMES), rng)
        _valid_reply(central.handle_frame("CP", "c1", json.dumps(frame)))


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_bytes_never_raise(frame):
    _valid_reply(_central().handle_frame("CP", "c1", frame))


def test_storage_failure_answers_internal_error_so_the_charger_retries():
    class BrokenMeter(MemoryMeter):
        def put(self, samples):
            raise ConnectionError("DynamoDB unavailable")

    reply = json.loads(_central(BrokenMeter()).handle_frame("CP", "c1", json.dumps(REAL_FRAMES[3])))
    assert reply[0] == 4 and reply[2] == "InternalError"


def test_deeply_nested_and_huge_frames_are_answered():
    deep = "[" * 5000 + "]" * 5000
    central = _central()
    assert json.loads(central.handle_frame("CP", "c1", deep))[2] == "FormationViolation"
    huge_number = '[2,"h","StatusNotification",{"connectorId":' + "9" * 400 + ',"errorCode":"NoError","status":"Available"}]'
    assert json.loads(central.handle_frame("CP", "c1", huge_number))[0] == 4


@pytest.mark.parametrize("bad", [b"\xff\xfe", b'[2,"x","Heartbeat",{}]\xff'])
def test_invalid_utf8_is_a_formation_violation(bad):
    assert json.loads(_central().handle_frame("CP", "c1", bad))[2] == "FormationViolation"
