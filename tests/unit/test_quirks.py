"""Issue 14's read-arounds and evidence rules as pure domain logic: fast, many cases. The same
behaviours over wss against the local platform: tests/e2e/test_real_chargers.py."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from csms.model import ConnectorStatus
from csms.ocpp import codec as ocpp_j
from csms.ocpp import evidence, quirks
from csms.ocpp.answers import _trigger_answered
from csms.ocpp.commands import CallOutcome, Commander, PendingCall
from csms.ocpp.connection import choose_subprotocol
from csms.ocpp.credentials import hash_key, parse_basic_auth, verify_key
from csms.ocpp.v16.central import CentralSystem
from csms.ocpp.v16.profiles import ProfileSupport, bounded_watts, profile_request
from tests.fakes import MemoryCallQueue, MemoryChargers, MemoryConnectors, MemoryMeter, MemoryReview, MemorySessions

NOW = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)


# ------------------------------------------------------------------ read-arounds
def test_too_long_descriptive_strings_are_truncated_and_listed():
    payload = {"chargePointVendor": "Schneider Electric", "chargePointModel": "EVlink Smart Wallbox",
               "chargeBoxSerialNumber": "EVB1A22P2RI3N182341200100350795E5", "firmwareVersion": "3.4.0.2"}
    fixed, repairs = quirks.read_around("BootNotification", payload)
    assert fixed["chargeBoxSerialNumber"] == payload["chargeBoxSerialNumber"][:25]
    assert [r.path for r in repairs] == ["chargeBoxSerialNumber"] and "33 characters" in repairs[0].problem
    assert payload["chargeBoxSerialNumber"].endswith("E5")  # the input is not modified


@pytest.mark.parametrize("action, payload", [
    ("BootNotification", {"chargePointVendor": 1, "chargePointModel": "M"}),  # a wrong type stays an error
    ("BootNotification", {"chargePointModel": "M"}),  # a missing field too
    ("Authorize", {"idTag": "x" * 21}),  # an idTag identifies: never truncated
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "charging"}),  # enum
])
def test_violations_that_are_not_descriptive_lengths_are_not_read_around(action, payload):
    assert quirks.read_around(action, payload) is None


@pytest.mark.parametrize("entry, text", [({"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": 3}, "3"),
                                         ({"key": "AuthorizeRemoteTxRequests", "readonly": False, "value": True}, "true"),
                                         ({"key": "HeartbeatInterval", "readonly": False, "value": 60.0}, "60")])
def test_numbers_and_booleans_in_a_get_configuration_answer_are_read_as_text(entry, text):
    answer = {"configurationKey": [entry, {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True,
                                           "value": "Power"}]}
    fixed, repairs = quirks.coerce_answer("GetConfiguration", answer)
    assert fixed["configurationKey"][0]["value"] == text and len(repairs) == 1
    ocpp_j.validate(ocpp_j.CALLRESULT, "GetConfiguration", fixed)


def test_future_stamps_beyond_the_tolerance_are_not_trusted():
    assert not quirks.untrusted_future(NOW + quirks.FUTURE_TOLERANCE, NOW)
    assert quirks.untrusted_future(NOW + timedelta(hours=2), NOW)


def test_control_characters_inside_strings_are_parsed_and_named():
    call = ocpp_j.parse_frame('[2,"u1","StatusNotification",{"connectorId":1,"errorCode":"OtherError",'
                              '"status":"Faulted","vendorErrorCode":"E\x0042"}]')
    assert call.unique_id == "u1" and call.payload["vendorErrorCode"] == "E\x0042" and "control" in call.quirk
    assert ocpp_j.parse_frame('[2,"u2","Heartbeat",{}]').quirk is None
    latin = ocpp_j.parse_frame('[2,"u3","DataTransfer",{"vendorId":"Soci\u00e9t\u00e9"}]'.encode("latin-1"))
    assert latin.payload["vendorId"] == "Soci\u00e9t\u00e9" and "Latin-1" in latin.quirk


# ------------------------------------------------------------------ the central system
def _central():
    chargers, sessions, review = MemoryChargers(), MemorySessions(), MemoryReview()
    chargers.register("CP", "hash", NOW)
    connectors = MemoryConnectors()
    central = CentralSystem(chargers, connectors, sessions, MemoryMeter(), review, clock=lambda: NOW)
    return central, connectors, sessions, review


def test_a_status_from_the_future_is_ordered_by_receipt_and_kept_for_review():
    central, connectors, _, review = _central()
    frame = lambda uid, status, at: json.dumps([2, uid, "StatusNotification", {  # noqa: E731
        "connectorId": 1, "errorCode": "NoError", "status": status, "timestamp": at.isoformat()}])
    central.handle_frame("CP", "c1", frame("a", "Available", NOW + timedelta(hours=2)))
    central.handle_frame("CP", "c1", frame("b", "Charging", NOW))
    assert [s.status for s in connectors.list("CP")] == ["Charging"]
    assert [(i.kind, i.unique_id) for i in review.list("CP")] == [("clock_ahead", "a")]


def test_after_a_status_from_the_future_a_charger_clock_a_little_behind_still_wins():
    # Given a status stamped 2 h ahead, then (received later) one stamped a second before that
    # receipt, in whole seconds: a charger whose clock was set slightly behind ours
    central, connectors, _, _ = _central()
    frame = lambda uid, status, at: json.dumps([2, uid, "StatusNotification", {  # noqa: E731
        "connectorId": 1, "errorCode": "NoError", "status": status, "timestamp": at.isoformat()}])
    central.handle_frame("CP", "c1", frame("a", "Available", NOW + timedelta(hours=2)))
    central.handle_frame("CP", "c1", frame("b", "Preparing", (NOW - timedelta(seconds=1)).replace(microsecond=0)))
    # Then the later status is what the connector shows
    assert [s.status for s in connectors.list("CP")] == ["Preparing"]


def test_a_stored_future_stamp_never_outranks_a_later_message():
    connectors = MemoryConnectors()  # as stored before this rule: a stamp 2 h ahead of its receipt
    connectors.record_status("CP", ConnectorStatus(1, "Available", "NoError", NOW + timedelta(hours=2), NOW))
    assert connectors.record_status("CP", ConnectorStatus(1, "Charging", "NoError", NOW + timedelta(minutes=1),
                                                          NOW + timedelta(minutes=1)))
    assert not connectors.record_status("CP", ConnectorStatus(1, "Preparing", "NoError", NOW, NOW + timedelta(minutes=2)))


def test_a_second_start_on_the_same_connector_closes_the_first_not_one_on_another_connector():
    central, _, sessions, review = _central()
    start = lambda uid, connector, minute: json.loads(central.handle_frame("CP", "c1", json.dumps([  # noqa: E731
        2, uid, "StartTransaction", {"connectorId": connector, "idTag": "T", "meterStart": minute,
                                     "timestamp": (NOW - timedelta(minutes=60 - minute)).isoformat()}])))[2]
    a, other, b = start("a", 1, 0)["transactionId"], start("o", 2, 5)["transactionId"], start("b", 1, 30)["transactionId"]
    state = {s.transaction_id: s for s in sessions.list("CP")}
    assert not state[a].active and state[a].stopped_at == NOW - timedelta(minutes=30)
    assert f"superseded_by_transaction_{b}" in state[a].flags
    assert state[other].active and state[b].active
    assert [(i.kind, i.transaction_id, i.unique_id) for i in review.list("CP")] == [("superseded_transaction", a, "b")]


# ------------------------------------------------------------------ evidence
def test_a_refusal_holds_for_a_day_and_until_a_firmware_change():
    caps = evidence.verdict("profile.TxProfile", "Rejected", NOW)
    assert evidence.refusal_holds(caps, "profile.TxProfile", NOW + timedelta(hours=23))
    assert not evidence.refusal_holds(caps, "profile.TxProfile", NOW + evidence.REPROBE_AFTER)
    assert not evidence.refusal_holds({"profile.TxProfile": "Rejected"}, "profile.TxProfile", NOW)  # undated
    assert evidence.firmware_change({}, "1.0", NOW) == {"firmware.seen": "1.0"}  # first seen: no change
    assert evidence.firmware_change({"firmware.seen": "1.0"}, "1.0", NOW) == {}
    changed = evidence.firmware_change({**caps, "firmware.seen": "1.0"}, "2.0", NOW + timedelta(hours=1))
    assert not evidence.refusal_holds({**caps, **changed}, "profile.TxProfile", NOW + timedelta(hours=2))
    support = ProfileSupport.from_capabilities({**caps, **changed}, now=NOW + timedelta(hours=2))
    assert support.purposes(has_transaction=True)[0] == "TxProfile"


def test_boot_with_new_firmware_records_the_change_once():
    central, *_ = _central()
    boot = lambda fw: json.dumps([2, fw, "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B",  # noqa: E731
                                                              "firmwareVersion": fw}])
    for firmware in ("1.0", "1.0", "2.0"):
        central.handle_frame("CP", "c1", boot(firmware))
    caps = central.chargers.items["CP"]["capabilities"]
    assert caps["firmware.seen"] == "2.0" and caps["firmware.changed_at"].startswith("2024-06-12T18:00:00")


def test_a_refused_trigger_sends_the_set_up_directly():
    link, queue = MemoryChargers(), MemoryCallQueue()
    commander = Commander(queue, link, None, clock=lambda: NOW)
    trigger = PendingCall("CP", "t1", "TriggerMessage", {"requestedMessage": "BootNotification"}, NOW, "setup")
    for result, kind, code in (({"status": "NotImplemented"}, "answered", None), (None, "error", "NotSupported"),
                               ({"status": "Accepted"}, "answered", None)):
        _trigger_answered(commander, trigger, CallOutcome("CP", "t1", "TriggerMessage", {}, kind, NOW, result, code))
    actions = sorted(c.action for c in queue.queued("CP"))
    from csms.ocpp.setup_policy import _setup_list

    one_set_up = sorted(action for action, _ in _setup_list(commander))
    assert actions == sorted(one_set_up * 2)  # twice (two refusals), not after Accepted
    assert one_set_up.count("GetConfiguration") == 1 and "ChangeConfiguration" in one_set_up


# ------------------------------------------------------------------ limits an EV can take
@pytest.mark.parametrize("unit", ["Power", "Current"])
def test_no_positive_limit_below_the_ev_minimum_and_the_energy_decides(unit):
    support = ProfileSupport.from_capabilities({"ChargingScheduleAllowedChargingRateUnit": unit})
    # 75 W for 30 min (37.5 Wh) -> 0; then 3000 W for 30 min -> the 4140 W minimum is closer than 0;
    # (carrying 532.5 Wh sent beyond the plan); three 1500 W quarter-hours: the carried error decides
    # each (0, 0, 4140: 1125 Wh planned, 1035 Wh sent)
    plan = [(0, 75), (1800, 3000), (3600, 1500), (4500, 1500), (5400, 1500), (6300, 0)]
    assert bounded_watts(plan, support) == [0.0, 4140.0, 0.0, 0.0, 4140.0, 0.0]
    periods = profile_request("TxDefaultProfile", plan, support, connector_id=1)["csChargingProfiles"][
        "chargingSchedule"]["chargingSchedulePeriod"]
    minimum = 4140.0 if unit == "Power" else 6.0
    assert all(p["limit"] == 0 or p["limit"] >= minimum for p in periods)


def test_an_open_ended_last_period_is_raised_to_the_minimum():
    support = ProfileSupport.from_capabilities({"ChargingScheduleAllowedChargingRateUnit": "Power"})
    assert bounded_watts([(0, 7400), (1800, 56)], support) == [7400.0, 4140.0]


@pytest.mark.parametrize("unit", ["Power", "Current"])
def test_under_a_shared_limit_a_limit_below_the_ev_minimum_is_0_never_raised_above_the_plan(unit):
    support = ProfileSupport.from_capabilities({"ChargingScheduleAllowedChargingRateUnit": unit})
    plan = [(0, 3000), (1800, 5000), (3600, 1500)]  # a site's share: 3 kW, then 5 kW, then 1.5 kW (open-ended)
    assert bounded_watts(plan, support, raise_to_minimum=False) == [0.0, 5000.0, 0.0]
    periods = profile_request("TxProfile", plan, support, connector_id=1, transaction_id=7, raise_to_minimum=False)[
        "csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
    watts = [p["limit"] * (1 if unit == "Power" else 230.0 * 3) for p in periods]
    assert all(w <= planned for w, (_, planned) in zip(watts, plan))  # 3 kW was sent as 4.14 kW before


def test_a_capped_run_marks_its_vehicles_so_their_profiles_are_never_raised_above_the_plan():
    from datetime import datetime, timedelta, timezone

    from csms.charging.fanout import ProfileOrder, QueuedSink
    from csms.charging.scheduler import PlugIn, Preference, SmartScheduler
    from csms.charging.tariff import Signals
    from tests.fakes import MemoryWorkQueue

    t0 = datetime(2024, 6, 12, 0, tzinfo=timezone.utc)
    starts = tuple(t0 + timedelta(minutes=30 * i) for i in range(20))
    signals = Signals(starts, (10.0,) * 20, (100.0,) * 20, (100.0,) * 20)
    plugs = [PlugIn(f"CP{n}", 1, n, t0, 0.0, 7400, Preference(t0 + timedelta(hours=8), 10)) for n in range(2)]
    for cap, capped in ((None, False), (9.0, True)):
        queue = MemoryWorkQueue()
        sink = QueuedSink(queue)
        SmartScheduler(lambda: signals, sink, lambda: t0, site_cap_kw=cap).run(plugs)
        sink.flush()
        orders = [ProfileOrder.from_body(b) for b in queue.bodies]
        assert len(orders) == 2 and {o.capped for o in orders} == {capped}


# ------------------------------------------------------------------ handshake
KEY = "00112233445566778899aabbccddeeff00112233"


def _header(user: bytes, password: bytes) -> str:
    return "Basic " + base64.b64encode(user + b":" + password).decode()


@pytest.mark.parametrize("password", [KEY.encode(), KEY.upper().encode(), bytes.fromhex(KEY)])
def test_the_key_is_accepted_as_hex_text_or_as_its_bytes(password):
    credentials = parse_basic_auth(_header(b"CP", password))
    assert any(verify_key(form, hash_key(KEY)) for form in credentials.key_forms())


MIXED = "0123456789abcdef0123456789ABCDEF01234567"  # a 40-hex key registered as an operator typed it


@pytest.mark.parametrize("password", [MIXED.encode(), MIXED.lower().encode(), MIXED.upper().encode(),
                                      bytes.fromhex(MIXED)])
def test_a_hex_key_registered_in_mixed_case_is_accepted_in_every_form(password):
    credentials = parse_basic_auth(_header(b"CP", password))
    assert any(verify_key(form, hash_key(MIXED)) for form in credentials.key_forms())


def test_a_wrong_key_in_byte_form_is_still_refused():
    credentials = parse_basic_auth(_header(b"CP", bytes.fromhex(MIXED[:-1] + "8")))
    assert not any(verify_key(form, hash_key(MIXED)) for form in credentials.key_forms())


def test_a_longer_text_key_is_its_own_form():  # ChargeTimeEU/Java-OCA-OCPP#304: a 32-character text key
    key = "my-charger-password-of-32-chars!"
    credentials = parse_basic_auth(_header(b"CP", key.encode()))
    assert credentials.key_forms() == [key] and verify_key(credentials.key_forms()[0], hash_key(key))


@pytest.mark.parametrize("offered, legacy, chosen", [
    ("ocpp1.6", False, "ocpp1.6"), (None, False, None), ("ocpp1.6j", False, None),
    (None, True, ""), ("ocpp1.6j", True, "ocpp1.6j"), ("OCPP1.6J", True, "OCPP1.6J"), ("ocpp2.0.1", True, None),
    ("ocpp2.0.1, ocpp1.6", False, "ocpp1.6"),
])
def test_subprotocol_rules_with_and_without_a_legacy_handshake(offered, legacy, chosen):
    headers = {"Sec-WebSocket-Protocol": offered} if offered else {}
    assert choose_subprotocol(headers, legacy) == chosen


def test_meter_values_stamped_ahead_of_their_receipt_are_kept_for_review():
    central, _, _, review = _central()
    frame = json.dumps([2, "m1", "MeterValues", {"connectorId": 1, "meterValue": [
        {"timestamp": (NOW + timedelta(hours=2)).isoformat(), "sampledValue": [{"value": "100"}]}]}])
    assert json.loads(central.handle_frame("CP", "c1", frame)) == [3, "m1", {}]
    (kept,) = review.list("CP")
    assert kept.kind == "meter_data" and "clock is ahead" in kept.detail and kept.unique_id == "m1"
