"""Connectors as first-class rows (issue 22 item 6) and the composite schedule beside the profile
sent (item 4), through the real handlers and the HTTP API against moto."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tests.integration.test_authorization import _answer, _sent, online  # noqa: F401 (fixture)
from tests.integration.test_http_api import call


def _now(minutes: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


def _status(client, connector, status):
    client.result("StatusNotification", {"connectorId": connector, "errorCode": "NoError", "status": status,
                                         "timestamp": _now()})


def _meter(client, connector, tx, wh, w, at):
    client.result("MeterValues", {"connectorId": connector, **({"transactionId": tx} if tx else {}), "meterValue": [
        {"timestamp": at, "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register"},
                                           {"value": str(w), "measurand": "Power.Active.Import", "unit": "W"}]}]})


def test_a_two_connector_charger_shows_each_connector_with_its_session_and_no_stale_power(online):  # noqa: F811
    rt, client = online
    _meter(client, 2, None, 500, 7200, _now(-10))  # connector 2 drew 7.2 kW earlier, now unplugged
    _status(client, 2, "Available")
    _status(client, 1, "Charging")
    tx = client.result("StartTransaction", {"connectorId": 1, "idTag": "ALICE", "meterStart": 1000,
                                            "timestamp": _now(-5)})["transactionId"]
    _meter(client, 1, tx, 1600, 7000, _now(-1))
    status, rows = call("GET", "/v1/chargers/CP001/connectors")
    assert status == 200 and [r["id"] for r in rows] == [1, 2]
    one, two = rows
    assert one["state"] == "charging" and one["power_w"] == 7000
    assert one["session"]["transaction_id"] == tx and one["session"]["id_tag"] == "ALICE"
    assert one["session"]["energy_wh"] == 600
    assert two["state"] == "unplugged" and two["power_w"] == 0.0 and two["session"] is None
    assert call("GET", "/v1/chargers/CP001/connectors", who={"sub": "alice"})[0] == 404  # not alice's


def test_the_composite_schedule_is_asked_stored_with_its_time_and_shown_beside_the_profile_sent(online):  # noqa: F811
    rt, client = online
    profile = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "W", "startSchedule": "2026-11-30T12:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3700}]}}}
    assert call("POST", "/v1/chargers/CP001/commands", body={"action": "SetChargingProfile", "payload": profile})[0] == 202
    _answer(client, rt, {"status": "Accepted"})
    assert call("GET", "/v1/chargers/CP001/connectors/1/composite-schedule")[1]["composite"] is None
    status, asked = call("POST", "/v1/chargers/CP001/connectors/1/composite-schedule", body={"duration_s": 3600})
    assert status == 202
    frame = _sent(rt)
    assert frame[2] == "GetCompositeSchedule" and frame[3] == {"connectorId": 1, "duration": 3600}
    assert call("GET", "/v1/chargers/CP001/connectors/1/composite-schedule")[1]["pending"] == asked["command_id"]
    _answer(client, rt, {"status": "Accepted", "connectorId": 1, "scheduleStart": "2026-11-30T12:00:00Z",
                         "chargingSchedule": {"chargingRateUnit": "W", "duration": 3600,
                                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3700}]}})
    shown = call("GET", "/v1/chargers/CP001/connectors/1/composite-schedule")[1]
    assert shown["pending"] is None
    assert shown["composite"]["status"] == "Accepted" and shown["composite"]["at"]
    assert shown["composite"]["charging_schedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 3700}]
    assert shown["sent_profile"]["purpose"] == "TxDefaultProfile" and shown["sent_profile"]["status"] == "Accepted"
    bad = call("POST", "/v1/chargers/CP001/connectors/1/composite-schedule", body={"duration_s": 0})
    assert bad[0] == 422
    assert call("POST", "/v1/chargers/CP001/connectors/1/composite-schedule", who={"sub": "x"}, body={})[0] in (403, 404)


def test_a_composite_schedule_of_a_connector_the_charger_does_not_have_is_refused_with_its_count(online):  # noqa: F811
    # new-user probe: connector 7 of a two-connector charger was asked for, and the charger answered Rejected
    rt, client = online
    _status(client, 1, "Available")
    _status(client, 2, "Available")
    status, refused = call("POST", "/v1/chargers/CP001/connectors/7/composite-schedule", body={"duration_s": 3600})
    assert status == 400 and refused["message"] == ("CP001 has 2 connectors: connector_id must be 0-2 "
                                                    "(0: the charger as a whole)")
    rt.chargers.record_capabilities("CP001", {"NumberOfConnectors": "3"})  # GetConfiguration told a third
    assert call("POST", "/v1/chargers/CP001/connectors/3/composite-schedule", body={"duration_s": 3600})[0] == 202
    assert _sent(rt)[3] == {"connectorId": 3, "duration": 3600}
    assert call("POST", "/v1/chargers/CP001/connectors/4/composite-schedule", body={})[1]["message"].startswith(
        "CP001 has 3 connectors")
    # reading it is refused the same way (it said "never asked" for connector 7, as if 7 existed)
    status, shown = call("GET", "/v1/chargers/CP001/connectors/7/composite-schedule")
    assert status == 400 and shown["message"].startswith("CP001 has 3 connectors"), shown
