"""Answers to platform-initiated calls: matched to the charger's outstanding call, validated
against the action's response schema, recorded, and handed to the action's result handler."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from csms.ocpp import codec as ocpp_j
from csms.ocpp import rotation
from csms.ocpp.codec import CallError, CallResult, OcppError
from csms.ocpp import evidence, quirks
from csms.ocpp.commands import DIRECT_PREFIX, METER_MEASURANDS, METER_MEASURANDS_NO_POWER, CallOutcome, Commander, PendingCall
from csms.ocpp.setup_policy import setup_calls
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
        if message.unique_id.startswith(DIRECT_PREFIX):
            log.info("%s answered the reconnect's status trigger: %s", charge_point_id,
                     getattr(message, "payload", None) or getattr(message, "code", ""))
            return None
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
            payload = message.payload
            try:
                ocpp_j.validate(ocpp_j.CALLRESULT, call.action, payload)
                kind = "answered"
            except OcppError as exc:
                log.warning("%s answered %s with an invalid payload: %s", charge_point_id, call.action, exc.description)
                kind = "invalid_answer"
                coerced = quirks.coerce_answer(call.action, payload)
                if coerced is not None:  # only type / length quirks: read it, keep the raw answer
                    payload, kind = coerced[0], "answered"
                    self._keep_answer(charge_point_id, message, call, "; ".join(str(r) for r in coerced[1]), now)
            outcome = CallOutcome(charge_point_id, call.unique_id, call.action, kept, kind, now,
                                  result=payload, origin=call.origin)
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
        return self.commander.route_frame(following) if following is not None else None

    def _keep_answer(self, charge_point_id: str, message: CallResult, call: PendingCall, detail: str,
                     now: datetime) -> None:
        """Keep a charger's answer that was read around a quirk, for review (never raises)."""
        review = self.commander.review
        if review is None:
            return
        from csms.model import ReviewItem

        try:
            review.add(ReviewItem(charge_point_id=charge_point_id, kind="answer_read_around",
                                  detail=detail[:1000], at=now, action=call.action,
                                  raw=ocpp_j.result_frame(message.unique_id, message.payload)[:32768],
                                  unique_id=message.unique_id))
        except Exception:
            log.exception("could not keep the answer of %s for review", charge_point_id)


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
    if key in rotation.SECRET_CONFIGURATION_KEYS and commander.keys is not None:
        # Key rotation (csms.ocpp.rotation): the new key's hash has been pending since before the
        # call was sent, so both keys work now. Accepted or RebootRequired (applies after a reboot),
        # or no answer: keep both until the charger connects with the new one. Refused: drop it.
        if status not in rotation.KEEP_PENDING and outcome.outcome != "timeout":
            commander.keys.drop_pending(call.charge_point_id, call.unique_id)
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
        commander.link.record_capabilities(call.charge_point_id,
                                           evidence.verdict(f"profile.{purpose}", "Accepted", outcome.at))
        return
    if outcome.outcome == "timeout":
        return  # no verdict: the scheduler re-plans and tries again
    if commander.on_profile_refused is not None:
        try:
            commander.on_profile_refused(call.charge_point_id, purpose, status or outcome.error_code or outcome.outcome,
                                         outcome.at)
        except Exception:
            log.exception("profile refusal hook failed for %s", call.charge_point_id)
    # Rejected, NotSupported, NotImplemented, or an error: remember it (dated evidence, re-probed
    # after a firmware change or REPROBE_AFTER: csms.ocpp.evidence) and try the next purpose.
    commander.link.record_capabilities(call.charge_point_id,
                                       evidence.verdict(f"profile.{purpose}", evidence.REJECTED, outcome.at))
    order = list(profiles.PURPOSE_ORDER)
    for following in order[order.index(purpose) + 1:]:
        caps = commander.link.capabilities(call.charge_point_id)
        if not evidence.refusal_holds(caps, f"profile.{following}", commander.clock()):
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
    if outcome.outcome not in ("answered", "invalid_answer"):
        return
    # Every readable entry counts, even in an answer that fails its schema elsewhere (issue 14).
    values = {}
    result = outcome.result if isinstance(outcome.result, dict) else {}
    entries = result.get("configurationKey")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not entry["key"]:
            continue
        value = entry.get("value")
        text = value if isinstance(value, str) else quirks.as_text(value)
        if text is not None:
            values[entry["key"][:50]] = text
    unknown = result.get("unknownKey")
    for key in unknown if isinstance(unknown, list) else []:
        if isinstance(key, str) and key:
            values[key[:50]] = "<unknown>"
    if values:
        commander.link.record_capabilities(call.charge_point_id, values)


@on_result("TriggerMessage")
def _trigger_answered(commander: Commander, call: PendingCall, outcome: CallOutcome) -> None:
    """A boot-less reconnect asks for a BootNotification, whose arrival brings the set-up. A charger
    that will not send one (``NotImplemented``, ``Rejected``, a CALLERROR, an unreadable answer:
    mobilityhouse/ocpp#640) gets the set-up directly instead of never being configured."""
    if call.origin != "setup" or call.payload.get("requestedMessage") != "BootNotification":
        return
    status = (outcome.result or {}).get("status") if outcome.outcome == "answered" else None
    if status != "Accepted":
        log.info("%s will not send a triggered BootNotification (%s): set-up sent directly", call.charge_point_id,
                 status or outcome.error_code or outcome.outcome)
        setup_calls(commander, call.charge_point_id)
