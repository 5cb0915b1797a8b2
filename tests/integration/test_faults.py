"""Injected faults: DynamoDB throttling and timeouts on the hot path, a scheduler run that fails
halfway. Each has a defined outcome and no transaction data is lost."""

from __future__ import annotations

import json
from datetime import timedelta

import botocore.client
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from adapters.smart_charging import run_scheduler
from csms.charging import signals
from csms.charging import tariff
from csms.timeutil import iso, utcnow
from tests.integration.test_scheduler_lambda import DATA


def _fail(monkeypatch, operation, error, times=1):
    original = botocore.client.BaseClient._make_api_call
    left = {"n": times}

    def flaky(self, name, params):
        if name == operation and left["n"] > 0:
            left["n"] -= 1
            raise error
        return original(self, name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", flaky)


THROTTLED = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem")


@pytest.mark.parametrize("error", [THROTTLED, ReadTimeoutError(endpoint_url="http://dynamodb")],
                         ids=["throttled", "timeout"])
def test_meter_values_storage_fault_answers_internal_error_and_the_retry_is_stored_once(charger, monkeypatch, error):
    charger.handshake()
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                             "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    frame = {"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2024-06-12T18:01:00Z",
                                                                    "sampledValue": [{"value": "120"}]}]}
    _fail(monkeypatch, "PutItem", error, times=10)  # botocore's own retries are exhausted too
    answer = charger.call("MeterValues", frame, unique_id="mv")
    assert answer[0] == 4 and answer[2] == "InternalError"  # the charger keeps it and retries
    monkeypatch.undo()
    assert charger.result("MeterValues", frame, unique_id="mv") == {}
    assert [s.energy_wh for s in charger.rt.meter.for_transaction("CP001", 1, tx)] == [120]


def test_stop_transaction_storage_fault_loses_nothing(charger, monkeypatch):
    charger.handshake()
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                             "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    stop = {"transactionId": tx, "meterStop": 5000, "timestamp": "2024-06-12T19:00:00Z"}
    _fail(monkeypatch, "UpdateItem", THROTTLED, times=10)
    assert charger.call("StopTransaction", stop)[2] == "InternalError"
    assert charger.rt.sessions.get("CP001", tx).active  # not half-stopped
    monkeypatch.undo()
    charger.result("StopTransaction", stop)
    stored = charger.rt.sessions.get("CP001", tx)
    assert not stored.active and stored.energy_wh == 5000


def test_scheduler_run_failing_halfway_sends_the_rest_and_retries_the_failed_next_run(platform, poster, monkeypatch):
    from tests.integration.conftest import ChargerClient

    recorded = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    platform.signals.put(signals.rows_from_signals(tariff.replayed(recorded, utcnow())), utcnow())
    chargers = [ChargerClient(platform, f"CP{i}").register() for i in range(3)]
    for c in chargers:
        c.handshake()
        c.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": iso(utcnow())})
        platform.chargers.set_preference(c.id, utcnow() + timedelta(hours=8), 12)
    original = platform.commander.set_limit
    calls = {"n": 0}

    def dies_on_the_second(charge_point_id, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise TimeoutError("DynamoDB timed out")
        return original(charge_point_id, *args, **kwargs)

    monkeypatch.setattr(platform.commander, "set_limit", dies_on_the_second)
    report = run_scheduler(platform)
    assert report.sent == 2 and len(report.skipped) == 1
    monkeypatch.undo()
    again = run_scheduler(platform)
    assert again.sent == 1 and again.unchanged == 2  # only the one that failed is sent now
    for c in chargers:
        assert [q.action for q in platform.calls.queued(c.id)].count("SetChargingProfile") == 1
