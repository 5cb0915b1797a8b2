"""The central system: one OCPP-J frame in, at most one frame out.

Stateless between calls (everything lives behind the repositories), so the
same object serves an API Gateway ``$default`` Lambda and the local gateway.

Transaction messages (StartTransaction, StopTransaction, MeterValues) are never
answered with a CALLERROR for a data problem: a charger retries a failed
transaction message a few times and then drops it. They are acknowledged, the
raw message is kept for review, and what can be read is stored. Only when
storage itself fails do they get ``InternalError``, so the charger retries.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from csms.model import BootInfo, ConnectorStatus, ReviewItem
from csms.ocpp import codec as ocpp_j
from csms.ocpp import evidence, quirks
from csms.ocpp.codec import Call, CallError, CallResult, FrameError, Ignored, OcppError
from csms.ocpp.frame_log import IN, OUT, FrameLog
from csms.ocpp.ports import (
    ChargerPresence,
    Clock,
    ConnectorRepository,
    IdTagAuthority,
    MeterRepository,
    ReviewLog,
    SessionRepository,
)
from csms.ocpp.v16.routing import ROUTES, TRANSACTION_ACTIONS, Context, on
from csms.ocpp.v16.transactions import Transactions
from csms.timeutil import BadTimestamp, iso, parse_ts, plausible, utcnow

log = logging.getLogger(__name__)

# (charge point id, connection id, answer) -> the next frame to send as the route response
# (charge point id, connection id, connected at, action) after a charger's CALL was handled
AfterCallHook = Callable[[str, "str | None", "datetime | None", str], None]
ResponseHook = Callable[[str, "str | None", CallResult | CallError], "str | None"]
# (charge point id, action, payload, received at) after a BootNotification, FirmwareStatusNotification
# or DiagnosticsStatusNotification was stored (firmware management: csms.firmware)
NotificationHook = Callable[[str, str, dict, datetime], None]
# ... and after a StatusNotification was answered (the operator console's alerts: a fault); a new
# StartTransaction tells the hook itself, with its transactionId (csms.ocpp.v16.transactions)
ANSWERED_NOTIFICATIONS = frozenset({"StatusNotification"})


class CentralSystem(Transactions):
    """Every seam is passed in here: the repositories, the clock, what to do with an answer to a
    platform-initiated call (``on_response``), after a charger's call was answered (``after_call``:
    connection set-up), how to ask for a re-plan (``replan``) and how to count frames (``tally``)."""

    def __init__(
        self,
        chargers: ChargerPresence,
        connectors: ConnectorRepository,
        sessions: SessionRepository,
        meter: MeterRepository,
        review: ReviewLog,
        *,
        clock: Clock = utcnow,
        heartbeat_interval_s: int = 300,
        on_response: ResponseHook | None = None,
        after_call: AfterCallHook | None = None,
        replan: Callable[[str], None] | None = None,
        tally: Callable[[str], None] | None = None,
        on_notification: NotificationHook | None = None,
        authority: IdTagAuthority | None = None,
        frame_log: FrameLog | None = None,
    ):
        self.chargers = chargers
        self.connectors = connectors
        self.sessions = sessions
        self.meter = meter
        self.review = review
        self.clock = clock
        self.heartbeat_interval_s = heartbeat_interval_s
        self.on_response = on_response or self._unmatched_response
        self.after_call = after_call
        self.replan = replan
        self.tally = tally  # counts frames by action (metrics); never raises
        # Handlers of further charger actions by name, (Context, payload) -> reply payload
        # (csms.ocpp.v16.security_extension.SecurityExtension.handlers)
        self.extensions: dict[str, Callable[[Context, dict[str, Any]], dict[str, Any]]] = {}
        self.on_notification = on_notification
        self.authority = authority  # answers idTags (csms.authorization); None: every idTag is Accepted
        self.frame_log = frame_log  # every frame in and out, when on for the charger (issue 22)

    # ------------------------------------------------------------------ frames
    def handle_frame(
        self,
        charge_point_id: str,
        connection_id: str | None,
        text: str | bytes,
        connected_at: datetime | None = None,
        frame_log_until: datetime | None = None,
    ) -> str | None:
        """Handle one frame; return the reply frame, or None when there is none.

        ``connected_at`` (when the connection opened) lets the ``after_call`` hook
        set up young connections without a storage read on every message. ``frame_log_until``:
        the charger's frame-log switch as the connection's authorizer read it (``csms.ocpp.frame_log``;
        deciding costs no read, and nothing is written while it is off)."""
        frames = self.frame_log
        if frames is None or not frames.on(frame_log_until, self.clock()):
            return self._frame(charge_point_id, connection_id, text, connected_at)
        frames.record(charge_point_id, IN, text, self.clock(), connection_id)
        reply = self._frame(charge_point_id, connection_id, text, connected_at)
        if reply is not None:
            frames.record(charge_point_id, OUT, reply, self.clock(), connection_id)
        return reply

    def _frame(self, charge_point_id: str, connection_id: str | None, text: str | bytes,
               connected_at: datetime | None) -> str | None:
        try:
            message = ocpp_j.parse_frame(text)
        except FrameError as exc:
            self._count("Malformed")
            log.warning("malformed frame from %s: %s", charge_point_id, exc.reason)
            if exc.error is None:
                return None
            return ocpp_j.error_frame(exc.error.unique_id, exc.error.code, exc.error.description)
        if isinstance(message, Ignored):
            log.info("ignored frame from %s: %s", charge_point_id, message.reason)
            return None
        if isinstance(message, (CallResult, CallError)):
            self._count("CallResult" if isinstance(message, CallResult) else "CallError")
            return self.on_response(charge_point_id, connection_id, message)
        self._count(message.action if message.action in ROUTES or message.action in self.extensions else "Unknown")
        raw = text.decode("utf-8", errors="backslashreplace") if isinstance(text, bytes) else text
        reply = self._handle_call(charge_point_id, connection_id, message, raw)
        if reply.startswith(f"[{ocpp_j.CALLRESULT},") and message.action in ANSWERED_NOTIFICATIONS:
            self._answered(charge_point_id, message, reply)
        if reply.startswith(f"[{ocpp_j.CALLRESULT},"):
            if self.after_call is not None:
                try:
                    self.after_call(charge_point_id, connection_id, connected_at, message.action)
                except Exception:  # the charger's answer must not depend on it
                    log.exception("after-call hook failed for %s from %s", message.action, charge_point_id)
            self.after_transaction(charge_point_id, message.action)
        return reply

    def _answered(self, charge_point_id: str, call: Call, reply: str) -> None:
        """Tell the notification hook of an answered StatusNotification (alerts, ``csms.console.alerts``:
        a fault). Never raises."""
        if self.on_notification is None:
            return
        try:
            self.on_notification(charge_point_id, call.action, call.payload, self.clock())
        except Exception:
            log.exception("notification hook failed for %s from %s", call.action, charge_point_id)

    def _count(self, label: str) -> None:
        if self.tally is not None:
            try:
                self.tally(label)
            except Exception:  # metrics must never cost a charger its answer
                log.exception("tally failed")

    def _handle_call(self, charge_point_id: str, connection_id: str | None, call: Call, raw: str) -> str:
        action = call.action
        extension = self.extensions.get(action)
        if action not in ROUTES and extension is None:
            if action in ocpp_j.CENTRAL_ACTIONS:
                return ocpp_j.error_frame(call.unique_id, ocpp_j.NOT_SUPPORTED, f"{action} is not sent by a charge point")
            return ocpp_j.error_frame(call.unique_id, ocpp_j.NOT_IMPLEMENTED, f"Unknown action {action[:40]}")
        ctx = Context(charge_point_id, connection_id, self.clock(), call.unique_id, raw, lenient=False)
        violation: OcppError | None
        repaired = None
        try:
            ocpp_j.validate(ocpp_j.CALL, action, call.payload)
        except OcppError as exc:
            # Read around what costs nothing (too-long descriptive strings): never lose the message.
            repaired = quirks.read_around(action, call.payload) if action not in TRANSACTION_ACTIONS else None
            if repaired is not None:
                try:
                    ocpp_j.validate(ocpp_j.CALL, action, repaired[0])
                except OcppError:
                    repaired = None
            if action not in TRANSACTION_ACTIONS and repaired is None:
                return ocpp_j.error_frame(call.unique_id, exc.code, exc.description)
            violation = exc
        else:
            violation = None
        try:
            if call.quirk is not None:
                self._keep(ctx, action, "frame_read_leniently", call.quirk)
            if repaired is not None:
                self._keep(ctx, action, "read_around", "; ".join(str(r) for r in repaired[1]))
            elif violation is not None:
                self._keep(ctx, action, "schema_violation", f"{violation.code}: {violation.description}")
                ctx = Context(charge_point_id, connection_id, ctx.received_at, call.unique_id, raw, lenient=True)
            handler = extension if extension is not None else getattr(self, ROUTES[action])
            payload = handler(ctx, repaired[0] if repaired is not None else call.payload)
        except OcppError as exc:
            return ocpp_j.error_frame(call.unique_id, exc.code, exc.description)
        except Exception:  # storage or a bug: the charger will retry
            log.exception("failed to handle %s from %s", action, charge_point_id)
            return ocpp_j.error_frame(call.unique_id, ocpp_j.INTERNAL_ERROR, f"{action} could not be processed; retry")
        try:
            ocpp_j.validate(ocpp_j.CALLRESULT, action, payload)
        except OcppError:
            log.exception("reply to %s is not schema-valid: %s", action, payload)
            return ocpp_j.error_frame(call.unique_id, ocpp_j.INTERNAL_ERROR, "reply failed validation")
        return ocpp_j.result_frame(call.unique_id, payload)

    def _notify(self, ctx: Context, action: str, payload: dict[str, Any]) -> None:
        """Tell the notification hook; the charger's answer never depends on it (what it missed,
        the periodic job catches up on)."""
        if self.on_notification is None:
            return
        try:
            self.on_notification(ctx.charge_point_id, action, payload, ctx.received_at)
        except Exception:
            log.exception("notification hook failed for %s from %s", action, ctx.charge_point_id)

    def _unmatched_response(self, charge_point_id: str, connection_id: str | None, message: CallResult | CallError) -> None:
        log.info("response %s from %s matches no pending call; dropped", message.unique_id, charge_point_id)
        return None

    def _keep(self, ctx: Context, action: str, kind: str, detail: str, transaction_id: int | None = None) -> None:
        """Keep a message for review: a data problem the charger is not told about."""
        log.warning("review %s from %s: %s %s", action, ctx.charge_point_id, kind, detail)
        self.review.add(
            ReviewItem(
                charge_point_id=ctx.charge_point_id,
                kind=kind,
                detail=detail[:1000],
                at=ctx.received_at,
                action=action,
                transaction_id=transaction_id,
                raw=ctx.raw[:32768],
                unique_id=ctx.unique_id,
            )
        )

    def _time(self, ctx: Context, value: Any, flags: list[str] | None = None) -> datetime:
        """A charger timestamp, or the received time when it is missing, unreadable or
        before the charger's clock was set (1970)."""
        if value is None:
            return ctx.received_at
        try:
            parsed = parse_ts(value)
        except BadTimestamp:
            if flags is not None:
                flags.append("bad_timestamp")
            return ctx.received_at
        if not plausible(parsed):
            if flags is not None:
                flags.append("clock_not_set")
            return ctx.received_at
        if quirks.untrusted_future(parsed, ctx.received_at):
            # The charger's clock runs ahead (until its Boot answer sets it): the receipt time,
            # never a future stamp that would outrank every later message.
            if flags is not None:
                flags.append("clock_ahead")
            return ctx.received_at
        return parsed

    # ------------------------------------------------------------ core actions
    @on("BootNotification")
    def boot_notification(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        boot = BootInfo(
            vendor=p["chargePointVendor"],
            model=p["chargePointModel"],
            serial_number=p.get("chargePointSerialNumber"),
            charge_box_serial_number=p.get("chargeBoxSerialNumber"),
            firmware_version=p.get("firmwareVersion"),
            iccid=p.get("iccid"),
            imsi=p.get("imsi"),
            meter_type=p.get("meterType"),
            meter_serial_number=p.get("meterSerialNumber"),
        )
        learnt = self.chargers.record_boot(ctx.charge_point_id, boot, ctx.received_at)
        if learnt is not None:
            # Learnt capabilities are evidence under a firmware: a new one re-opens every question.
            changed = evidence.firmware_change(learnt, boot.firmware_version, ctx.received_at)
            if changed:
                self.chargers.record_capabilities(ctx.charge_point_id, changed)
        self._notify(ctx, "BootNotification", p)
        return {"status": "Accepted", "currentTime": iso(ctx.received_at), "interval": self.heartbeat_interval_s}

    @on("Heartbeat")
    def heartbeat(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        self.chargers.touch(ctx.charge_point_id, ctx.received_at)
        return {"currentTime": iso(ctx.received_at)}

    @on("StatusNotification")
    def status_notification(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        clock: list[str] = []
        stamp = self._time(ctx, p.get("timestamp"), clock)
        if "clock_ahead" in clock:
            # An untrusted stamp ranks below whatever the charger stamps up to FUTURE_TOLERANCE before
            # this receipt: a charger whose clock is then set a little behind ours (or stamps in whole
            # seconds) must not see its next status lose the newest-wins write (statuses are not
            # queued offline, OCPP 1.6 section 4.9, so receipt order is the truth here).
            stamp = ctx.received_at - quirks.FUTURE_TOLERANCE
        status = ConnectorStatus(
            connector_id=p["connectorId"],
            status=p["status"],
            error_code=p["errorCode"],
            timestamp=stamp,
            received_at=ctx.received_at,
            info=p.get("info"),
            vendor_id=p.get("vendorId"),
            vendor_error_code=p.get("vendorErrorCode"),
        )
        if "clock_ahead" in clock:
            self._keep(ctx, "StatusNotification", "clock_ahead",
                       f"timestamp {p.get('timestamp')} is later than its receipt {iso(ctx.received_at)}: "
                       "ordered by receipt time")
        if not self.connectors.record_status(ctx.charge_point_id, status):
            log.info("older status for %s connector %s ignored", ctx.charge_point_id, status.connector_id)
        return {}

    @on("Authorize")
    def authorize(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        # The charger's policy answers (csms.authorization: accept-all by default, a list of known
        # idTags, or the local list pushed to the charger): OCPP 1.6 section 4.2.
        return {"idTagInfo": self.id_tag_info(ctx, p["idTag"])}

    @on("DataTransfer")
    def data_transfer(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        log.info("DataTransfer from %s vendor %s message %s", ctx.charge_point_id, p.get("vendorId"), p.get("messageId"))
        return {"status": "UnknownVendorId"}

    @on("FirmwareStatusNotification")
    def firmware_status(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        self.chargers.record_firmware_status(ctx.charge_point_id, p["status"], ctx.received_at)
        self._notify(ctx, "FirmwareStatusNotification", p)
        return {}

    @on("DiagnosticsStatusNotification")
    def diagnostics_status(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        self.chargers.record_diagnostics_status(ctx.charge_point_id, p["status"], ctx.received_at)
        self._notify(ctx, "DiagnosticsStatusNotification", p)
        return {}

