"""The operator / app HTTP API through its Lambda handler against moto: every route, who may
see what, bad input answered 4xx with a message (never 500), a session's energy, cost and CO2
against hand-computed values with a tariff change mid-session, and key rotation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters import http_api
from adapters.settings import Settings
from adapters.wiring import build_runtime
from csms.ocpp.credentials import hash_key
from tests.fakes import MemoryPoster
from csms.charging.signals import SignalRow
from csms.timeutil import utcnow
from handlers import _runtime, api
from tests import events
from tests.integration.conftest import ChargerClient

OPERATOR = {"sub": "op-1", "cognito:groups": "[operators]"}
ALICE = {"sub": "alice"}
BOB = {"sub": "bob"}
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def call(method, path, who=OPERATOR, body=None, query=None, raw_body=None, iam=None):
    event = events.http_event(method, path, body=body, query=query, claims=who, raw_body=raw_body, iam=iam)
    response = api.lambda_handler(event, None)
    text = response.get("body") or ""
    return response["statusCode"], (json.loads(text) if text else None)


def _online(platform, charger_id: str, key: str) -> ChargerClient:
    """The charger connected with ``key`` (what the platform sends it is kept by the fleet's MemoryPoster)."""
    platform.chargers.set_password_hash(charger_id, hash_key(key))
    client = ChargerClient(platform, charger_id, key)
    client.handshake()
    return client


def _last_sent(platform) -> list:
    return json.loads(platform.commander.poster.sent[-1][1])


@pytest.fixture
def fleet(platform, poster):
    """Two chargers: A1 linked to alice, B1 to bob; a re-plan recorder."""
    asked = []
    platform = _runtime.install(build_runtime(Settings.from_env(), poster=poster, replan=asked.append,
                                              counters=_runtime.lambda_counters()))
    assert call("POST", "/v1/chargers", body={"id": "A1", "driver": "alice"})[0] == 201
    assert call("POST", "/v1/chargers", body={"id": "B1", "driver": "bob"})[0] == 201
    yield platform, asked


# ---------------------------------------------------------------- identity
def test_no_identity_is_401_and_iam_is_an_operator(fleet):
    status, body = call("GET", "/v1/chargers", who=None)
    assert status == 401 and "sign in" in body["message"]
    status, body = call("GET", "/v1/me", who=None, iam={"userArn": "arn:aws:iam::1:role/ops"})
    assert status == 200 and body == {"subject": "arn:aws:iam::1:role/ops", "operator": True}
    assert call("GET", "/v1/me", who=ALICE)[1] == {"subject": "alice", "operator": False}


# ---------------------------------------------------------------- chargers
def test_register_returns_the_key_once_and_the_charger_can_connect(fleet):
    platform, _ = fleet
    status, body = call("POST", "/v1/chargers", body={"id": "C1"})
    assert status == 201 and len(body["authorization_key"]) == 40
    client = ChargerClient(platform, "C1", body["authorization_key"])
    assert client.handshake()["statusCode"] == 200
    status, shown = call("GET", "/v1/chargers/C1")
    assert status == 200 and shown["online"] is True and "authorization_key" not in shown
    assert "password_hash" not in json.dumps(shown)


@pytest.mark.parametrize("body, status, words", [
    ({"id": "A1"}, 409, "already registered"),
    ({"id": "a/b"}, 400, "without '/'"),
    ({"id": "C2", "authorization_key": "short"}, 422, "authorization_key"),
    ({"id": "C2", "colour": "red"}, 422, "colour"),
    ({}, 422, "id"),
])
def test_register_refuses_bad_input_with_a_message(fleet, body, status, words):
    got, answer = call("POST", "/v1/chargers", body=body)
    assert got == status and words in json.dumps(answer)


def test_a_body_that_is_not_json_is_a_400(fleet):
    status, body = call("POST", "/v1/chargers", raw_body="{not json")
    assert status in (400, 422) and body is not None


def test_operator_sees_the_fleet_a_driver_only_their_own(fleet):
    assert [c["id"] for c in call("GET", "/v1/chargers")[1]] == ["A1", "B1"]
    assert [c["id"] for c in call("GET", "/v1/chargers", who=ALICE)[1]] == ["A1"]
    assert call("GET", "/v1/chargers/A1", who=ALICE)[0] == 200
    # Bob's charger is answered like one that does not exist
    assert call("GET", "/v1/chargers/A1", who=BOB) == call("GET", "/v1/chargers/ZZ", who=BOB)[:1] + (
        {"message": "no charger A1"},)
    assert call("GET", "/v1/chargers/A1", who=BOB)[0] == 404


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/v1/chargers/B1", None),
    ("GET", "/v1/chargers/B1/sessions", None),
    ("GET", "/v1/chargers/B1/sessions/1", None),
    ("GET", "/v1/chargers/B1/preference", None),
    ("PUT", "/v1/chargers/B1/preference", {"energy_kwh": 10}),
])
def test_a_driver_cannot_read_or_change_someone_elses_charger(fleet, method, path, body):
    status, answer = call(method, path, who=ALICE, body=body)
    assert status == 404 and "B1" in answer["message"]


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/chargers", {"id": "X1"}),
    ("DELETE", "/v1/chargers/A1", None),
    ("PUT", "/v1/chargers/A1/driver", {"driver": "alice"}),
    ("POST", "/v1/chargers/A1/commands", {"action": "Reset", "payload": {"type": "Soft"}}),
    ("POST", "/v1/chargers/B1/commands", {"action": "Reset", "payload": {"type": "Soft"}}),
    ("POST", "/v1/chargers/A1/rotate-key", None),
    ("POST", "/v1/events", {"start": "2030-01-01T17:00:00Z", "end": "2030-01-01T18:00:00Z", "cap_kw": 5}),
])
def test_drivers_cannot_use_operator_routes(fleet, method, path, body):
    platform, _ = fleet
    status, answer = call(method, path, who=ALICE, body=body)
    assert status in (403, 404) and answer["message"]
    assert platform.calls.queued("A1") == [] and platform.calls.queued("B1") == []
    assert {c["id"] for c in call("GET", "/v1/chargers")[1]} == {"A1", "B1"}


def test_delete_refuses_the_next_connection(fleet):
    platform, _ = fleet
    status, body = call("POST", "/v1/chargers", body={"id": "D1"})
    assert call("DELETE", "/v1/chargers/D1")[0] == 204
    assert call("DELETE", "/v1/chargers/D1")[0] == 404
    with pytest.raises(Exception, match="Unauthorized"):
        ChargerClient(platform, "D1", body["authorization_key"]).handshake()


def test_link_and_unlink_a_driver(fleet):
    assert call("PUT", "/v1/chargers/B1/driver", body={"driver": "alice"})[1] == {"id": "B1", "driver": "alice"}
    assert [c["id"] for c in call("GET", "/v1/chargers", who=ALICE)[1]] == ["A1", "B1"]
    call("PUT", "/v1/chargers/B1/driver", body={"driver": None})
    assert [c["id"] for c in call("GET", "/v1/chargers", who=ALICE)[1]] == ["A1"]
    assert call("PUT", "/v1/chargers/NOPE/driver", body={"driver": "x"})[0] == 404


# ---------------------------------------------------------------- sessions
def _session_with_a_tariff_change(platform) -> int:
    """18:00-19:00 on 2024-06-12; the price rises from 10p to 30p at 18:30, carbon falls 200 -> 100 g."""
    day = datetime(2024, 6, 12, tzinfo=timezone.utc)
    platform.signals.put([SignalRow(day.replace(hour=18), 10.0, 250.0, 200.0),
                          SignalRow(day.replace(hour=18, minute=30), 30.0, 90.0, 100.0),
                          SignalRow(day.replace(hour=19), 30.0, 90.0, 100.0)], utcnow())
    client = _online(platform, "A1", "x" * 20)
    tx = client.result("StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": 1000,
                                            "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    for at, wh, w in (("18:20", 3000, 10000), ("18:40", 5000, 4000)):
        client.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [{
            "timestamp": f"2024-06-12T{at}:00Z", "sampledValue": [
                {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": str(w), "measurand": "Power.Active.Import", "unit": "W"}]}]})
    client.result("StopTransaction", {"transactionId": tx, "meterStop": 6000, "timestamp": "2024-06-12T19:00:00Z"})
    return tx


def _alice_since_2024() -> None:
    """Alice has had A1 since January 2024 (the fleet fixture links her now)."""
    from adapters.dynamo.models import ChargerModel

    ChargerModel("A1").update(actions=[ChargerModel.driver_since.set(datetime(2024, 1, 1, tzinfo=timezone.utc))])


def test_session_energy_cost_and_co2_by_hand(fleet):
    platform, _ = fleet
    _alice_since_2024()
    tx = _session_with_a_tariff_change(platform)
    status, s = call("GET", f"/v1/chargers/A1/sessions/{tx}", who=ALICE)
    assert status == 200
    # By hand: 18:00-18:20 2 kWh, 18:20-18:40 2 kWh (half before 18:30), 18:40-19:00 1 kWh.
    # Before 18:30: 3 kWh x 10p = 30p, x 200 g = 600 g; after: 2 kWh x 30p = 60p, x 100 g = 200 g.
    assert s["energy_kwh"] == pytest.approx(5.0)
    assert s["cost_gbp"] == pytest.approx(0.90)
    assert s["co2_kg"] == pytest.approx(0.80)  # actual intensity, not the forecast
    # On plug-in at the highest measured power (10 kW): 5 kWh in 18:00-18:30 at 10p = 50p.
    assert s["immediate_cost_gbp"] == pytest.approx(0.50)
    assert s["savings_gbp"] == pytest.approx(-0.40)
    assert [p["power_w"] for p in s["timeline"] if p["power_w"]] == [10000, 4000]
    assert [r["price_p_per_kwh"] for r in s["signals"]][:2] == [10.0, 30.0]
    listed = call("GET", "/v1/sessions", who=ALICE)[1]
    assert listed["totals"] == {"sessions": 1, "energy_kwh": 5.0, "cost_gbp": 0.9, "co2_kg": 0.8, "savings_gbp": -0.4}
    assert call("GET", "/v1/sessions", who=BOB)[1]["totals"]["sessions"] == 0


def test_a_driver_sees_only_sessions_from_while_the_charger_was_theirs(fleet):
    platform, _ = fleet
    _alice_since_2024()
    tx = _session_with_a_tariff_change(platform)  # alice's, in 2024
    assert call("GET", "/v1/sessions", who=ALICE)[1]["totals"]["sessions"] == 1
    call("PUT", "/v1/chargers/A1/driver", body={"driver": "bob"})  # re-linked to bob
    bobs = call("GET", "/v1/chargers/A1/sessions", who=BOB)
    assert bobs[0] == 200 and bobs[1]["sessions"] == [] and "TAG" not in json.dumps(bobs[1])
    assert call("GET", f"/v1/chargers/A1/sessions/{tx}", who=BOB)[0] == 404
    assert call("GET", "/v1/sessions", who=ALICE)[1]["totals"]["sessions"] == 0  # no longer hers
    call("PUT", "/v1/chargers/A1/driver", body={"driver": "alice"})  # and back: her own period again
    assert call("GET", f"/v1/chargers/A1/sessions/{tx}", who=ALICE)[0] == 200
    assert call("GET", "/v1/sessions", who=BOB)[1]["totals"]["sessions"] == 0
    assert call("GET", "/v1/sessions")[1]["totals"]["sessions"] == 1  # operators see everything


def test_session_time_filters(fleet):
    platform, _ = fleet
    _session_with_a_tariff_change(platform)
    q = lambda f, t: call("GET", "/v1/chargers/A1/sessions", query={"from": f, "to": t})  # noqa: E731
    assert q("2024-06-12T17:00:00Z", "2024-06-12T18:30:00Z")[1]["totals"]["sessions"] == 1
    assert q("2024-06-12T19:30:00Z", "2024-06-13T00:00:00Z")[1]["totals"]["sessions"] == 0
    assert q("2024-06-12T19:30:00Z", "2024-06-12T19:00:00Z")[0] == 400
    status, body = q("yesterday", "2024-06-12T19:00:00Z")
    assert status == 422 and "from" in json.dumps(body)
    assert call("GET", "/v1/chargers/A1/sessions/abc")[0] == 422
    assert call("GET", "/v1/chargers/A1/sessions/999")[0] == 404


# ------------------------------------------------------------- preferences
def test_preference_set_by_the_driver_re_plans(fleet):
    _, asked = fleet
    departure = (utcnow() + timedelta(hours=5)).replace(microsecond=0).isoformat()
    status, body = call("PUT", "/v1/chargers/A1/preference", who=ALICE,
                        body={"departure": departure, "energy_kwh": 22.5, "carbon_price_gbp_per_t": 250})
    assert status == 200 and body["energy_kwh"] == 22.5 and body["replan"] == "requested"
    assert asked == ["A1"]
    stored = call("GET", "/v1/chargers/A1/preference", who=ALICE)[1]
    assert stored["energy_kwh"] == 22.5 and stored["carbon_price_gbp_per_t"] == 250
    # ... and the scheduler plans the plugged-in vehicle with it
    from adapters.smart_charging import plugged_in
    from csms.model import Session

    platform = fleet[0]
    now = utcnow()
    platform.sessions.create(Session("A1", 0, 1, "TAG", 0, now, now), "pref-test")
    (plug,) = plugged_in(platform)
    assert plug.preference.carbon_price == 250 and plug.preference.energy_kwh == 22.5


@pytest.mark.parametrize("body, status", [
    ({"energy_kwh": 0}, 422), ({"energy_kwh": 5000}, 422), ({"departure": "08:00 tomorrow"}, 422),
    ({"departure": "2001-01-01T08:00:00Z"}, 400), ({"charge_now": "maybe"}, 422),
    ({"carbon_price_gbp_per_t": -5}, 422), ({"carbon_price_gbp_per_t": 1e9}, 422),
])
def test_bad_preferences_are_refused(fleet, body, status):
    _, asked = fleet
    got, answer = call("PUT", "/v1/chargers/A1/preference", who=ALICE, body=body)
    assert got == status and answer and asked == []


# ---------------------------------------------------------------- commands
def test_command_queued_while_offline_then_answered(fleet):
    platform, _ = fleet
    status, sent = call("POST", "/v1/chargers/A1/commands", body={"action": "Reset", "payload": {"type": "Soft"}})
    assert status == 202 and sent["status"] == "queued"
    assert call("GET", f"/v1/chargers/A1/commands/{sent['command_id']}")[1]["status"] == "queued"
    client = _online(platform, "A1", "y" * 20)
    platform.commander.pump("A1")
    frame = _last_sent(platform)
    assert frame[1] == sent["command_id"] and frame[2] == "Reset"
    assert call("GET", f"/v1/chargers/A1/commands/{sent['command_id']}")[1]["status"] == "awaiting answer"
    client.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
    result = call("GET", f"/v1/chargers/A1/commands/{sent['command_id']}")[1]
    assert result["status"] == "answered" and result["result"] == {"status": "Accepted"}


@pytest.mark.parametrize("body, status, words", [
    ({"action": "Reset", "payload": {"type": "Hard-ish"}}, 400, "Reset"),
    ({"action": "BootNotification", "payload": {}}, 400, "not a central-system action"),
    ({"action": "ChangeConfiguration", "payload": {"key": "AuthorizationKey", "value": "k" * 20}}, 400, "rotate-key"),
    ({"payload": {}}, 422, "action"),
])
def test_invalid_commands_are_refused_before_sending(fleet, body, status, words):
    platform, _ = fleet
    got, answer = call("POST", "/v1/chargers/A1/commands", body=body)
    assert got == status and words in json.dumps(answer)
    assert platform.calls.queued("A1") == []
    assert call("GET", "/v1/chargers/A1/commands/nope")[0] == 404


# ------------------------------------------------------------------ events
def test_events_create_list_cancel(fleet):
    _, asked = fleet
    start = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(), "cap_kw": 50}
    status, created = call("POST", "/v1/events", body=window)
    assert status == 201 and created["cap_kw"] == 50 and asked == ["*"]
    assert [e["id"] for e in call("GET", "/v1/events", who=ALICE)[1]] == [created["id"]]
    assert call("DELETE", f"/v1/events/{created['id']}")[0] == 204
    assert call("GET", "/v1/events")[1][0]["cancelled"] is True
    assert call("DELETE", "/v1/events/nope")[0] == 404


@pytest.mark.parametrize("change, status", [
    ({"end": "2020-01-01T00:00:00Z"}, 400), ({"cap_kw": -1}, 422), ({"start": "soon"}, 422),
    ({"end": "2099-01-01T00:00:00Z"}, 400),
])
def test_bad_events_are_refused(fleet, change, status):
    start = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(), "cap_kw": 50, **change}
    got, answer = call("POST", "/v1/events", body=window)
    assert got == status and answer["message" if status == 400 else "detail"]
    assert call("GET", "/v1/events")[1] == []


def test_a_time_without_a_zone_is_utc_as_the_cli_reads_it(fleet):
    """New-user probe: the API answered 422 to ``2030-01-01T17:00`` where ``csms event add --start``
    reads the same text as UTC. Every time the API takes is now read as the CLI reads it (docs/api.md)."""
    _, asked = fleet
    status, created = call("POST", "/v1/events", body={"start": "2030-01-01T17:00", "end": "2030-01-01T19:00:00",
                                                       "cap_kw": 50})
    assert status == 201 and (created["start"], created["end"]) == ("2030-01-01T17:00:00.000Z", "2030-01-01T19:00:00.000Z")
    status, zoned = call("POST", "/v1/events", body={"start": "2030-01-01T17:00+01:00", "end": "2030-01-01",
                                                     "cap_kw": 50})  # a zone is kept; a date is its midnight
    assert status == 400 and zoned["message"] == "end must be after start"  # 16:00Z to 00:00Z on the 1st
    status, saved = call("PUT", "/v1/chargers/A1/preference", who=ALICE, body={"departure": "2030-01-01T07:30"})
    assert status == 200 and saved["departure"].startswith("2030-01-01T07:30:00") and saved["departure"][19:] in (
        "Z", ".000Z", "+00:00")
    assert call("GET", "/v1/sessions", query={"from": "2024-06-12", "to": "2024-06-13T00:00"})[0] == 200
    status, refused = call("POST", "/v1/events", body={"start": "5 pm", "end": "2030-01-01T19:00", "cap_kw": 50})
    assert status == 422 and refused["message"].startswith("body.start:")  # not a time at all: the schema's 422



@pytest.mark.parametrize("start", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31"])
def test_a_time_out_of_range_is_a_422_not_a_500(fleet, start):
    """Breaker probe: a time whose shift to UTC overflows (or at datetime's end, where a period added
    overflows) answered 500 Internal Server Error."""
    status, refused = call("POST", "/v1/events", body={"start": start, "end": "2030-01-01T19:00Z", "cap_kw": 50})
    assert status == 422 and refused["message"].startswith("body.start:") and "out of range" in refused["message"]
    assert call("GET", "/v1/sessions", query={"from": start})[0] == 422

# ----------------------------------------------------------------- signals
def test_signals_from_now(fleet):
    platform, _ = fleet
    now = utcnow()
    slot = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    platform.signals.put([SignalRow(slot + timedelta(minutes=30 * i), 10.0 + i, 100.0, None) for i in range(6)], now)
    status, rows = call("GET", "/v1/signals", who=ALICE, query={"hours": "2"})
    assert status == 200 and [r["price_p_per_kwh"] for r in rows] == [10.0, 11.0, 12.0, 13.0]
    assert call("GET", "/v1/signals", query={"hours": "0"})[0] == 422
    assert call("GET", "/v1/nothing")[0] == 404


# ----------------------------------------------------------------- openapi
def test_the_committed_openapi_document_matches_the_routes():
    generated = json.loads(http_api.openapi_json())
    assert json.loads(OPENAPI.read_text()) == generated, "run: python -m adapters.http_api > docs/openapi.json"
    routes = {(r.method.lower() if isinstance(r.method, str) else r.method[0].lower(), r.openapi_path)
              for r in http_api.app._static_routes + http_api.app._dynamic_routes}
    documented = {(m, p) for p, ops in generated["paths"].items() for m in ops}
    assert routes == documented and len(documented) == 66  # + review, handshake (14), auth failures x2 (21), security x3 (17), firmware and diagnostics x10 (19), onboarding x6 (18), sites x6 (16) + POST /v1/sites, console x6 and authorization / connectors x12 (22)
