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

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from csms import ocpp_j
from csms.meter import parse_meter_values, session_energy
from csms.model import BootInfo, ConnectorStatus, ReviewItem, Session
from csms.ocpp_j import Call, CallError, CallResult, FrameError, Ignored, OcppError
from csms.ports import (
    ChargerRepository,
    Clock,
    ConnectorRepository,
    MeterRepository,
    ReviewLog,
    SessionRepository,
)
from csms.timeutil import BadTimestamp, iso, parse_ts, plausible, utcnow

log = logging.getLogger(__name__)

TRANSACTION_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
ACCEPTED = {"status": "Accepted"}

# (charge point id, connection id, answer) -> the next frame to send as the route response
# (charge point id, connection id, connected at, action) after a charger's CALL was handled
AfterCallHook = Callable[[str, "str | None", "datetime | None", str], None]
ResponseHook = Callable[[str, "str | None", CallResult | CallError], "str | None"]
# (charge point id, action, payload, received at) after a BootNotification, FirmwareStatusNotification
# or DiagnosticsStatusNotification was stored (firmware management: csms.firmware)
NotificationHook = Callable[[str, str, dict, datetime], None]
_ROUTES: dict[str, str] = {}


def on(action: str):
    """Register a method as the handler of a charger-initiated action."""

    def register(method):
        _ROUTES[action] = method.__name__
        return method

    return register


@dataclass(frozen=True)
class Context:
    charge_point_id: str
    connection_id: str | None
    received_at: datetime
    unique_id: str
    raw: str
    lenient: bool  # payload failed its schema: read what can be read


# Integers beyond this are not a charger's numbers (OCPP integers are 32-bit; a Wh register of
# 2^53 is 9 TWh) and DynamoDB cannot store some of them (1e308): treated as missing, so the message
# is acknowledged and flagged for review instead of failing storage and being retried forever.
MAX_INT = 2**53


def _int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str):
        try:
            value = int(float(value))
        except (ValueError, OverflowError):
            return default
    if isinstance(value, int):
        return value if -MAX_INT <= value <= MAX_INT else default
    return default


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class CentralSystem:
    def __init__(
        self,
        chargers: ChargerRepository,
        connectors: ConnectorRepository,
        sessions: SessionRepository,
        meter: MeterRepository,
        review: ReviewLog,
        *,
        clock: Clock = utcnow,
        heartbeat_interval_s: int = 300,
        on_response: ResponseHook | None = None,
        after_call: AfterCallHook | None = None,
        on_notification: NotificationHook | None = None,
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
        self.on_notification = on_notification
        self.tally: Callable[[str], None] | None = None  # counts frames by action (metrics); never raises

    # ------------------------------------------------------------------ frames
    def handle_frame(
        self,
        charge_point_id: str,
        connection_id: str | None,
        text: str | bytes,
        connected_at: datetime | None = None,
    ) -> str | None:
        """Handle one frame; return the reply frame, or None when there is none.

        ``connected_at`` (when the connection opened) lets the ``after_call`` hook
        set up young connections without a storage read on every message."""
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
        self._count(message.action if message.action in _ROUTES else "Unknown")
        raw = text.decode("utf-8") if isinstance(text, bytes) else text
        reply = self._handle_call(charge_point_id, connection_id, message, raw)
        if self.after_call is not None and reply.startswith(f"[{ocpp_j.CALLRESULT},"):
            try:
                self.after_call(charge_point_id, connection_id, connected_at, message.action)
            except Exception:  # the charger's answer must not depend on it
                log.exception("after-call hook failed for %s from %s", message.action, charge_point_id)
        return reply

    def _count(self, label: str) -> None:
        if self.tally is not None:
            try:
                self.tally(label)
            except Exception:  # metrics must never cost a charger its answer
                log.exception("tally failed")

    def _handle_call(self, charge_point_id: str, connection_id: str | None, call: Call, raw: str) -> str:
        action = call.action
        if action not in _ROUTES:
            if action in ocpp_j.CENTRAL_ACTIONS:
                return ocpp_j.error_frame(call.unique_id, ocpp_j.NOT_SUPPORTED, f"{action} is not sent by a charge point")
            return ocpp_j.error_frame(call.unique_id, ocpp_j.NOT_IMPLEMENTED, f"Unknown action {action[:40]}")
        ctx = Context(charge_point_id, connection_id, self.clock(), call.unique_id, raw, lenient=False)
        try:
            ocpp_j.validate(ocpp_j.CALL, action, call.payload)
        except OcppError as exc:
            if action not in TRANSACTION_ACTIONS:
                return ocpp_j.error_frame(call.unique_id, exc.code, exc.description)
            violation = exc
        else:
            violation = None
        try:
            if violation is not None:
                self._keep(ctx, action, "schema_violation", f"{violation.code}: {violation.description}")
                ctx = Context(charge_point_id, connection_id, ctx.received_at, call.unique_id, raw, lenient=True)
            payload = getattr(self, _ROUTES[action])(ctx, call.payload)
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
            )
        )

    def _time(self, ctx: Context, value: Any, action: str, flags: list[str] | None = None) -> datetime:
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
        self.chargers.record_boot(ctx.charge_point_id, boot, ctx.received_at)
        self._notify(ctx, "BootNotification", p)
        return {"status": "Accepted", "currentTime": iso(ctx.received_at), "interval": self.heartbeat_interval_s}

    @on("Heartbeat")
    def heartbeat(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        self.chargers.touch(ctx.charge_point_id, ctx.received_at)
        return {"currentTime": iso(ctx.received_at)}

    @on("StatusNotification")
    def status_notification(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        status = ConnectorStatus(
            connector_id=p["connectorId"],
            status=p["status"],
            error_code=p["errorCode"],
            timestamp=self._time(ctx, p.get("timestamp"), "StatusNotification"),
            received_at=ctx.received_at,
            info=p.get("info"),
            vendor_id=p.get("vendorId"),
            vendor_error_code=p.get("vendorErrorCode"),
        )
        if not self.connectors.record_status(ctx.charge_point_id, status):
            log.info("older status for %s connector %s ignored", ctx.charge_point_id, status.connector_id)
        return {}

    @on("Authorize")
    def authorize(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        # No id-tag lists yet: every driver may charge; the platform steers the energy.
        return {"idTagInfo": ACCEPTED}

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

    # ----------------------------------------------------- transaction actions
    @on("StartTransaction")
    def start_transaction(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        flags: list[str] = []
        connector_id = _int(p.get("connectorId"), 0)
        meter_start = _int(p.get("meterStart"))
        if meter_start is None:
            flags.append("meter_start_missing")
        started_at = self._time(ctx, p.get("timestamp"), "StartTransaction", flags)
        # A retried StartTransaction (same or a new unique id) gets the same transaction id.
        start_key = "|".join(
            [ctx.charge_point_id, str(connector_id), str(p.get("timestamp")), str(meter_start), _str(p.get("idTag"))]
        )
        existing = self.sessions.find_by_start_key(start_key)
        if existing is not None:
            log.info("StartTransaction from %s retried: transaction %s", ctx.charge_point_id, existing)
            return {"transactionId": existing, "idTagInfo": ACCEPTED}
        if ctx.lenient:
            flags.append("schema_violation")
        session = Session(
            charge_point_id=ctx.charge_point_id,
            transaction_id=0,
            connector_id=connector_id,
            id_tag=_str(p.get("idTag"))[:20],
            meter_start_wh=meter_start or 0,
            started_at=started_at,
            start_received_at=ctx.received_at,
            reservation_id=_int(p.get("reservationId")),
            flags=flags,
        )
        transaction_id = self.sessions.create(session, start_key)
        if flags and not ctx.lenient:
            self._keep(ctx, "StartTransaction", "flagged", ",".join(flags), transaction_id)
        return {"transactionId": transaction_id, "idTagInfo": ACCEPTED}

    @on("MeterValues")
    def meter_values(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        connector_id = _int(p.get("connectorId"), 0)
        transaction_id = _int(p.get("transactionId"))
        values = p.get("meterValue") if isinstance(p.get("meterValue"), list) else []
        samples, problems = parse_meter_values(
            ctx.charge_point_id,
            connector_id,
            [v for v in values if isinstance(v, dict)],
            source="mv",
            transaction_id=transaction_id,
            received_at=ctx.received_at,
        )
        if samples:
            self.meter.put(samples)
        implausible = [s for s in samples if not plausible(s.timestamp)]
        if implausible:
            problems.append(f"{len(implausible)} sample(s) before the charger's clock was set")
        if problems and not ctx.lenient:
            self._keep(ctx, "MeterValues", "meter_data", "; ".join(problems[:10]), transaction_id)
        return {}

    @on("StopTransaction")
    def stop_transaction(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        reply = {"idTagInfo": ACCEPTED}
        transaction_id = _int(p.get("transactionId"))
        if transaction_id is None:
            if not ctx.lenient:
                self._keep(ctx, "StopTransaction", "stop_without_transaction_id", "no readable transactionId")
            return reply
        session = self.sessions.get(ctx.charge_point_id, transaction_id) if transaction_id > 0 else None
        flags: list[str] = []
        if session is None:
            # Started offline (-1/0) or unknown here: attach to the only open session, if there is one.
            open_sessions = self.sessions.active(ctx.charge_point_id)
            if len(open_sessions) != 1:
                self._keep(
                    ctx, "StopTransaction", "stop_for_unknown_transaction",
                    f"transactionId {transaction_id}; {len(open_sessions)} open sessions", transaction_id,
                )
                return reply
            session = open_sessions[0]
            flags.append(f"stop_matched_from_transaction_id_{transaction_id}")
        if not session.active:
            same = session.meter_stop_wh == _int(p.get("meterStop"))
            if not same:
                self._keep(ctx, "StopTransaction", "stop_for_stopped_transaction",
                           f"transaction {session.transaction_id} already stopped", session.transaction_id)
            return reply
        meter_stop = _int(p.get("meterStop"))
        if meter_stop is None:
            flags.append("meter_stop_missing")
        stopped_at = self._time(ctx, p.get("timestamp"), "StopTransaction", flags)
        tx_data = p.get("transactionData") if isinstance(p.get("transactionData"), list) else []
        tx_samples, problems = parse_meter_values(
            ctx.charge_point_id, session.connector_id, [v for v in tx_data if isinstance(v, dict)],
            source="txdata", transaction_id=session.transaction_id, received_at=ctx.received_at,
        )
        if tx_samples:
            self.meter.put(tx_samples)
        if problems:
            flags.append("unreadable_transaction_data")
        samples = [
            s for s in self.meter.between(ctx.charge_point_id, session.connector_id, session.started_at, stopped_at)
            if s.transaction_id in (None, session.transaction_id)
        ]
        energy = session_energy(session.meter_start_wh, samples, meter_stop)
        flags.extend(energy.flags)
        if ctx.lenient:
            flags.append("schema_violation")
        session.stopped_at = stopped_at
        session.stop_received_at = ctx.received_at
        session.meter_stop_wh = meter_stop
        session.stop_reason = _str(p.get("reason")) or None
        session.stop_id_tag = _str(p.get("idTag")) or None
        session.energy_wh = round(energy.energy_wh, 3)
        session.max_power_w = energy.max_power_w
        session.flags = list(dict.fromkeys(session.flags + flags))
        self.sessions.save_stop(session)
        if flags and not ctx.lenient:
            self._keep(ctx, "StopTransaction", "flagged", ",".join(flags), session.transaction_id)
        return reply


def describe_frame(text: str | bytes) -> str:
    """A short, secret-free description of a frame for logs."""
    try:
        message = json.loads(text)
        if isinstance(message, list) and len(message) > 2:
            return f"type={message[0]!r} id={str(message[1])[:36]!r} action={str(message[2])[:40]!r}"
    except (ValueError, TypeError, RecursionError):
        pass
    return f"unparsed frame of {len(text)} bytes"
