"""Platform-initiated calls through the real handlers and DynamoDB (moto): set-up after
boot and after a boot-less reconnect, one outstanding call at a time, matching, 410 Gone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from csms.timeutil import utcnow


def _calls(frames):
    return [(json.loads(f)[2], json.loads(f)[3]) for _, f in frames]


def _answer(charger, frame, payload):
    """The charger answers a CALL; returns the next CALL the platform sent in the route response."""
    unique_id = json.loads(frame)[1]
    reply = charger.send(json.dumps([3, unique_id, payload]))
    return reply


def test_configuration_sequence_after_boot(charger, poster):
    rt = charger.rt
    # Given a charger that connects and boots
    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
    # Then nothing is sent before the BootNotification's answer has reached it
    assert poster.sent == []
    # When it reports its status (the message that follows a boot)
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    # Then the configuration starts, one call at a time
    assert _calls(poster.sent) == [("ChangeConfiguration", {"key": "MeterValuesSampledData",
                                                            "value": "Energy.Active.Import.Register,Power.Active.Import"})]
    frame = poster.sent[0][1]
    # And each answer brings the next call as the route response (no management API call)
    frame = _answer(charger, frame, {"status": "Accepted"})
    assert json.loads(frame)[2:] == ["ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"}]
    frame = _answer(charger, frame, {"status": "Accepted"})
    assert json.loads(frame)[2:] == ["ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}]
    frame = _answer(charger, frame, {"status": "Accepted"})
    # StopTransaction carries only the register (the samples came in MeterValues): frames stay < 32 KB
    assert json.loads(frame)[2:] == ["ChangeConfiguration", {"key": "StopTxnSampledData",
                                                             "value": "Energy.Active.Import.Register"}]
    frame = _answer(charger, frame, {"status": "Accepted"})
    assert json.loads(frame)[2:] == ["ChangeConfiguration", {"key": "StopTxnAlignedData", "value": ""}]
    frame = _answer(charger, frame, {"status": "Accepted"})
    assert json.loads(frame)[2] == "GetConfiguration"
    assert _answer(charger, frame, {"configurationKey": [
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
        {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"}],
        "unknownKey": ["MaxChargingProfilesInstalled"]}) is None
    assert len(poster.sent) == 1
    caps = rt.chargers.capabilities("CP001")
    assert caps["ChargingScheduleAllowedChargingRateUnit"] == "Current"
    assert caps["config.MeterValueSampleInterval"] == "Accepted"
    assert [o.outcome for o in rt.calls.outcomes("CP001")] == ["answered"] * 6


def test_a_second_boot_with_the_configuration_current_sends_no_set_up(charger, poster):
    # Given a charger configured on an earlier connection
    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    frame = poster.sent[0][1]
    while frame is not None:
        frame = _answer(charger, frame, {"status": "Accepted"} if json.loads(frame)[2] != "GetConfiguration" else {})
    sent = len(poster.sent)
    # When it reboots (a new connection and a BootNotification)
    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    # Then nothing is configured again: what we configure has not changed
    assert len(poster.sent) == sent


def test_boot_less_reconnect_of_a_configured_charger_costs_one_call(charger, poster):
    rt = charger.rt
    # Given a charger booted and configured on an earlier connection
    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
    rt.commander.pump("CP001", charger.connection_id)
    frame = poster.sent[0][1]
    while frame is not None:
        frame = _answer(charger, frame, {"status": "Accepted"} if json.loads(frame)[2] != "GetConfiguration" else {})
    sent = len(poster.sent)
    # When it reconnects without a BootNotification and sends a few messages
    charger.handshake()
    charger.result("Heartbeat", {})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    # Then the only CALL is TriggerMessage StatusNotification (no BootNotification, no set-up)
    assert _calls(poster.sent[sent:]) == [("TriggerMessage", {"requestedMessage": "StatusNotification"})]
    # And its answer is dropped without a lookup, leaving nothing outstanding or queued
    assert charger.send(json.dumps([3, json.loads(poster.sent[-1][1])[1], {"status": "Accepted"}])) is None
    assert rt.calls.outstanding("CP001") is None and rt.calls.queued("CP001") == []


def test_boot_less_reconnect_asks_for_boot_and_status(charger, poster):
    # Given a charger that reconnects and just carries on (no BootNotification)
    charger.handshake()
    charger.result("Heartbeat", {})
    # Then it is asked for a BootNotification, then for its connector states
    assert _calls(poster.sent) == [("TriggerMessage", {"requestedMessage": "BootNotification"})]
    frame = _answer(charger, poster.sent[0][1], {"status": "Accepted"})
    assert json.loads(frame)[2:] == ["TriggerMessage", {"requestedMessage": "StatusNotification"}]
    assert _answer(charger, frame, {"status": "Accepted"}) is None
    # And the triggered BootNotification brings the configuration
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    assert _calls(poster.sent)[-1][0] == "ChangeConfiguration"


def test_burst_of_commands_keeps_one_outstanding_and_matches_late_answers(charger, poster):
    rt = charger.rt
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000  # an old connection: no set-up
    # When the operator sends five commands at once
    for n in range(5):
        rt.commander.send("CP001", "ChangeConfiguration", {"key": f"Key{n}", "value": "1"})
    # Then only the first is on the wire
    assert _calls(poster.sent) == [("ChangeConfiguration", {"key": "Key0", "value": "1"})]
    first = poster.sent[0][1]
    # A late or unknown answer is dropped and changes nothing
    assert charger.send('[3,"not-a-pending-id",{"status":"Accepted"}]') is None
    assert rt.calls.outstanding("CP001").call.unique_id == json.loads(first)[1]
    # Each real answer releases the next, in order
    keys = []
    frame = first
    while frame is not None:
        keys.append(json.loads(frame)[3]["key"])
        frame = _answer(charger, frame, {"status": "Accepted"})
    assert keys == [f"Key{n}" for n in range(5)]
    assert len(poster.sent) == 1


def test_call_error_answer_is_recorded(charger, poster):
    rt = charger.rt
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000
    call = rt.commander.send("CP001", "ClearCache", {})
    charger.send(json.dumps([4, call.unique_id, "NotImplemented", "no", {}]))
    (outcome,) = rt.calls.outcomes("CP001")
    assert (outcome.outcome, outcome.error_code) == ("error", "NotImplemented")


def test_gone_connection_keeps_the_command_queued_until_reconnect(charger, poster):
    rt = charger.rt
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000
    # Given the charger's socket is gone (API Gateway answers 410)
    poster.gone.add(charger.connection_id)
    # When a command is sent
    call = rt.commander.send("CP001", "Reset", {"type": "Soft"})
    # Then nothing crashes, the charger is offline and the command stays queued
    assert poster.sent == [] and not rt.chargers.get("CP001").online
    assert [c.unique_id for c in rt.calls.queued("CP001")] == [call.unique_id]
    # And it is delivered on the next connection
    charger.handshake()
    charger.result("Heartbeat", {})
    assert (call.action, call.payload) in _calls(poster.sent)
    assert poster.sent[0][0] == charger.connection_id


def test_unanswered_call_expires_and_the_next_is_sent_by_the_sweep(charger, poster):
    rt = charger.rt
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000
    rt.commander.send("CP001", "ClearCache", {})
    rt.commander.send("CP001", "Reset", {"type": "Soft"})
    assert len(poster.sent) == 1
    # When the answer never comes and the deadline passes
    later = utcnow() + timedelta(minutes=5)
    rt.commander.clock = lambda: later
    assert rt.commander.sweep() == 1
    # Then the first is recorded as timed out and the second is on the wire
    assert [o.outcome for o in rt.calls.outcomes("CP001")] == ["timeout"]
    assert _calls(poster.sent)[-1][0] == "Reset"


def test_invalid_commands_are_refused_before_sending(charger, poster):
    from csms.ocpp.codec import OcppError

    with pytest.raises(OcppError):
        charger.rt.commander.send("CP001", "ChangeConfiguration", {"key": "x"})
    with pytest.raises(OcppError):
        charger.rt.commander.send("CP001", "BootNotification", {})
    assert charger.rt.calls.queued("CP001") == []


def test_power_measurand_refused_falls_back_to_current_and_voltage(charger, poster):
    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    frame = poster.sent[0][1]
    frame = _answer(charger, frame, {"status": "Rejected"})
    pending = [c.payload for c in charger.rt.calls.queued("CP001")]
    assert {"key": "MeterValuesSampledData", "value": "Energy.Active.Import.Register,Current.Import,Voltage"} in pending


def test_charger_rejecting_profiles_is_steered_with_the_next_purpose(charger, poster):
    rt = charger.rt
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000
    rt.chargers.record_capabilities("CP001", {"ChargingScheduleAllowedChargingRateUnit": "Current"})
    # Given a charger that rejects ChargePointMaxProfile and TxProfile
    call = rt.commander.set_limit("CP001", [(0, 0)], connector_id=1, transaction_id=None)
    assert call.payload["csChargingProfiles"]["chargingProfilePurpose"] == "TxDefaultProfile"
    frame = _answer(charger, poster.sent[-1][1], {"status": "Rejected"})
    # Then the same pause is retried as ChargePointMaxProfile on connector 0
    profile = json.loads(frame)[3]
    assert profile["connectorId"] == 0
    assert profile["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert _answer(charger, frame, {"status": "Accepted"}) is None
    caps = rt.chargers.capabilities("CP001")
    assert caps["profile.TxDefaultProfile"] == "Rejected" and caps["profile.ChargePointMaxProfile"] == "Accepted"
    # And the next limit goes straight to what it accepts, in amps
    call = rt.commander.set_limit("CP001", [(0, 11040)], connector_id=1)
    assert call.payload["connectorId"] == 0
    assert call.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 16.0


def test_firmware_update_followed_through_every_status(charger, poster):
    rt = charger.rt
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000
    # Given an operator starts a firmware campaign with a pre-signed URL
    call = rt.commander.update_firmware("CP001", "https://firmware.example/fw-2.0.bin?X-Amz-Signature=abc",
                                        utcnow(), campaign="spring-2026")
    assert _calls(poster.sent)[0][0] == "UpdateFirmware"
    assert _answer(charger, poster.sent[0][1], {}) is None
    # When the charger reports each step
    for status in ("Downloading", "Downloaded", "Installing", "Installed"):
        charger.result("FirmwareStatusNotification", {"status": status})
    # Then every status is kept, in order, with the campaign
    assert [h.split(" ", 1)[1] for h in rt.chargers.firmware_history("CP001")] == [
        "Downloading", "Downloaded", "Installing", "Installed"]
    assert rt.chargers.get("CP001").firmware_status == "Installed"
    assert rt.chargers.capabilities("CP001")["firmware.campaign"] == "spring-2026"
    assert call.payload["retrieveDate"].endswith("Z")


def test_diagnostics_upload_location_and_file_name(charger, poster):
    rt = charger.rt
    charger.handshake()
    charger.connected_at_ms = 1_700_000_000_000
    rt.commander.get_diagnostics("CP001", "https://diagnostics.example/upload?sig=1")
    assert _answer(charger, poster.sent[0][1], {"fileName": "diag-CP001.zip"}) is None
    charger.result("DiagnosticsStatusNotification", {"status": "Uploaded"})
    assert rt.chargers.capabilities("CP001")["diagnostics.file"] == "diag-CP001.zip"
    assert rt.chargers.get("CP001").diagnostics_status == "Uploaded"
