"""idTag authorization with the in-memory fakes: the policy rules (OCPP 1.6 sections 4.2, 4.8, 4.10,
7.1 IdTagInfo), the local list (5.15) and reservations (5.13)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from csms.authorization.model import ACCEPT_ALL, ID_TAGS, LOCAL_LIST, IdTag, Policy
from csms.authorization.operations import AuthorizationOperations
from csms.authorization.rules import local_list, status_of
from csms.authorization.service import Authorization
from csms.ocpp.answers import AnswerHandler
from csms.ocpp.codec import CallResult
from csms.ocpp.commands import Commander
from csms.ocpp.v16.central import CentralSystem
from csms.operations import Conflict, Forbidden, Invalid, NotFound, Principal
from tests.fakes import (MemoryAuthorization, MemoryCallQueue, MemoryChargers, MemoryConnectors, MemoryMeter,
                         MemoryPoster, MemoryReview, MemorySessions)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
OPS = Principal("ops", operator=True)


def test_the_rules_answer_every_status_and_a_known_tag_wins_over_the_policy():
    good, blocked = IdTag("GOOD", expiry=NOW + timedelta(days=1)), IdTag("STOLEN", blocked=True)
    old = IdTag("OLD", expiry=NOW)
    for policy in (None, Policy(ACCEPT_ALL), Policy(ID_TAGS), Policy(LOCAL_LIST)):
        assert status_of(policy, good, NOW) == "Accepted"
        assert status_of(policy, blocked, NOW) == "Blocked"  # blocked even under accept-all
        assert status_of(policy, old, NOW) == "Expired"  # expiry is exclusive: at the instant, expired
    assert status_of(None, None, NOW) == "Accepted"  # no policy stored: accept-all, today's behaviour
    assert status_of(Policy(ACCEPT_ALL), None, NOW) == "Accepted"
    assert status_of(Policy(ID_TAGS), None, NOW) == "Invalid"
    assert status_of(Policy(LOCAL_LIST), None, NOW) == "Invalid"


def test_the_local_list_carries_every_tag_with_its_status_and_parent():
    tags = [IdTag("B", blocked=True), IdTag("A", expiry=NOW + timedelta(hours=1), parent="FLEET")]
    assert local_list(tags, NOW) == [
        {"idTag": "A", "idTagInfo": {"status": "Accepted", "expiryDate": "2026-11-30T13:00:00.000Z",
                                     "parentIdTag": "FLEET"}},
        {"idTag": "B", "idTagInfo": {"status": "Blocked"}}]


def _central(store):
    chargers = MemoryChargers()
    chargers.register("CP", "hash", NOW)
    sessions = MemorySessions()
    return CentralSystem(chargers, MemoryConnectors(), sessions, MemoryMeter(), MemoryReview(), clock=lambda: NOW,
                         authority=Authorization(store)), sessions


def _call(central, action, payload, uid="1"):
    message = json.loads(central.handle_frame("CP", "c1", json.dumps([2, uid, action, payload])))
    assert message[0] == 3, message
    return message[2]


START = {"connectorId": 1, "meterStart": 0, "timestamp": "2026-11-30T11:59:00Z"}


def test_a_charger_without_a_policy_accepts_every_id_tag_as_before():
    store = MemoryAuthorization()
    central, _ = _central(store)
    assert _call(central, "Authorize", {"idTag": "ANYONE"}) == {"idTagInfo": {"status": "Accepted"}}
    assert _call(central, "StartTransaction", {**START, "idTag": "ANYONE"})["idTagInfo"] == {"status": "Accepted"}
    assert store.lookups == 2  # one read request per answer


def test_under_id_tags_an_unknown_tag_is_invalid_an_expired_one_expired_and_both_starts_are_kept():
    store = MemoryAuthorization()
    store.set_policy("CP", Policy(ID_TAGS))
    store.put_tag(IdTag("GOOD", parent="FLEET"))
    store.put_tag(IdTag("OLD", expiry=NOW - timedelta(days=1)))
    central, sessions = _central(store)
    assert _call(central, "Authorize", {"idTag": "GOOD"}) == {"idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}}
    assert _call(central, "Authorize", {"idTag": "WHO"}) == {"idTagInfo": {"status": "Invalid"}}
    unknown = _call(central, "StartTransaction", {**START, "idTag": "WHO"}, "2")
    expired = _call(central, "StartTransaction", {**START, "connectorId": 2, "idTag": "OLD"}, "3")
    assert unknown["idTagInfo"] == {"status": "Invalid"}
    assert expired["idTagInfo"] == {"status": "Expired", "expiryDate": "2026-11-29T12:00:00.000Z"}
    # the transactions are stored (the charger ends them with DeAuthorized), flagged for the operator
    assert "id_tag_invalid" in sessions.get("CP", unknown["transactionId"]).flags
    assert "id_tag_expired" in sessions.get("CP", expired["transactionId"]).flags
    # a retried start gets the same id and the same answer
    again = _call(central, "StartTransaction", {**START, "idTag": "WHO"}, "4")
    assert again == unknown
    stop = _call(central, "StopTransaction", {"transactionId": unknown["transactionId"], "meterStop": 10,
                                               "timestamp": "2026-11-30T12:00:00Z", "idTag": "OLD"}, "5")
    assert stop["idTagInfo"]["status"] == "Expired"


def test_a_blocked_tag_is_refused_under_accept_all_and_a_lookup_failure_is_an_internal_error():
    store = MemoryAuthorization()
    store.put_tag(IdTag("STOLEN", blocked=True))
    central, sessions = _central(store)
    assert _call(central, "Authorize", {"idTag": "STOLEN"}) == {"idTagInfo": {"status": "Blocked"}}

    def broken(*_):
        raise OSError("DynamoDB unreachable")

    store.lookup = broken  # type: ignore[method-assign]
    reply = json.loads(central.handle_frame("CP", "c1", json.dumps([2, "9", "StartTransaction", {**START, "idTag": "X"}])))
    assert reply[0] == 4 and reply[2] == "InternalError"  # the charger retries; nothing was stored
    assert sessions.list("CP") == []


@pytest.fixture
def world():
    chargers, queue, poster = MemoryChargers(), MemoryCallQueue(), MemoryPoster()
    chargers.register("CP", "hash", NOW)
    chargers.connect("CP", "c1", NOW)
    commander = Commander(queue, chargers, poster, clock=lambda: NOW)
    store = MemoryAuthorization()
    ops = AuthorizationOperations(store, commander, queue, chargers, lambda: NOW)
    return ops, store, commander, poster


def _answer(commander, poster, payload):
    """The charger answers the call it was last sent."""
    unique_id = json.loads(poster.sent[-1][1])[1]
    AnswerHandler(commander)("CP", "c1", CallResult(unique_id, payload))


def test_local_list_mode_pushes_every_tag_with_a_new_version_and_shows_the_answer(world):
    ops, store, commander, poster = world
    ops.put_tag(OPS, "A", expiry=NOW + timedelta(days=30))
    ops.put_tag(OPS, "B", blocked=True)
    shown = ops.set_policy(OPS, "CP", "local_list")
    call = json.loads(poster.sent[-1][1])
    assert call[2] == "SendLocalList"
    assert call[3]["listVersion"] == 1 and call[3]["updateType"] == "Full"
    assert [e["idTag"] for e in call[3]["localAuthorizationList"]] == ["A", "B"]
    assert shown["mode"] == "local_list" and shown["local_list"]["answer"] is None
    _answer(commander, poster, {"status": "Accepted"})
    assert ops.authorization(OPS, "CP")["local_list"]["answer"]["status"] == "Accepted"
    assert ops.push_local_list(OPS, "CP")["version"] == 2  # versioned: every push a new version
    _answer(commander, poster, {"status": "Accepted"})
    ops.check_local_list_version(OPS, "CP")
    _answer(commander, poster, {"listVersion": 2})
    assert ops.authorization(OPS, "CP")["local_list_version_check"]["result"] == {"listVersion": 2}


def test_a_reservation_is_stored_answered_used_by_a_start_and_expires(world):
    ops, store, commander, poster = world
    made = ops.reserve(OPS, "CP", 1, "GOOD", NOW + timedelta(minutes=30))
    frame = json.loads(poster.sent[-1][1])
    assert frame[2] == "ReserveNow" and frame[3]["reservationId"] == made["reservation_id"]
    assert ops.reservations(OPS, "CP")[0]["state"] == "requested"
    _answer(commander, poster, {"status": "Accepted"})
    assert ops.reservations(OPS, "CP")[0]["state"] == "reserved"
    Authorization(store).reservation_used("CP", made["reservation_id"], 42, NOW)
    used = ops.reservations(OPS, "CP")[0]
    assert used["state"] == "used" and used["transaction_id"] == 42
    second = ops.reserve(OPS, "CP", 2, "GOOD", NOW + timedelta(minutes=5))
    _answer(commander, poster, {"status": "Occupied"})
    assert ops.reservations(OPS, "CP")[0]["state"] == "refused"
    later = AuthorizationOperations(store, commander, commander.queue, ops.chargers, lambda: NOW + timedelta(hours=1))
    third = ops.reserve(OPS, "CP", 1, "GOOD", NOW + timedelta(minutes=10))
    _answer(commander, poster, {"status": "Accepted"})
    states = {r["reservation_id"]: r["state"] for r in later.reservations(OPS, "CP")}
    assert states == {made["reservation_id"]: "used", second["reservation_id"]: "refused",
                      third["reservation_id"]: "expired"}
    ops.cancel_reservation(OPS, "CP", third["reservation_id"])
    _answer(commander, poster, {"status": "Accepted"})
    assert ops.reservations(OPS, "CP")[0]["state"] == "cancelled"


def test_operators_only_and_bad_input_is_refused_in_one_line(world):
    ops, *_ = world
    with pytest.raises(Forbidden):
        ops.list_tags(Principal("alice"))
    with pytest.raises(Invalid, match="IdToken"):
        ops.put_tag(OPS, "X" * 21)
    with pytest.raises(Invalid, match="mode"):
        ops.set_policy(OPS, "CP", "open")
    with pytest.raises(NotFound):
        ops.set_policy(OPS, "NOPE", "id_tags")
    with pytest.raises(Invalid, match="future"):
        ops.reserve(OPS, "CP", 1, "T", NOW - timedelta(minutes=1))
    with pytest.raises(NotFound):
        ops.delete_tag(OPS, "NEVER")
    with pytest.raises(NotFound):
        ops.cancel_reservation(OPS, "CP", 999)


def _status(connectors, connector_id, status):
    from csms.model import ConnectorStatus

    connectors.record_status("CP", ConnectorStatus(connector_id, status, "NoError", NOW, NOW))


def test_a_reservation_the_charger_would_refuse_is_refused_before_it_is_sent(world):
    # new-user probe: a blocked idTag, a busy connector and connector 7 of a 2-connector charger were all sent
    ops, store, commander, poster = world
    connectors = MemoryConnectors()
    ops = AuthorizationOperations(store, commander, commander.queue, ops.chargers, lambda: NOW, connectors)
    ops.chargers.record_capabilities("CP", {"NumberOfConnectors": "2"})
    _status(connectors, 1, "Charging")
    _status(connectors, 2, "Available")
    ops.put_tag(OPS, "STOLEN", blocked=True)
    ops.put_tag(OPS, "OLD", expiry=NOW - timedelta(days=1))
    until = NOW + timedelta(minutes=30)
    with pytest.raises(Invalid, match="idTag STOLEN is Blocked"):
        ops.reserve(OPS, "CP", 2, "STOLEN", until)
    with pytest.raises(Invalid, match="idTag OLD is Expired"):
        ops.reserve(OPS, "CP", 2, "OLD", until)
    with pytest.raises(Conflict, match="connector 1 of CP is Charging: the charger would answer ReserveNow Occupied"):
        ops.reserve(OPS, "CP", 1, "GOOD", until)
    with pytest.raises(Invalid, match="CP has 2 connectors: connector_id must be 0-2"):
        ops.reserve(OPS, "CP", 7, "GOOD", until)
    assert poster.sent == [] and ops.reservations(OPS, "CP") == []  # nothing sent, nothing stored
    made = ops.reserve(OPS, "CP", 2, "GOOD", until)  # the one that can be made is
    assert json.loads(poster.sent[-1][1])[2] == "ReserveNow"
    with pytest.raises(Conflict, match=f"held by reservation {made['reservation_id']} for GOOD"):
        ops.reserve(OPS, "CP", 2, "OTHER", until)
    _status(connectors, 2, "Faulted")
    with pytest.raises(Conflict, match="no connector of CP is Available"):
        ops.reserve(OPS, "CP", 0, "GOOD", until)
    ops.store.set_policy("CP", Policy(ID_TAGS))
    with pytest.raises(Invalid, match="idTag STRANGER is Invalid"):  # not on the list of an id_tags charger
        ops.reserve(OPS, "CP", 0, "STRANGER", until)


def test_a_second_cancel_says_there_is_no_reservation_to_cancel(world):
    ops, store, commander, poster = world
    made = ops.reserve(OPS, "CP", 1, "GOOD", NOW + timedelta(minutes=30))
    _answer(commander, poster, {"status": "Accepted"})
    first = ops.cancel_reservation(OPS, "CP", made["reservation_id"])
    assert first["status"] == "sent"
    with pytest.raises(Conflict, match="already sent .* awaiting the charger's answer"):
        ops.cancel_reservation(OPS, "CP", made["reservation_id"])
    _answer(commander, poster, {"status": "Accepted"})
    with pytest.raises(NotFound, match=f"no reservation {made['reservation_id']} on CP to cancel: it is cancelled"):
        ops.cancel_reservation(OPS, "CP", made["reservation_id"])
    assert [json.loads(f)[2] for _, f in poster.sent] == ["ReserveNow", "CancelReservation"]


def test_a_connector_whose_reservation_is_being_cancelled_can_be_reserved_again(world):
    ops, store, commander, poster = world
    made = ops.reserve(OPS, "CP", 1, "GOOD", NOW + timedelta(minutes=30))
    ops.cancel_reservation(OPS, "CP", made["reservation_id"])  # queued behind the ReserveNow
    again = ops.reserve(OPS, "CP", 1, "OTHER", NOW + timedelta(minutes=30))  # queued behind both
    assert again["reservation_id"] != made["reservation_id"]


def test_an_id_tag_cannot_be_its_own_parent(world):
    ops, store, *_ = world
    for parent in ("FLEET1", "fleet1"):  # IdToken is case-insensitive (CiString20Type)
        with pytest.raises(Invalid, match="idTag FLEET1 cannot be its own parent"):
            ops.put_tag(OPS, "FLEET1", parent=parent)
    assert store.get_tag("FLEET1") is None
    assert ops.put_tag(OPS, "CARD7", parent="FLEET1")["parent"] == "FLEET1"
