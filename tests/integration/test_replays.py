"""Retries and duplicates: every charger-initiated message replayed (same unique id, and the
real-world variants with a new unique id) gets the same answer and leaves the same stored totals."""

from __future__ import annotations

import json

import pytest

START = {"connectorId": 1, "idTag": "T1", "meterStart": 1000, "timestamp": "2024-06-12T18:00:00Z"}
METER = {"connectorId": 1, "meterValue": [{"timestamp": "2024-06-12T18:30:00Z", "sampledValue": [
    {"value": "4000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]}


def _state(rt, tx):
    session = rt.sessions.get("CP001", tx)
    samples = rt.meter.for_transaction("CP001", 1, tx)
    statuses = [(s.connector_id, s.status) for s in rt.connectors.list("CP001")]
    return (session.energy_wh, session.active, session.meter_stop_wh, len(samples),
            sorted((s.timestamp, s.energy_wh, s.power_w) for s in samples), statuses, len(rt.review.list("CP001")))


@pytest.fixture
def session(charger):
    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"})
    tx = charger.result("StartTransaction", START, unique_id="start-1")["transactionId"]
    return charger, tx


def _replay(charger, action, payload, unique_id):
    first = charger.send(json.dumps([2, unique_id, action, payload]))
    state = _state(charger.rt, charger.tx)
    again = charger.send(json.dumps([2, unique_id, action, payload]))
    return first, again, state, _state(charger.rt, charger.tx)


@pytest.mark.parametrize("action, payload", [
    ("Heartbeat", {}),
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                            "timestamp": "2024-06-12T18:01:00Z"}),
    ("MeterValues", METER),
    ("Authorize", {"idTag": "T1"}),
    ("DataTransfer", {"vendorId": "acme"}),
    ("FirmwareStatusNotification", {"status": "Downloading"}),
    ("DiagnosticsStatusNotification", {"status": "Uploading"}),
    ("StartTransaction", START),
    ("StopTransaction", {"transactionId": None, "meterStop": 8500, "timestamp": "2024-06-12T19:00:00Z"}),
])
def test_same_unique_id_replayed_same_answer_same_totals(session, action, payload):
    charger, tx = session
    charger.tx = tx
    if action == "MeterValues":
        payload = {**payload, "transactionId": tx}
    if action == "StopTransaction":
        payload = {**payload, "transactionId": tx}
    first, again, state, state_again = _replay(charger, action, payload, f"replay-{action}")
    volatile = ("currentTime",)  # Heartbeat / Boot answer with the clock
    strip = lambda frame: [p if not isinstance(p, dict) else {k: v for k, v in p.items() if k not in volatile}  # noqa: E731
                           for p in json.loads(frame)]
    assert strip(first) == strip(again)
    assert state == state_again


def test_meter_values_resent_with_a_new_unique_id_are_not_counted_twice(session):
    charger, tx = session
    charger.result("MeterValues", {**METER, "transactionId": tx}, unique_id="mv-1")
    charger.result("MeterValues", {**METER, "transactionId": tx}, unique_id="mv-1-resent-after-reboot")
    charger.result("StopTransaction", {"transactionId": tx, "meterStop": 8500, "timestamp": "2024-06-12T19:00:00Z"})
    samples = charger.rt.meter.for_transaction("CP001", 1, tx)
    assert len([s for s in samples if s.timestamp.minute == 30]) == 1
    assert charger.rt.sessions.get("CP001", tx).energy_wh == 7500


def test_stop_transaction_resent_after_reboot_keeps_one_stop(session):
    charger, tx = session
    stop = {"transactionId": tx, "meterStop": 8500, "timestamp": "2024-06-12T19:00:00Z"}
    first = charger.result("StopTransaction", stop, unique_id="stop-1")
    # the charger reboots before it saw the answer, and sends the stop again with a new id
    charger.handshake()
    again = charger.result("StopTransaction", stop, unique_id="stop-after-reboot")
    assert first == again
    stored = charger.rt.sessions.get("CP001", tx)
    assert stored.energy_wh == 7500 and stored.meter_stop_wh == 8500 and not stored.active


def test_start_transaction_with_a_new_unique_id_gets_the_same_transaction(session):
    charger, tx = session
    assert charger.result("StartTransaction", START, unique_id="start-again")["transactionId"] == tx
    assert len([s for s in charger.rt.sessions.list("CP001")]) == 1
