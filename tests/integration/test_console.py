"""The operator console (issue 22) through the real handlers against moto: the frame log switched
on per charger in AWS (and what it costs per frame), alerts, session tools, unknown chargers."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

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
