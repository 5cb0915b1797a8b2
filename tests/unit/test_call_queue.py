"""Platform-initiated calls with the in-memory fakes (no moto): queueing, one outstanding call per
charger, answers, timeouts and the connection set-up policy."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from csms.ocpp.answers import AnswerHandler
from csms.ocpp.codec import CallError, CallResult, OcppError
from csms.ocpp.commands import METER_MEASURANDS_NO_POWER, Commander
from csms.ocpp.credentials import hash_key, verify_key
from csms.ocpp.setup_policy import ConnectionSetup
from tests.fakes import MemoryCallQueue, MemoryChargers, MemoryPendingKeys, MemoryPoster

T0 = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)


class Clock:
    """Moves 1 ms per reading, as a real one would between two calls (the queue orders by time)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def world():
    clock, chargers, queue, poster = Clock(), MemoryChargers(), MemoryCallQueue(), MemoryPoster()
    chargers.register("CP1", hash_key("0123456789abcdef"), T0)
    chargers.connect("CP1", "conn-1", T0)
    commander = Commander(queue, chargers, poster, clock=clock)
    return commander, chargers, queue, poster, clock


def _sent(poster: MemoryPoster) -> list[list]:
    return [json.loads(frame) for _, frame in poster.sent]


def test_one_call_at_a_time_and_the_answer_brings_the_next(world):
    commander, _, queue, poster, _ = world
    # Given two operator calls to an online charger
    first = commander.send("CP1", "Reset", {"type": "Soft"})
    second = commander.send("CP1", "TriggerMessage", {"requestedMessage": "Heartbeat"})
    # Then only the first is posted; the second waits for the answer
    assert [f[2] for f in _sent(poster)] == ["Reset"]
    assert [c.unique_id for c in queue.queued("CP1")] == [first.unique_id, second.unique_id]
    # When the charger answers the first
    following = AnswerHandler(commander)("CP1", "conn-1", CallResult(first.unique_id, {"status": "Accepted"}))
    # Then the second is the route response, and the first is recorded as answered
    assert json.loads(following)[1:3] == [second.unique_id, "TriggerMessage"]
    (outcome,) = queue.outcomes("CP1")
    assert (outcome.outcome, outcome.result) == ("answered", {"status": "Accepted"})


def test_an_invalid_call_is_refused_before_it_is_queued(world):
    commander, _, queue, poster, _ = world
    with pytest.raises(OcppError):
        commander.send("CP1", "Reset", {"type": "Sideways"})
    with pytest.raises(OcppError):
        commander.send("CP1", "Heartbeat", {})  # a charger's action, not the platform's
    assert queue.queued("CP1") == [] and poster.sent == []


def test_an_offline_charger_keeps_its_calls_queued(world):
    commander, chargers, queue, poster, _ = world
    chargers.disconnect("CP1", "conn-1", T0)
    call = commander.send("CP1", "Reset", {"type": "Hard"})
    assert poster.sent == [] and queue.queued("CP1") == [call]


def test_a_gone_connection_marks_the_charger_offline_and_keeps_the_call(world):
    commander, chargers, queue, poster, _ = world
    poster.gone.add("conn-1")
    call = commander.send("CP1", "Reset", {"type": "Soft"})
    assert queue.queued("CP1") == [call] and queue.outstanding("CP1") is None
    assert chargers.get("CP1").online is False


def test_an_unanswered_call_times_out_and_frees_the_slot(world):
    commander, _, queue, poster, clock = world
    first = commander.send("CP1", "Reset", {"type": "Soft"})
    commander.send("CP1", "TriggerMessage", {"requestedMessage": "Heartbeat"})
    clock.now = T0 + commander.answer_timeout + timedelta(seconds=1)
    assert commander.sweep() == 1
    assert [(o.unique_id, o.outcome) for o in queue.outcomes("CP1")] == [(first.unique_id, "timeout")]
    assert [f[2] for f in _sent(poster)] == ["Reset", "TriggerMessage"]


def test_an_answer_to_no_outstanding_call_is_dropped(world):
    commander, _, queue, _, _ = world
    assert AnswerHandler(commander)("CP1", "conn-1", CallResult("nobody-asked", {})) is None
    assert queue.outcomes("CP1") == []


def test_a_young_connection_gets_its_configuration_after_boot(world):
    commander, _, queue, poster, _ = world
    # Given a BootNotification answered on a connection opened just now
    ConnectionSetup(commander)("CP1", "conn-1", T0, "BootNotification")
    # Then the configuration is queued (sent after the boot's answer, by the next message)
    assert [(c.action, c.payload.get("key")) for c in queue.queued("CP1")][:3] == [
        ("ChangeConfiguration", "MeterValuesSampledData"), ("ChangeConfiguration", "MeterValueSampleInterval"),
        ("ChangeConfiguration", "HeartbeatInterval")]
    assert poster.sent == []
    ConnectionSetup(commander)("CP1", "conn-1", T0, "StatusNotification")
    assert [f[2] for f in _sent(poster)] == ["ChangeConfiguration"]


def test_a_reconnect_without_boot_asks_for_one(world):
    commander, _, queue, _, clock = world
    # Given a charger that reconnected and sent a Heartbeat, no BootNotification
    ConnectionSetup(commander)("CP1", "conn-1", T0, "Heartbeat")
    # Then it is asked for a boot and its connectors' states, the first at once
    asked = [(c.action, c.payload["requestedMessage"]) for c in queue.queued("CP1")]
    assert asked == [("TriggerMessage", "BootNotification"), ("TriggerMessage", "StatusNotification")]
    assert queue.outstanding("CP1").call.payload == {"requestedMessage": "BootNotification"}
    # An old connection pays nothing: no read, no call
    commander.link.connect("CP1", "conn-2", T0)
    clock.now = T0 + timedelta(hours=1)
    before = len(queue.queued("CP1"))
    ConnectionSetup(commander)("CP1", "conn-2", T0, "Heartbeat")
    assert len(queue.queued("CP1")) == before


def test_a_configured_charger_reconnecting_gets_only_a_status_trigger(world):
    commander, chargers, queue, poster, clock = world
    # Given a charger that booted and was configured on its first connection
    chargers.record_boot("CP1", None, T0)
    ConnectionSetup(commander)("CP1", "conn-1", T0, "BootNotification")
    configured = len(queue.queued("CP1"))
    # When it reconnects without a BootNotification and sends a Heartbeat
    chargers.connect("CP1", "conn-2", clock.now)
    ConnectionSetup(commander)("CP1", "conn-2", clock.now, "Heartbeat")
    # Then it gets one TriggerMessage StatusNotification, posted at once and queued nowhere
    assert _sent(poster)[-1][2:] == ["TriggerMessage", {"requestedMessage": "StatusNotification"}]
    assert len(queue.queued("CP1")) == configured
    # And a later BootNotification with the same configuration version queues no set-up again
    ConnectionSetup(commander)("CP1", "conn-2", clock.now, "BootNotification")
    assert len(queue.queued("CP1")) == configured


def test_no_power_measurand_falls_back_to_current_and_voltage(world):
    commander, _, queue, _, _ = world
    call = commander.send("CP1", "ChangeConfiguration",
                          {"key": "MeterValuesSampledData", "value": "Energy.Active.Import.Register,Power.Active.Import"})
    AnswerHandler(commander)("CP1", "conn-1", CallResult(call.unique_id, {"status": "Rejected"}))
    (retry,) = queue.queued("CP1")
    assert retry.payload == {"key": "MeterValuesSampledData", "value": METER_MEASURANDS_NO_POWER}


def test_a_rotated_key_is_pending_before_it_is_sent_and_kept_after_accepted_or_reboot_required(world):
    # csms.ocpp.rotation: both keys are admitted from before the call goes out; a refusal drops the
    # new one; Accepted and RebootRequired keep both until the charger connects with the new one.
    commander, chargers, queue, _, _ = world
    keys = commander.keys = MemoryPendingKeys(chargers)
    old = "0123456789abcdef"

    def rotate(new: str):
        call = commander.enqueue("CP1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": new}, "operator")
        assert keys.set_pending("CP1", hash_key(new), call.unique_id)
        assert commander.pump("CP1")
        # Sent: the stored copy of the call no longer holds the key
        assert queue.outstanding("CP1").call.payload["value"] == "(redacted)"
        return call

    refused = rotate("k" * 20)
    AnswerHandler(commander)("CP1", "conn-1", CallError(refused.unique_id, "NotSupported", "", {}))
    auth = chargers.get_auth("CP1")
    assert verify_key(old, auth.password_hash) and auth.pending_hash is None
    for status, new in (("Accepted", "a" * 20), ("RebootRequired", "r" * 20)):
        call = rotate(new)
        AnswerHandler(commander)("CP1", "conn-1", CallResult(call.unique_id, {"status": status}))
        auth = chargers.get_auth("CP1")
        assert verify_key(old, auth.password_hash) and verify_key(new, auth.pending_hash)
    # The charger connects with the new key: the old one is retired
    assert keys.promote_pending("CP1")
    auth = chargers.get_auth("CP1")
    assert verify_key("r" * 20, auth.password_hash) and auth.pending_hash is None
    assert all(o.payload["value"] == "(redacted)" for o in queue.outcomes("CP1"))


def test_a_rejected_profile_purpose_is_remembered_and_the_next_one_tried(world):
    commander, chargers, queue, poster, _ = world
    call = commander.set_limit("CP1", [(0, 3000.0)], transaction_id=7)
    first = call.payload["csChargingProfiles"]["chargingProfilePurpose"]
    AnswerHandler(commander)("CP1", "conn-1", CallResult(call.unique_id, {"status": "Rejected"}))
    assert chargers.capabilities("CP1")[f"profile.{first}"] == "Rejected"
    (retry,) = queue.queued("CP1")
    assert retry.payload["csChargingProfiles"]["chargingProfilePurpose"] != first


def test_a_post_that_fails_frees_the_slot_and_keeps_the_call_for_a_retry(world):
    """The management API throttled or failed (not 410): the call stays queued and the charger's slot
    is free at once, so the retry (the fleet run's sender, or the next sweep) sends it now, not after
    the slot's 60 s deadline has expired it unsent."""
    commander, _, queue, poster, _ = world

    def throttled(connection_id, frame):
        raise RuntimeError("LimitExceededException")
    poster.post, real = throttled, poster.post
    with pytest.raises(RuntimeError):
        commander.send("CP1", "TriggerMessage", {"requestedMessage": "StatusNotification"})
    assert queue.outstanding("CP1") is None and [c.action for c in queue.queued("CP1")] == ["TriggerMessage"]
    poster.post = real
    assert commander.sweep() == 1 and _sent(poster)[0][2] == "TriggerMessage"
