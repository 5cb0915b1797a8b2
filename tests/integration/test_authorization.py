"""Authorization through the real handlers and the HTTP API against moto's DynamoDB: idTags,
a charger's policy answering Authorize / StartTransaction / StopTransaction (OCPP 1.6 sections
4.2, 4.8, 4.10), the local list pushed with SendLocalList (5.15), reservations (5.13), and the one
read request an answer costs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import botocore.client
import pytest

from adapters.settings import Settings
from adapters.wiring import build_runtime
from handlers import _runtime
from tests.fakes import MemoryPoster
from tests.integration.conftest import ChargerClient
from tests.integration.test_http_api import call

OLD_CONNECTION_MS = 1_700_000_000_000  # past the set-up window: no set-up calls in the way


@pytest.fixture
def online(platform):
    rt = _runtime.install(build_runtime(Settings.from_env(), poster=MemoryPoster()))
    client = ChargerClient(rt, "CP001").register()
    client.handshake()
    client.connected_at_ms = OLD_CONNECTION_MS
    return rt, client


def _sent(rt) -> list:
    return json.loads(rt.commander.poster.sent[-1][1])


def _answer(client, rt, payload) -> None:
    assert client.send(json.dumps([3, _sent(rt)[1], payload])) is None


def test_default_accepts_all_and_id_tags_mode_answers_from_the_list(online):
    rt, client = online
    assert client.result("Authorize", {"idTag": "ANYONE"}) == {"idTagInfo": {"status": "Accepted"}}
    soon = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    assert call("PUT", "/v1/id-tags/GOOD", body={"expiry": soon.isoformat(), "parent": "FLEET"})[0] == 200
    assert call("PUT", "/v1/id-tags/OLD", body={"expiry": "2020-01-01T00:00:00Z"})[0] == 200
    assert call("PUT", "/v1/id-tags/STOLEN", body={"blocked": True, "note": "lost card"})[0] == 200
    status, tags = call("GET", "/v1/id-tags")
    assert status == 200 and {t["id_tag"]: t["status"] for t in tags} == {
        "GOOD": "Accepted", "OLD": "Expired", "STOLEN": "Blocked"}
    assert client.result("Authorize", {"idTag": "STOLEN"})["idTagInfo"]["status"] == "Blocked"  # even accept-all
    status, shown = call("PUT", "/v1/chargers/CP001/authorization", body={"mode": "id_tags"})
    assert status == 200 and shown["mode"] == "id_tags"
    assert client.result("Authorize", {"idTag": "ANYONE"}) == {"idTagInfo": {"status": "Invalid"}}
    good = client.result("Authorize", {"idTag": "GOOD"})["idTagInfo"]
    assert good["status"] == "Accepted" and good["parentIdTag"] == "FLEET"
    start = client.result("StartTransaction", {"connectorId": 1, "idTag": "OLD", "meterStart": 0,
                                               "timestamp": datetime.now(timezone.utc).isoformat()})
    assert start["idTagInfo"]["status"] == "Expired" and start["transactionId"] > 0
    stop = client.result("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 5, "idTag": "ANYONE",
                                             "timestamp": datetime.now(timezone.utc).isoformat(), "reason": "DeAuthorized"})
    assert stop == {"idTagInfo": {"status": "Invalid"}}
    session = call("GET", f"/v1/chargers/CP001/sessions/{start['transactionId']}")[1]
    assert "id_tag_expired" in session["flags"]


def test_an_answer_costs_one_read_request(online, monkeypatch):
    rt, client = online
    call("PUT", "/v1/chargers/CP001/authorization", body={"mode": "id_tags"})
    ops: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, name, params):
        if self.meta.service_model.service_name == "dynamodb":
            ops.append(name)
        return original(self, name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    client.result("Authorize", {"idTag": "WHO"})
    assert ops == ["BatchGetItem"]  # the policy and the tag by key, in one request; never a Scan


def test_local_list_mode_sends_the_list_versioned_and_shows_the_charger_answer(online):
    rt, client = online
    call("PUT", "/v1/id-tags/A1", body={})
    call("PUT", "/v1/id-tags/B2", body={"blocked": True})
    status, shown = call("PUT", "/v1/chargers/CP001/authorization", body={"mode": "local_list"})
    assert status == 200 and shown["local_list"]["version"] == 1
    frame = _sent(rt)
    assert frame[2] == "SendLocalList" and frame[3]["listVersion"] == 1
    assert frame[3]["localAuthorizationList"] == [{"idTag": "A1", "idTagInfo": {"status": "Accepted"}},
                                                  {"idTag": "B2", "idTagInfo": {"status": "Blocked"}}]
    _answer(client, rt, {"status": "Accepted"})
    assert call("GET", "/v1/chargers/CP001/authorization")[1]["local_list"]["answer"]["status"] == "Accepted"
    assert call("POST", "/v1/chargers/CP001/authorization/local-list/version")[0] == 202
    assert _sent(rt)[2] == "GetLocalListVersion"
    _answer(client, rt, {"listVersion": 1})
    check = call("GET", "/v1/chargers/CP001/authorization")[1]["local_list_version_check"]
    assert check["result"] == {"listVersion": 1}


def test_a_reservation_is_sent_shown_reserved_and_closed_by_the_start_that_uses_it(online):
    rt, client = online
    expires = (datetime.now(timezone.utc) + timedelta(minutes=30)).isoformat()
    status, made = call("POST", "/v1/chargers/CP001/reservations",
                        body={"connector_id": 1, "id_tag": "GOOD", "expires_at": expires})
    assert status == 202
    frame = _sent(rt)
    assert frame[2] == "ReserveNow" and frame[3]["reservationId"] == made["reservation_id"]
    _answer(client, rt, {"status": "Accepted"})
    client.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Reserved"})
    shown = call("GET", "/v1/chargers/CP001")[1]
    assert shown["connectors"][0]["state"] == "reserved"
    assert call("GET", "/v1/chargers/CP001/reservations")[1][0]["state"] == "reserved"
    start = client.result("StartTransaction", {"connectorId": 1, "idTag": "GOOD", "meterStart": 0,
                                               "reservationId": made["reservation_id"],
                                               "timestamp": datetime.now(timezone.utc).isoformat()})
    used = call("GET", "/v1/chargers/CP001/reservations")[1][0]
    assert used["state"] == "used" and used["transaction_id"] == start["transactionId"]


@pytest.mark.parametrize("method, path, body, status", [
    ("PUT", "/v1/id-tags/" + "X" * 21, {}, 400),
    ("PUT", "/v1/chargers/CP001/authorization", {"mode": "open"}, 422),
    ("PUT", "/v1/chargers/NOPE/authorization", {"mode": "id_tags"}, 404),
    ("POST", "/v1/chargers/CP001/reservations", {"connector_id": 1, "id_tag": "T", "expires_at": "2020-01-01T00:00:00Z"}, 400),
    ("DELETE", "/v1/chargers/CP001/reservations/77", None, 404),
    ("DELETE", "/v1/id-tags/NEVER", None, 404),
])
def test_bad_requests_get_a_message_never_a_500(online, method, path, body, status):
    got, answer = call(method, path, body=body)
    assert got == status and answer["message"]


def test_drivers_cannot_touch_authorization(online):
    for method, path, body in [("GET", "/v1/id-tags", None), ("PUT", "/v1/id-tags/T", {}),
                               ("GET", "/v1/chargers/CP001/authorization", None)]:
        assert call(method, path, who={"sub": "alice"}, body=body)[0] == 403
