"""The operator console (issue 22) through the real handlers against moto: the frame log switched
on per charger in AWS (and what it costs per frame), alerts, session tools, unknown chargers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.conftest import ChargerClient
from tests.integration.test_http_api import ALICE, call
from tests.integration.test_request_counts import _count, dynamodb_calls  # noqa: F401 (fixture)


# ---------------------------------------------------------------- frame log
def test_in_aws_the_frame_log_is_off_until_an_operator_switches_it_on(charger):
    # Given a connected charger whose log nobody switched on
    charger.handshake()
    charger.result("Heartbeat", {})
    status, log = call("GET", "/v1/chargers/CP001/log")
    assert status == 200 and log["frames"] == [] and log["logging"] == {"always": False, "until": None}
    # When an operator switches it on for two hours
    status, switched = call("PUT", "/v1/chargers/CP001/log", body={"hours": 2})
    assert status == 200 and switched["until"] is not None
    # Then the sweeper closes the current connection now (the next one carries the switch) ...
    due = charger.rt.chargers.due_to_close(datetime.now(timezone.utc))
    assert ("CP001", charger.connection_id) in due
    # ... and the next connection's frames are logged both ways, newest first
    charger.handshake()
    charger.result("Heartbeat", {})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    frames = call("GET", "/v1/chargers/CP001/log")[1]["frames"]
    assert [(f["direction"], f["action"]) for f in frames] == [
        ("out", None), ("in", "StatusNotification"), ("out", None), ("in", "Heartbeat")]
    assert json.loads(frames[1]["text"])[3]["status"] == "Available"
    assert frames[0]["connection_id"] == charger.connection_id
    # Switched off: nothing more is written
    assert call("PUT", "/v1/chargers/CP001/log", body={"hours": 0})[1]["until"] is None


def test_the_log_is_searched_filtered_and_paged(charger):
    call("PUT", "/v1/chargers/CP001/log", body={"hours": 1})
    charger.handshake()
    for _ in range(3):
        charger.result("Heartbeat", {})
    charger.result("Authorize", {"idTag": "TAG-42"})
    found = call("GET", "/v1/chargers/CP001/log", query={"q": "TAG-42"})[1]["frames"]
    assert [f["action"] for f in found] == ["Authorize"]
    incoming = call("GET", "/v1/chargers/CP001/log", query={"direction": "in"})[1]["frames"]
    assert [f["action"] for f in incoming] == ["Authorize", "Heartbeat", "Heartbeat", "Heartbeat"]
    first = call("GET", "/v1/chargers/CP001/log", query={"limit": "3"})[1]
    rest = call("GET", "/v1/chargers/CP001/log", query={"limit": "50", "cursor": first["next_cursor"]})[1]
    assert len(first["frames"]) == 3 and len(rest["frames"]) == 5 and rest["next_cursor"] is None
    assert {f["at"] for f in first["frames"]}.isdisjoint(f["at"] for f in rest["frames"])
    # a live tail: only what came after the newest frame seen
    newest = first["frames"][0]["at"]
    assert call("GET", "/v1/chargers/CP001/log", query={"after": newest})[1]["frames"] == []
    charger.result("Heartbeat", {})
    assert len(call("GET", "/v1/chargers/CP001/log", query={"after": newest})[1]["frames"]) == 2


def test_the_log_is_for_operators_and_bounded(charger):
    assert call("GET", "/v1/chargers/CP001/log", who=ALICE)[0] == 403
    assert call("PUT", "/v1/chargers/CP001/log", who=ALICE, body={"hours": 1})[0] == 403
    assert call("GET", "/v1/chargers/NOPE/log")[0] == 404
    assert call("PUT", "/v1/chargers/NOPE/log", body={"hours": 1})[0] == 404
    status, body = call("PUT", "/v1/chargers/CP001/log", body={"hours": 73})
    assert status == 422 and "hours" in body["message"]
    assert call("GET", "/v1/chargers/CP001/log", query={"direction": "sideways"})[0] == 422
    assert call("GET", "/v1/chargers/CP001/log", query={"cursor": "bad"})[0] == 400


def test_a_frame_costs_nothing_while_the_log_is_off_and_one_write_each_way_while_on(charger, dynamodb_calls):
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000  # past the set-up window
    dynamodb_calls.clear()
    charger.result("Heartbeat", {})
    assert _count(dynamodb_calls)[:2] == (0, 1)  # off: the Heartbeat's own write, no read
    call("PUT", "/v1/chargers/CP001/log", body={"hours": 1})
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000
    dynamodb_calls.clear()
    charger.result("Heartbeat", {})
    reads, writes, ops = _count(dynamodb_calls)
    assert (reads, writes) == (0, 3) and ops["PutItem"] == 2  # on: + the frame in and its reply; still no read


# ---------------------------------------------------------------- alerts
def _alerts(kind=None):
    return call("GET", "/v1/alerts", query={"kind": kind} if kind else None)[1]


def test_a_fault_is_an_alert_with_its_details_and_the_connector_shows_them_without_a_stale_power(charger):
    charger.handshake()
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                             "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    charger.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [{
        "timestamp": "2024-06-12T18:01:00Z", "sampledValue": [{"value": "7200", "measurand": "Power.Active.Import",
                                                               "unit": "W"}]}]})
    charger.result("StopTransaction", {"transactionId": tx, "meterStop": 120, "timestamp": "2024-06-12T18:02:00Z"})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    (connector,) = call("GET", "/v1/chargers/CP001")[1]["connectors"]
    assert connector["state"] == "unplugged" and connector["power_w"] == 0.0  # not the last session's 7.2 kW
    assert _alerts() == []
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted",
                                          "info": "RCD tripped", "vendorId": "Acme", "vendorErrorCode": "E-17"})
    (alert,) = _alerts("faulted")
    assert alert["charger"] == "CP001" and alert["detail"] == {
        "connector_id": 1, "status": "Faulted", "error_code": "GroundFailure", "info": "RCD tripped",
        "vendor_id": "Acme", "vendor_error_code": "E-17"}
    (connector,) = call("GET", "/v1/chargers/CP001")[1]["connectors"]
    assert (connector["state"], connector["error_code"], connector["info"], connector["vendor_error_code"],
            connector["power_w"]) == ("faulted", "GroundFailure", "RCD tripped", "E-17", 0.0)


def test_offline_longer_than_the_threshold_is_one_alert_and_a_reconnect_in_time_none(charger):
    rt = charger.rt
    charger.handshake()
    charger.disconnect(code=1000)  # a clean close (the platform's own, at the connection's age): no check
    assert rt.alerts.check_due(datetime.now(timezone.utc) + timedelta(minutes=16)) == 0
    charger.handshake()
    charger.disconnect(code=1006)  # lost: power, network
    now = datetime.now(timezone.utc)
    assert rt.alerts.check_due(now + timedelta(minutes=14)) == 0  # not yet
    assert rt.alerts.check_due(now + timedelta(minutes=16)) == 1
    (alert,) = _alerts("offline")
    assert alert["charger"] == "CP001" and alert["detail"]["minutes"] >= 15
    assert rt.alerts.check_due(now + timedelta(minutes=30)) == 0  # the check is made once
    # back within the threshold: nothing
    charger.handshake()
    charger.disconnect(code=1006)
    charger.handshake()
    assert rt.alerts.check_due(datetime.now(timezone.utc) + timedelta(minutes=16)) == 0
    assert len(_alerts("offline")) == 1


def test_a_transaction_open_too_long_is_an_alert_a_stopped_one_is_not(charger):
    rt = charger.rt
    charger.handshake()
    start = {"connectorId": 1, "idTag": "T", "meterStart": 0}
    open_tx = charger.result("StartTransaction", {**start, "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    done_tx = charger.result("StartTransaction", {**start, "connectorId": 2,
                                                  "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    charger.result("StopTransaction", {"transactionId": done_tx, "meterStop": 10, "timestamp": "2024-06-12T19:00:00Z"})
    assert rt.alerts.check_due(datetime.now(timezone.utc) + timedelta(hours=25)) == 1
    (alert,) = _alerts("long_transaction")
    assert alert["detail"]["transaction_id"] == open_tx and alert["detail"]["connector_id"] == 1


def test_a_refused_charging_profile_and_repeated_wrong_keys_are_alerts(charger):
    from tests.fakes import MemoryPoster

    charger.rt.commander.poster = MemoryPoster()
    charger.handshake()
    profile = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "W",
                                                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}]}}}
    sent = call("POST", "/v1/chargers/CP001/commands", body={"action": "SetChargingProfile", "payload": profile})[1]
    charger.send(json.dumps([3, sent["command_id"], {"status": "Rejected"}]))
    (alert,) = _alerts("profiles_refused")
    assert alert["detail"] == {"purpose": "TxDefaultProfile", "status": "Rejected"}
    wrong = ChargerClient(charger.rt, "CP001", "wrong-key-0123456789")
    for _ in range(6):
        with pytest.raises(Exception, match="Unauthorized"):
            wrong.handshake()
    (alert,) = _alerts("auth_failures")  # one alert at the threshold, not one per failure
    assert alert["detail"]["failures"] == 5 and alert["detail"]["reason"] == "wrong key"
    assert call("GET", "/v1/alerts", who=ALICE)[0] == 403
    assert call("GET", "/v1/alerts", query={"kind": "nonsense"})[0] == 400


def test_wrong_keys_and_unknown_ids_from_one_source_alert_apart_each_under_its_own_id(charger, caplog):
    from handlers.observability import logger

    # new-user probe: both kinds were counted on the source's one counter and alerted under the last id,
    # and a refused handshake's log line carried the previous connection's correlation id
    charger.handshake()  # CP001 connected: its id is the logger's correlation id
    wrong = ChargerClient(charger.rt, "CP001", "wrong-key-0123456789")
    ghost = ChargerClient(charger.rt, "GHOST1", "whatever-key-0123456789")
    for _ in range(4):  # eight failures from the one source, four of each kind
        for client in (wrong, ghost):
            with pytest.raises(Exception, match="Unauthorized"):
                client.handshake()
    assert _alerts("auth_failures") == []
    caplog.clear()
    for client in (wrong, ghost):
        with pytest.raises(Exception, match="Unauthorized"):
            client.handshake()
    shown = sorted((a["charger"], a["detail"]["reason"], a["detail"]["failures"]) for a in _alerts("auth_failures"))
    assert shown == [("CP001", "wrong key", 5), ("GHOST1", "unknown charge point id", 5)]
    refused = [json.loads(logger.registered_formatter.format(r)) for r in caplog.records
               if r.getMessage() == "connection refused"]  # each line as CloudWatch gets it
    assert [r["charge_point_id"] for r in refused] == ["CP001", "GHOST1"]
    assert all(r.get("correlation_id") is None for r in refused)  # not the connected CP001's


def test_a_source_guessing_many_unknown_ids_is_one_alert_when_the_lockout_throttles_it(charger):
    from csms.ocpp.lockout import SOURCE_FREE

    # no single id reaches the per-id threshold, but the source as a whole is sweeping ids
    for n in range(SOURCE_FREE - 1):
        with pytest.raises(Exception, match="Unauthorized"):
            ChargerClient(charger.rt, f"GUESS{n:03d}", "whatever-key-0123456789").handshake()
    assert _alerts("auth_failures") == []
    with pytest.raises(Exception, match="Unauthorized"):
        ChargerClient(charger.rt, "GUESS999", "whatever-key-0123456789").handshake()
    shown = [(a["charger"], a["detail"]["failures"], a["detail"]["reason"]) for a in _alerts("auth_failures")]
    assert shown == [("-", SOURCE_FREE, "failed handshakes from one source: throttled")]


def test_in_aws_each_alert_is_an_eventbridge_event(charger, monkeypatch):
    import boto3

    from adapters.alert_events import EventBridgeAlerts

    sqs, events = boto3.client("sqs", region_name="eu-west-2"), boto3.client("events", region_name="eu-west-2")
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="alerts", EventPattern=json.dumps({"source": ["csms"], "detail-type": ["csms alert"]}))
    events.put_targets(Rule="alerts", Targets=[{"Id": "q", "Arn": arn}])
    monkeypatch.setattr(charger.rt.alerts, "publish", EventBridgeAlerts("default", "eu-west-2"))
    charger.handshake()
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "HighTemperature", "status": "Faulted"})
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert event["detail"]["kind"] == "faulted" and event["detail"]["detail"]["error_code"] == "HighTemperature"


# ---------------------------------------------------------------- session tools
def test_an_operator_closes_a_stuck_transaction_with_the_energy_so_far_and_releases_the_connector(charger):
    charger.handshake()
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 1000,
                                             "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"})
    charger.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [{
        "timestamp": "2024-06-12T18:30:00Z", "sampledValue": [
            {"value": "2500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "3000", "measurand": "Power.Active.Import", "unit": "W"}]}]})
    assert call("POST", f"/v1/chargers/CP001/sessions/{tx}/close", who=ALICE)[0] == 403
    status, closed = call("POST", f"/v1/chargers/CP001/sessions/{tx}/close")
    assert status == 200 and closed["energy_kwh"] == 1.5 and "operator_closed" in closed["flags"]
    shown = call("GET", f"/v1/chargers/CP001/sessions/{tx}")[1]
    assert shown["active"] is False and shown["energy_kwh"] == 1.5 and shown["stop_reason"] == "Other"
    (connector,) = call("GET", "/v1/chargers/CP001")[1]["connectors"]
    assert connector["state"] == "unplugged" and "closed by an operator" in connector["info"]
    assert not charger.rt.sessions.active("CP001")  # no longer planned for
    assert call("POST", f"/v1/chargers/CP001/sessions/{tx}/close")[0] == 409
    assert call("POST", "/v1/chargers/CP001/sessions/999/close")[0] == 404
    # the charger's late StopTransaction is still acknowledged (and kept for review)
    assert charger.result("StopTransaction", {"transactionId": tx, "meterStop": 2600,
                                              "timestamp": "2024-06-12T19:00:00Z"})["idTagInfo"]["status"] == "Accepted"


def test_sessions_export_as_csv(charger):
    import csv
    import io

    from handlers import api
    from tests import events

    charger.handshake()
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "TAG,1", "meterStart": 0,
                                             "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    call("POST", f"/v1/chargers/CP001/sessions/{tx}/close")
    response = api.lambda_handler(events.http_event("GET", "/v1/sessions", query={"format": "csv"},
                                                    claims={"sub": "op-1", "cognito:groups": "[operators]"}), None)
    assert response["statusCode"] == 200 and response["headers"]["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response["body"])))
    assert [(r["charger"], r["transaction_id"], r["id_tag"], r["active"], r["flags"]) for r in rows] == [
        ("CP001", str(tx), "TAG,1", "False", "operator_closed;no_energy_data")]
    assert call("GET", "/v1/sessions", query={"format": "xml"})[0] == 422


# ---------------------------------------------------------------- unknown chargers
def test_unknown_chargers_are_listed_bounded_and_registered_in_one_click(charger, monkeypatch):
    stranger = ChargerClient(charger.rt, "NEW-7", "0123456789abcdef0123")
    for _ in range(2):
        with pytest.raises(Exception, match="Unauthorized"):
            stranger.handshake()
    (row,) = call("GET", "/v1/unknown-chargers")[1]
    assert (row["id"], row["count"], row["source"]) == ("NEW-7", 2, "203.0.113.10") and row["last_seen"] >= row["first_seen"]
    # a day takes at most the cap of new ids: a stranger cannot fill the table
    monkeypatch.setattr(charger.rt.unknown_chargers, "cap", 2)
    for name in ("NEW-8", "NEW-9", "NEW-10"):
        with pytest.raises(Exception, match="Unauthorized"):
            ChargerClient(charger.rt, name, "0123456789abcdef0123").handshake()
    assert sorted(r["id"] for r in call("GET", "/v1/unknown-chargers")[1]) == ["NEW-7", "NEW-8"]
    assert call("GET", "/v1/unknown-chargers", who=ALICE)[0] == 403
    # registered through the existing route: it connects, and leaves the list
    key = call("POST", "/v1/chargers", body={"id": "NEW-7"})[1]["authorization_key"]
    assert ChargerClient(charger.rt, "NEW-7", key).handshake()["statusCode"] == 200
    assert [r["id"] for r in call("GET", "/v1/unknown-chargers")[1]] == ["NEW-8"]
