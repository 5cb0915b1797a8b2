"""Platform-initiated OCPP calls across stateless invocations.

No process waits for a charger's answer (API Gateway's integration timeout is
29 s and each answer arrives as a new ``$default`` event), and cheap chargers
drop the socket when two CALLs arrive at once. So calls are queued per charger
in storage; at most one is outstanding at a time (a conditional write claims
the charger's single "outstanding" slot with a deadline); the answer is matched
by unique id to that slot, validated against the action's response schema and
handed to the action's result handler. The next queued call is then returned as
the route response to the answer itself, which costs no management-API call.

When to send, without a storage read on every charger message:
- a call queued by the operator or scheduler is posted at once (``send``);
- right after a charger connects its socket is not open yet, so the first
  messages of a young connection (``connected_at`` within ``SETUP_WINDOW``)
  check whether the connection has been set up (one cheap read each, only
  then; the first one claims it with a conditional write). Set-up happens only
  when something changed (issue 15): the configuration after a BootNotification
  only when its version differs from the one stored on the charger; after a
  boot-less reconnect only TriggerMessage StatusNotification when boot data and
  configuration are current, else TriggerMessage BootNotification as well;
- a scheduled sweep (``sweep``) posts whatever is still queued and expires
  outstanding calls whose charger never answered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Protocol

from csms import ocpp_j
from csms.ocpp_j import CallError, CallResult, OcppError
from csms import profiles
from csms.ports import Clock
from csms.timeutil import iso, utcnow

log = logging.getLogger(__name__)

ANSWER_TIMEOUT = timedelta(seconds=60)
SETUP_WINDOW = timedelta(seconds=120)
# Boot data older than this are re-read with TriggerMessage BootNotification on a boot-less reconnect.
BOOT_STALE_AFTER = timedelta(days=30)
# Unique-id prefix of the TriggerMessage StatusNotification sent straight to a reconnected charger
# (not queued): its answer needs no storage read, nothing is waiting for it.
DIRECT_PREFIX = "setup-"
# API Gateway closes a WebSocket with 1009 on a frame over 32 KB (field notes): no CALL we send may.
MAX_FRAME_BYTES = 32 * 1024

# What the platform needs from every charger (see DEVELOPERS.md / issue 4).
METER_MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import"
METER_MEASURANDS_NO_POWER = "Energy.Active.Import.Register,Current.Import,Voltage"
CAPABILITY_KEYS = [
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleMaxPeriods",
    "MaxChargingProfilesInstalled",
    "NumberOfConnectors",
]


@dataclass(frozen=True)
class PendingCall:
    charge_point_id: str
    unique_id: str
    action: str
    payload: dict[str, Any]
    created_at: datetime
    origin: str = "platform"  # setup | operator | scheduler | platform

    @property
    def seq(self) -> str:
        """Queue order: creation time, then the unique id."""
        return f"{iso(self.created_at)}#{self.unique_id}"

    def frame(self) -> str:
        return ocpp_j.call_frame(self.unique_id, self.action, self.payload)


@dataclass(frozen=True)
class Outstanding:
    call: PendingCall
    connection_id: str
    deadline: datetime


@dataclass(frozen=True)
class CallOutcome:
    charge_point_id: str
    unique_id: str
    action: str
    payload: dict[str, Any]
    outcome: str  # answered | error | timeout | invalid_answer
    at: datetime
    result: dict[str, Any] | None = None
    error_code: str | None = None
    origin: str = "platform"


class CallQueue(Protocol):
    def add(self, call: PendingCall) -> None: ...

    def oldest(self, charge_point_id: str) -> PendingCall | None: ...

    def queued(self, charge_point_id: str) -> list[PendingCall]: ...

    def remove(self, call: PendingCall) -> None: ...

    def claim(self, call: PendingCall, connection_id: str, now: datetime, deadline: datetime) -> bool:
        """Take the charger's single outstanding slot unless a live call holds it."""

    def outstanding(self, charge_point_id: str) -> Outstanding | None: ...

    def release(self, charge_point_id: str, unique_id: str) -> bool:
        """Free the slot if ``unique_id`` still holds it."""

    def record(self, outcome: CallOutcome) -> None: ...

    def outcomes(self, charge_point_id: str) -> list[CallOutcome]: ...

    def chargers_with_work(self, now: datetime | None = None) -> list[str]:
        """Chargers with queued or outstanding calls the sweep should look at (by ``now``)."""


class ConnectionPoster(Protocol):
    def post(self, connection_id: str, frame: str) -> bool:
        """Send a frame; False when the connection is gone (HTTP 410)."""


@dataclass(frozen=True)
class SetupClaim:
    """What the charger item said when a young connection claimed its set-up (its values before)."""
    pump_pending: bool  # a BootNotification on this connection queued set-up calls still to be sent
    boot_at: datetime | None
    setup_version: str | None


class ChargerLink(Protocol):
    """What the commander needs to know of a charger's connection and setup."""

    def connection(self, charge_point_id: str) -> tuple[str | None, str | None, datetime | None]:
        """(current connection id, connection id already set up, boot time)."""

    def mark_setup(self, charge_point_id: str, connection_id: str) -> bool:
        """Record that ``connection_id`` was set up; False if it already was."""

    def mark_stale(self, charge_point_id: str, connection_id: str) -> None:
        """The connection is gone (410): offline, if it is still the current one."""

    def claim_setup(self, charge_point_id: str, connection_id: str) -> SetupClaim | None:
        """One conditional write: claim the set-up of ``connection_id`` if it is the current
        connection and it is not set up yet (or a BootNotification left set-up calls to send).
        None when there is nothing to do."""

    def boot_setup(self, charge_point_id: str, connection_id: str, version: str) -> str | None:
        """After a BootNotification: ``connection_id`` is set up with configuration ``version``;
        its calls are sent by the next message. Returns the version stored before."""

    def record_capabilities(self, charge_point_id: str, values: dict[str, str]) -> None: ...

    def capabilities(self, charge_point_id: str) -> dict[str, str]: ...

    def set_password_hash(self, charge_point_id: str, password_hash: str) -> bool:
        """Switch the charger's stored AuthorizationKey hash (key rotation)."""


ResultHandler = Callable[["Commander", PendingCall, CallOutcome], None]
_RESULT_HANDLERS: dict[str, ResultHandler] = {}


def on_result(action: str):
    def register(fn: ResultHandler) -> ResultHandler:
        _RESULT_HANDLERS[action] = fn
        return fn

    return register


@dataclass
class Commander:
    queue: CallQueue
    link: ChargerLink
    poster: ConnectionPoster | None  # None: no way to send now (calls stay queued)
    clock: Clock = utcnow
    answer_timeout: timedelta = ANSWER_TIMEOUT
    heartbeat_interval_s: int = 300
    meter_sample_interval_s: int = 60
    _ids: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    tally: Callable[[str], None] | None = None  # counts charging-profile answers (metrics)

    # ---------------------------------------------------------------- sending
    def send(self, charge_point_id: str, action: str, payload: dict[str, Any], origin: str = "operator") -> PendingCall:
        """Queue a call (validated now, so nothing invalid is ever sent) and try to send it."""
        call = self.enqueue(charge_point_id, action, payload, origin)
        self.pump(charge_point_id)
        return call

    def enqueue(self, charge_point_id: str, action: str, payload: dict[str, Any], origin: str = "platform") -> PendingCall:
        if action not in ocpp_j.CENTRAL_ACTIONS:
            raise OcppError(ocpp_j.NOT_SUPPORTED, f"{action} is not a central-system action")
        ocpp_j.validate(ocpp_j.CALL, action, payload)
        call = PendingCall(charge_point_id, self._ids(), action, payload, self.clock(), origin)
        size = len(call.frame().encode("utf-8"))
        if size > MAX_FRAME_BYTES:
            # API Gateway would close the charger's socket (1009) and the call would be retried for ever
            raise OcppError(ocpp_j.PROPERTY_CONSTRAINT_VIOLATION, f"{action} frame is {size} bytes, over API Gateway's {MAX_FRAME_BYTES}-byte frame limit")
        self.queue.add(call)
        return call

    def _expire(self, charge_point_id: str, now: datetime) -> bool:
        """Free the slot of a call whose answer is overdue; True when the slot is free."""
        held = self.queue.outstanding(charge_point_id)
        if held is None:
            return True
        if held.deadline > now:
            return False
        if self.queue.release(charge_point_id, held.call.unique_id):
            log.warning("%s did not answer %s %s in time", charge_point_id, held.call.action, held.call.unique_id)
            self.queue.remove(held.call)
            self.queue.record(CallOutcome(charge_point_id, held.call.unique_id, held.call.action, held.call.payload,
                                          "timeout", now, origin=held.call.origin))
        return True

    def _claim_next(self, charge_point_id: str, connection_id: str) -> PendingCall | None:
        now = self.clock()
        if not self._expire(charge_point_id, now):
            return None
        call = self.queue.oldest(charge_point_id)
        if call is None:
            return None
        if not self.queue.claim(call, connection_id, now, now + self.answer_timeout):
            return None  # another invocation sent one first
        return call

    def pump(self, charge_point_id: str, connection_id: str | None = None) -> bool:
        """Post the next queued call if none is outstanding. True when one was sent."""
        if self.poster is None:
            return False
        if connection_id is None:
            connection_id, _, _ = self.link.connection(charge_point_id)
            if connection_id is None:
                return False  # offline: stays queued for the next connection
        call = self._claim_next(charge_point_id, connection_id)
        if call is None:
            return False
        if self.poster.post(connection_id, call.frame()):
            log.info("sent %s %s to %s", call.action, call.unique_id, charge_point_id)
            return True
        # 410 Gone: the socket closed. Keep the call queued for the next connection.
        log.info("connection %s of %s is gone; %s stays queued", connection_id, charge_point_id, call.action)
        self.queue.release(charge_point_id, call.unique_id)
        self.link.mark_stale(charge_point_id, connection_id)
        return False

    def sweep(self) -> int:
        """Scheduled: send what is queued, expire unanswered calls. Returns calls sent."""
        sent = 0
        for charge_point_id in self.queue.chargers_with_work(self.clock()):
            try:
                sent += self.pump(charge_point_id)
            except Exception:  # one charger's failure must not stop the sweep
                log.exception("sweep failed for %s", charge_point_id)
        return sent

    # ------------------------------------------------------ smart charging
    def set_limit(
        self,
        charge_point_id: str,
        periods_w: list[tuple[int, float]],
        *,
        connector_id: int = 1,
        transaction_id: int | None = None,
        start: datetime | None = None,
        phases: int = 3,
        origin: str = "scheduler",
    ) -> PendingCall | None:
        """Queue a charging limit (W per period; 0 pauses) in the profile type and unit this
        charger accepts. None when it has rejected every profile purpose."""
        support = profiles.ProfileSupport.from_capabilities(self.link.capabilities(charge_point_id), phases=phases)
        purposes = support.purposes(transaction_id is not None)
        if not purposes:
            log.warning("%s rejects every charging profile purpose; cannot be steered", charge_point_id)
            return None
        request = profiles.profile_request(purposes[0], periods_w, support, connector_id=connector_id,
                                           transaction_id=transaction_id, start=start)
        call = self.enqueue(charge_point_id, "SetChargingProfile", request, origin)
        self.pump(charge_point_id)
        return call

    # ---------------------------------------------------- firmware management
    def update_firmware(self, charge_point_id: str, location: str, retrieve_at: datetime, *, retries: int = 3,
                        retry_interval_s: int = 300, campaign: str | None = None) -> PendingCall:
        """Hand the charger a firmware URL (in AWS a time-limited pre-signed S3 URL)."""
        call = self.send(charge_point_id, "UpdateFirmware", {"location": location, "retrieveDate": iso(retrieve_at),
                                                            "retries": retries, "retryInterval": retry_interval_s},
                         origin="operator")
        self.link.record_capabilities(charge_point_id, {"firmware.campaign": campaign or call.unique_id,
                                                        "firmware.requested_at": iso(call.created_at)})
        return call

    def get_diagnostics(self, charge_point_id: str, location: str, *, start: datetime | None = None,
                        stop: datetime | None = None) -> PendingCall:
        """Ask the charger to upload its diagnostics to ``location`` (a pre-signed upload URL)."""
        payload: dict[str, Any] = {"location": location, "retries": 3, "retryInterval": 300}
        if start is not None:
            payload["startTime"] = iso(start)
        if stop is not None:
            payload["stopTime"] = iso(stop)
        return self.send(charge_point_id, "GetDiagnostics", payload, origin="operator")

    # ------------------------------------------------------ connection set-up
    def _setup_list(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            ("ChangeConfiguration", {"key": "MeterValuesSampledData", "value": METER_MEASURANDS}),
            ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": str(self.meter_sample_interval_s)}),
            ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": str(self.heartbeat_interval_s)}),
            # MeterValues already carries every sample: a StopTransaction's transactionData would
            # repeat them (a 10-hour session: ~70 KB, over API Gateway's 32 KB frame limit, so the
            # charger would resend it for ever). Register only: the session's end reading.
            ("ChangeConfiguration", {"key": "StopTxnSampledData", "value": "Energy.Active.Import.Register"}),
            ("ChangeConfiguration", {"key": "StopTxnAlignedData", "value": ""}),
            ("GetConfiguration", {"key": list(CAPABILITY_KEYS)}),
        ]

    @property
    def setup_version(self) -> str:
        """The set-up configuration's version: a digest of the calls, so any change re-configures."""
        text = json.dumps(self._setup_list(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def setup_calls(self, charge_point_id: str) -> list[PendingCall]:
        """The configuration every charger gets after a BootNotification that finds it out of date."""
        return [self.enqueue(charge_point_id, a, p, "setup") for a, p in self._setup_list()]

    def _trigger_status(self, charge_point_id: str, connection_id: str) -> bool:
        """TriggerMessage StatusNotification straight to a reconnected charger (statuses are not
        queued while offline, OCPP 1.6 §4.9): not queued, no slot, its answer needs no read."""
        if self.poster is None:
            return False
        frame = ocpp_j.call_frame(f"{DIRECT_PREFIX}{uuid.uuid4().hex[:16]}", "TriggerMessage",
                                  {"requestedMessage": "StatusNotification"})
        if self.poster.post(connection_id, frame):
            return True
        self.link.mark_stale(charge_point_id, connection_id)
        return False

    def after_message(self, charge_point_id: str, connection_id: str | None, connected_at: datetime | None,
                      action: str | None) -> None:
        """Called after a charger's message was answered.

        Only a young connection pays for this (one read): see the module doc.
        """
        if connection_id is None or connected_at is None:
            return
        if action == "BootNotification":
            # Configure only when what we configure changed since this charger was last set up.
            # Not sent now: the BootNotification's answer has not reached the charger yet (it is
            # this invocation's route response), and a charger may refuse calls before its boot
            # is accepted. The next message (the StatusNotifications that follow) sends them.
            version = self.setup_version
            if self.link.boot_setup(charge_point_id, connection_id, version) != version:
                self.setup_calls(charge_point_id)
            return
        if self.clock() - connected_at > SETUP_WINDOW:
            return
        claim = self.link.claim_setup(charge_point_id, connection_id)  # one conditional write
        if claim is None:
            return  # set up by an earlier message of this connection (or not its current one)
        if claim.pump_pending:
            self.pump(charge_point_id, connection_id)  # the set-up calls a BootNotification queued
            return
        # Reconnected without a BootNotification (API Gateway's 2-hour cut, the platform's close, a
        # network blip). Boot data and configuration current: only the connectors' states, which
        # are not queued while offline. Otherwise a BootNotification too (its set-up follows).
        now = self.clock()
        current = (claim.setup_version == self.setup_version and claim.boot_at is not None
                   and now - claim.boot_at <= BOOT_STALE_AFTER)
        if current:
            self._trigger_status(charge_point_id, connection_id)
            return
        self.enqueue(charge_point_id, "TriggerMessage", {"requestedMessage": "BootNotification"}, "setup")
        self.enqueue(charge_point_id, "TriggerMessage", {"requestedMessage": "StatusNotification"}, "setup")
        self.pump(charge_point_id, connection_id)

    # -------------------------------------------------------------- answers
    def on_response(self, charge_point_id: str, connection_id: str | None, message: CallResult | CallError) -> str | None:
        """Match an answer to the outstanding call; return the next call's frame, if any,
        to be sent as the route response."""
        if message.unique_id.startswith(DIRECT_PREFIX):
            log.info("%s answered the reconnect's status trigger: %s", charge_point_id,
                     getattr(message, "payload", None) or getattr(message, "code", ""))
            return None
        held = self.queue.outstanding(charge_point_id)
        if held is None or held.call.unique_id != message.unique_id:
            log.info("answer %s from %s matches no outstanding call; dropped", message.unique_id, charge_point_id)
            return None
        call, now = held.call, self.clock()
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
        self.queue.remove(call)
        self.queue.record(outcome)
        if call.action == "SetChargingProfile" and self.tally is not None:
            accepted = outcome.outcome == "answered" and (outcome.result or {}).get("status") == "Accepted"
            self.tally("ProfilesAccepted" if accepted else "ProfilesRejected")
        handler = _RESULT_HANDLERS.get(call.action)
        if handler is not None:
            try:
                handler(self, call, outcome)
            except Exception:
                log.exception("result handler for %s failed", call.action)
        self.queue.release(charge_point_id, call.unique_id)
        if connection_id is None:
            return None
        following = self._claim_next(charge_point_id, connection_id)
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
        from csms.credentials import hash_key

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
