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

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from csms.ocpp import codec as ocpp_j
from csms.ocpp.codec import OcppError
from csms.ocpp.frame_log import OUT, FrameLog
from csms.ocpp import rotation
from csms.ocpp.v16 import profiles
from csms.ocpp.ports import CallQueue, ChargerLink, Clock, ConnectionPoster, PendingKeys, ReviewLog, SecretSealer
from csms.timeutil import iso, utcnow

log = logging.getLogger(__name__)

ANSWER_TIMEOUT = timedelta(seconds=60)
# Unique-id prefix of the TriggerMessage StatusNotification sent straight to a reconnected charger
# (not queued): its answer needs no storage read, nothing is waiting for it.
DIRECT_PREFIX = "setup-"
# API Gateway closes a WebSocket with 1009 on a frame over 32 KB (field notes): no CALL we send may.
MAX_FRAME_BYTES = 32 * 1024

# What the platform needs from every charger (the project guide; the smart-charging keys of OCPP 1.6 section 9.1).
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



@dataclass
class Commander:
    """The send engine: queue a call, post it when the charger's slot is free, sweep, expire.
    Set-up policy (``setup_policy``) and answer handling (``answers``) work through it."""

    queue: CallQueue
    link: ChargerLink
    poster: ConnectionPoster | None  # None: no way to send now (calls stay queued)
    clock: Clock = utcnow
    answer_timeout: timedelta = ANSWER_TIMEOUT
    heartbeat_interval_s: int = 300
    meter_sample_interval_s: int = 60
    _ids: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    tally: Callable[[str], None] | None = None  # counts charging-profile answers (metrics)
    review: ReviewLog | None = None  # answers read around a quirk are kept there (issue 14: csms.ocpp.answers)
    sealer: SecretSealer | None = None  # seals secrets in stored payloads (key rotation)
    keys: PendingKeys | None = None  # the pending AuthorizationKey hash (key rotation)
    # frames posted to a charger (issue 22); logged where the log is always on (the local platform):
    # in AWS these calls are posted by other functions than $default, which hold no switch, and a
    # read per call to learn it is not worth it (their answers and the calls' outcomes are logged)
    frame_log: FrameLog | None = None
    # a SetChargingProfile answered with anything but Accepted: (charger, purpose, status, at) -> an
    # operator alert (issue 22, csms.console.alerts); never raises into the answer's handling
    on_profile_refused: Callable[[str, str, str, datetime], None] | None = None

    def posted(self, charge_point_id: str, connection_id: str, frame: str) -> None:
        """A frame was posted to the charger's connection (the frame log, where always on)."""
        if self.frame_log is not None and self.frame_log.always:
            self.frame_log.record(charge_point_id, OUT, frame, self.clock(), connection_id)

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
        stored = rotation.sealed(action, payload, charge_point_id, self.sealer)  # never a secret in clear
        call = PendingCall(charge_point_id, self._ids(), action, stored, self.clock(), origin)
        size = len(call.frame().encode("utf-8"))
        if size > MAX_FRAME_BYTES:
            # API Gateway would close the charger's socket (1009) and the call would be retried for ever
            raise OcppError(ocpp_j.PROPERTY_CONSTRAINT_VIOLATION, f"{action} frame is {size} bytes, over API Gateway's {MAX_FRAME_BYTES}-byte frame limit")
        self.queue.add(call)
        return call

    def _frame(self, call: PendingCall) -> str:
        """The CALL frame, with a sealed secret opened."""
        return ocpp_j.call_frame(call.unique_id, call.action,
                                 rotation.opened(call.action, call.payload, call.charge_point_id, self.sealer))

    def _sent(self, call: PendingCall) -> None:
        """Once sent, a secret's stored copy is redacted: a call is never sent twice (a timeout
        drops it; a 410 before it went out keeps it queued, still sealed)."""
        if rotation.is_secret(call.action, call.payload):
            self.queue.redact(call, rotation.redacted(call.action, call.payload))

    def route_frame(self, call: PendingCall) -> str:
        """The frame of a claimed call that a route response carries (``csms.ocpp.answers``):
        counted as sent, so a secret's stored copy is redacted."""
        frame = self._frame(call)
        self._sent(call)
        return frame

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

    def claim_next(self, charge_point_id: str, connection_id: str) -> PendingCall | None:
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
        call = self.claim_next(charge_point_id, connection_id)
        if call is None:
            return False
        frame = self._frame(call)
        try:
            posted = self.poster.post(connection_id, frame)
        except Exception:
            # Throttled, a 5xx: nothing reached the charger. Free the slot (the call stays queued), so
            # a retry or the next sweep sends it now, not after the slot's 60 s deadline expired it unsent.
            self.queue.release(charge_point_id, call.unique_id)
            raise
        if posted:
            log.info("sent %s %s to %s", call.action, call.unique_id, charge_point_id)
            self.posted(charge_point_id, connection_id, frame)
            self._sent(call)
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
        capped: bool = False,
    ) -> PendingCall | None:
        """Queue a charging limit (W per period; 0 pauses) in the profile type and unit this
        charger accepts. None when it has rejected every profile purpose. ``capped``: the limit
        is a share of a shared limit (a site's, an event's): never raised to an EV's minimum above
        the plan (``profiles.bounded_watts``)."""
        support = profiles.ProfileSupport.from_capabilities(self.link.capabilities(charge_point_id), phases=phases,
                                                            now=self.clock())
        purposes = support.purposes(transaction_id is not None)
        if not purposes:
            log.warning("%s rejects every charging profile purpose; cannot be steered", charge_point_id)
            return None
        request = profiles.profile_request(purposes[0], periods_w, support, connector_id=connector_id,
                                           transaction_id=transaction_id, start=start, raise_to_minimum=not capped)
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

    def signed_update_firmware(self, charge_point_id: str, location: str, retrieve_at: datetime,
                               signing_certificate: str, signature: str, *, retries: int = 3,
                               retry_interval_s: int = 300, campaign: str | None = None) -> PendingCall:
        """SignedUpdateFirmware (OCPP 1.6 Security Whitepaper ed. 2, 5.4): the URL with the image's
        signature (base64) and signing certificate (PEM), which the charger checks before installing.
        ``requestId`` is a number derived from the campaign (the charger echoes it in its statuses)."""
        import zlib

        request_id = zlib.crc32((campaign or iso(retrieve_at)).encode()) & 0x7FFFFFFF
        call = self.send(charge_point_id, "SignedUpdateFirmware", {
            "requestId": request_id, "retries": retries, "retryInterval": retry_interval_s,
            "firmware": {"location": location, "retrieveDateTime": iso(retrieve_at),
                         "signingCertificate": signing_certificate, "signature": signature}}, origin="operator")
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
