"""Answers to platform-initiated calls: matched to the charger's outstanding call, validated
against the action's response schema, recorded, and handed to the action's result handler."""

from __future__ import annotations

import logging
from typing import Any, Callable

from csms.ocpp import codec as ocpp_j
from csms.ocpp.codec import CallError, CallResult, OcppError
from csms.ocpp.commands import METER_MEASURANDS, METER_MEASURANDS_NO_POWER, CallOutcome, Commander, PendingCall
from csms.ocpp.v16 import profiles

log = logging.getLogger(__name__)

ResultHandler = Callable[["Commander", PendingCall, CallOutcome], None]
_RESULT_HANDLERS: dict[str, ResultHandler] = {}


def on_result(action: str):
    def register(fn: ResultHandler) -> ResultHandler:
        _RESULT_HANDLERS[action] = fn
        return fn

    return register


class AnswerHandler:
    """The ``on_response`` hook of the central system."""

    def __init__(self, commander: Commander):
        self.commander = commander

    def __call__(self, charge_point_id: str, connection_id: str | None, message: CallResult | CallError) -> str | None:
        """Match an answer to the outstanding call; return the next call's frame, if any,
        to be sent as the route response."""
        held = self.commander.queue.outstanding(charge_point_id)
        if held is None or held.call.unique_id != message.unique_id:
            log.info("answer %s from %s matches no outstanding call; dropped", message.unique_id, charge_point_id)
            return None
        call, now = held.call, self.commander.clock()
        kept = _redacted(call)  # what the outcome record keeps: never a key
        if isinstance(message, CallError):
            outcome = CallOutcome(charge_point_id, call.unique_id, call.action, kept, "error", now,
                                  error_code=message.code, result={"description": message.description}, origin=call.origin)
        else:
            try:
                ocpp_j.validate(ocpp_j.CALLRESULT, call.action, message.payload)
                kind = "answered"
            except OcppError as exc:
                log.warning("%s answered %s with an invalid payload: %s", charge_point_id, call.action, exc.description)
                kind = "invalid_answer"
            outcome = CallOutcome(charge_point_id, call.unique_id, call.action, kept, kind, now,
                                  result=message.payload, origin=call.origin)
        self.commander.queue.remove(call)
        self.commander.queue.record(outcome)
        if call.action == "SetChargingProfile" and self.commander.tally is not None:
            accepted = outcome.outcome == "answered" and (outcome.result or {}).get("status") == "Accepted"
            self.commander.tally("ProfilesAccepted" if accepted else "ProfilesRejected")
        handler = _RESULT_HANDLERS.get(call.action)
        if handler is not None:
            try:
                handler(self.commander, call, outcome)
            except Exception:
                log.exception("result handler for %s failed", call.action)
        self.commander.queue.release(charge_point_id, call.unique_id)
        if connection_id is None:
            return None
        following = self.commander.claim_next(charge_point_id, connection_id)
        return following.frame() if following is not None else None


SECRET_KEYS = frozenset({"AuthorizationKey"})


def _redacted(call: PendingCall) -> dict[str, Any]:
    if call.action == "ChangeConfiguration" and call.payload.get("key") in SECRET_KEYS:
        return {**call.payload, "value": "(redacted)"}
    return call.payload


# ------------------------------------------------------------ result handlers
@on_result("ChangeConfiguration")
def _configuration_changed(commander: Commander, call: PendingCall, outcome: CallOutcome) -> None:
    key = call.payload["key"]
    status = (outcome.result or {}).get("status", outcome.error_code or outcome.outcome)
    commander.link.record_capabilities(call.charge_point_id, {f"config.{key}": str(status)})
    if key == "AuthorizationKey" and status == "Accepted":
        # Key rotation: the charger stores the new key and uses it from its next connection; the
        # old key stops working now. Refused or unanswered: the old key stays.
        from csms.ocpp.credentials import hash_key

        commander.link.set_password_hash(call.charge_point_id, hash_key(call.payload["value"]))
    if (key == "MeterValuesSampledData" and status in ("Rejected", "NotSupported")
            and call.payload["value"] == METER_MEASURANDS):
        # No Power.Active.Import on this charger: power from current x voltage instead.
        commander.enqueue(call.charge_point_id, "ChangeConfiguration",
                          {"key": "MeterValuesSampledData", "value": METER_MEASURANDS_NO_POWER}, "setup")


@on_result("SetChargingProfile")
def _profile_answered(commander: Commander, call: PendingCall, outcome: CallOutcome) -> None:
    purpose = call.payload["csChargingProfiles"]["chargingProfilePurpose"]
    status = (outcome.result or {}).get("status") if outcome.outcome == "answered" else None
    if status == "Accepted":
        commander.link.record_capabilities(call.charge_point_id, {f"profile.{purpose}": "Accepted"})
        return
    if outcome.outcome == "timeout":
        return  # no verdict: the scheduler re-plans and tries again
    # Rejected, NotSupported, NotImplemented, or an error: remember it and try the next purpose.
    commander.link.record_capabilities(call.charge_point_id, {f"profile.{purpose}": "Rejected"})
    order = list(profiles.PURPOSE_ORDER)
    for following in order[order.index(purpose) + 1:]:
        caps = commander.link.capabilities(call.charge_point_id)
        if caps.get(f"profile.{following}") != "Rejected":
            commander.enqueue(call.charge_point_id, "SetChargingProfile",
                              profiles.with_purpose(call.payload, following), call.origin)
            return
    log.warning("%s rejected every charging profile purpose", call.charge_point_id)


@on_result("GetDiagnostics")
def _diagnostics_file(commander: Commander, call: PendingCall, outcome: CallOutcome) -> None:
    name = (outcome.result or {}).get("fileName")
    if name:
        commander.link.record_capabilities(call.charge_point_id, {"diagnostics.file": name})


@on_result("GetConfiguration")
def _configuration_read(commander: Commander, call: PendingCall, outcome: CallOutcome) -> None:
    if outcome.outcome != "answered":
        return
    values = {}
    for entry in (outcome.result or {}).get("configurationKey", []):
        if entry.get("value") is not None:
            values[entry["key"]] = entry["value"]
    for key in (outcome.result or {}).get("unknownKey", []):
        values[key] = "<unknown>"
    if values:
        commander.link.record_capabilities(call.charge_point_id, values)
