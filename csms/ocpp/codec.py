"""OCPP-J 1.6 framing and schema validation.

The ``ocpp`` package is used as a codec only: its OCPP 1.6 JSON schemas (through
``ocpp.messages.get_validator``), nothing of its long-lived ``ChargePoint``.
Error codes keep the OCPP 1.6 spellings (``FormationViolation``,
``OccurenceConstraintViolation``), which the package itself does not emit for 1.6.
"""

from __future__ import annotations

import decimal
import json
import math
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.messages import get_validator

CALL, CALLRESULT, CALLERROR = 2, 3, 4
MAX_UNIQUE_ID_LEN = 36
# Frames that cannot be parsed far enough to find their unique id are answered
# with this id (the convention OCPP 2.0.1 made explicit).
UNKNOWN_ID = "-1"

# OCPP 1.6 error codes, spelled as in OCPP-J 1.6 section 4.2.3.
NOT_IMPLEMENTED = "NotImplemented"
NOT_SUPPORTED = "NotSupported"
INTERNAL_ERROR = "InternalError"
PROTOCOL_ERROR = "ProtocolError"
SECURITY_ERROR = "SecurityError"
FORMATION_VIOLATION = "FormationViolation"
PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
GENERIC_ERROR = "GenericError"
ERROR_CODES = frozenset(
    {
        NOT_IMPLEMENTED,
        NOT_SUPPORTED,
        INTERNAL_ERROR,
        PROTOCOL_ERROR,
        SECURITY_ERROR,
        FORMATION_VIOLATION,
        PROPERTY_CONSTRAINT_VIOLATION,
        OCCURENCE_CONSTRAINT_VIOLATION,
        TYPE_CONSTRAINT_VIOLATION,
        GENERIC_ERROR,
    }
)

# Actions a charge point sends to the central system (OCPP 1.6 core + firmware).
CHARGER_ACTIONS = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
    }
)
# Actions the central system sends to a charge point.
CENTRAL_ACTIONS = frozenset(
    {
        "CancelReservation",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetLocalListVersion",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)
# Schemas whose numbers have a decimal precision: validate with Decimal floats.
_DECIMAL_SCHEMAS = {(CALL, "SetChargingProfile"), (CALL, "RemoteStartTransaction"), (CALLRESULT, "GetCompositeSchedule")}

_MAX_DEPTH = 32


class OcppError(Exception):
    """A problem to answer with a CALLERROR."""

    def __init__(self, code: str, description: str, details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}


@dataclass(frozen=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]
    quirk: str | None = None  # read leniently (raw control characters, not UTF-8): keep the raw frame


@dataclass(frozen=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallError:
    unique_id: str
    code: str
    description: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Ignored:
    """A frame with an unknown message type id: the spec says ignore it."""

    reason: str


class FrameError(Exception):
    """A frame that is not OCPP-J: answer with ``error`` (a CALLERROR) if it is set."""

    def __init__(self, reason: str, error: CallError | None):
        super().__init__(reason)
        self.reason = reason
        self.error = error


def _reject_constant(value: str) -> float:
    raise ValueError(f"{value} is not JSON")


def _depth(value: Any, limit: int = _MAX_DEPTH) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _formation(unique_id: str, description: str) -> CallError:
    return CallError(unique_id, FORMATION_VIOLATION, description, {})


def parse_frame(text: str | bytes) -> Call | CallResult | CallError | Ignored:
    """Parse one OCPP-J frame. Raises :class:`FrameError` for anything that is not one.

    Lenient where it costs nothing (issue 14): raw control characters inside strings (a NUL in a
    ``vendorErrorCode``; RFC 8259 wants them escaped) and text that is not UTF-8 (read as
    Latin-1: the JSON structure is ASCII either way) are read; the resulting :class:`Call` names
    the quirk so the raw frame is kept for review. Anything else that is not JSON is refused."""
    quirks = []
    if isinstance(text, bytes):
        data = text
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
            quirks.append("frame is not UTF-8 (read as Latin-1)")
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        try:
            message = json.loads(text, parse_constant=_reject_constant, strict=False)
        except (ValueError, RecursionError):
            reason = "Frame is not valid UTF-8" if quirks else "Frame is not valid JSON"
            raise FrameError("frame is not UTF-8" if quirks else "frame is not JSON", _formation(UNKNOWN_ID, reason))
        quirks.append("raw control characters inside JSON strings")
    if not isinstance(message, list) or not message:
        raise FrameError("frame is not a JSON array", _formation(UNKNOWN_ID, "Frame is not an OCPP-J array"))
    type_id = message[0]
    unique_id: Any = message[1] if len(message) > 1 else None
    id_ok = isinstance(unique_id, str) and 0 < len(unique_id) <= MAX_UNIQUE_ID_LEN
    reply_id = unique_id if id_ok else UNKNOWN_ID
    if isinstance(type_id, bool) or not isinstance(type_id, int):
        raise FrameError("message type id is not an integer", _formation(reply_id, "MessageTypeId must be an integer"))
    if type_id not in (CALL, CALLRESULT, CALLERROR):
        return Ignored(f"unknown message type id {type_id}")
    if _depth(message) > _MAX_DEPTH:
        error = _formation(reply_id, "Frame nests too deeply") if type_id == CALL else None
        raise FrameError("frame nests too deeply", error)
    if type_id == CALL:
        if not id_ok:
            raise FrameError("bad unique id", _formation(UNKNOWN_ID, "UniqueId must be a string of 1-36 characters"))
        if len(message) != 4:
            raise FrameError("CALL must have 4 elements", _formation(reply_id, "CALL must have 4 elements"))
        _, _, action, payload = message
        if not isinstance(action, str) or not action:
            raise FrameError("action is not a string", _formation(reply_id, "Action must be a string"))
        if not isinstance(payload, dict):
            raise FrameError("payload is not an object", _formation(reply_id, "Payload must be a JSON object"))
        return Call(unique_id, action, payload, "; ".join(quirks) or None)
    # Responses are never answered, whatever is wrong with them.
    if not id_ok:
        raise FrameError("response with a bad unique id", None)
    if type_id == CALLRESULT:
        if len(message) != 3 or not isinstance(message[2], dict):
            raise FrameError("malformed CALLRESULT", None)
        return CallResult(unique_id, message[2])
    if len(message) != 5 or not isinstance(message[2], str) or not isinstance(message[3], str):
        raise FrameError("malformed CALLERROR", None)
    details = message[4] if isinstance(message[4], dict) else {}
    return CallError(unique_id, message[2], message[3], details)


_VALIDATOR_TO_CODE = {
    "type": TYPE_CONSTRAINT_VIOLATION,
    "maxLength": TYPE_CONSTRAINT_VIOLATION,
    "required": OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": OCCURENCE_CONSTRAINT_VIOLATION,
    "enum": PROPERTY_CONSTRAINT_VIOLATION,
    "minimum": PROPERTY_CONSTRAINT_VIOLATION,
    "maximum": PROPERTY_CONSTRAINT_VIOLATION,
    "multipleOf": PROPERTY_CONSTRAINT_VIOLATION,
    "pattern": PROPERTY_CONSTRAINT_VIOLATION,
    "additionalProperties": FORMATION_VIOLATION,
}


def _schema_error(exc: SchemaValidationError) -> OcppError:
    code = _VALIDATOR_TO_CODE.get(str(exc.validator), FORMATION_VIOLATION)
    where = "/".join(str(p) for p in exc.absolute_path) or "payload"
    message = exc.message if len(exc.message) <= 200 else exc.message[:197] + "..."
    return OcppError(code, f"{where}: {message}")


def _has_bad_number(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**63:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def validate(message_type: int, action: str, payload: dict[str, Any]) -> None:
    """Validate a CALL or CALLRESULT payload against the OCPP 1.6 schema of ``action``.

    Raises :class:`OcppError` with the 1.6 error code of the first violation.
    """
    if (message_type, action) in _DECIMAL_SCHEMAS:
        validator = get_validator(message_type, action, "1.6", parse_float=decimal.Decimal)
        payload = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    else:
        validator = get_validator(message_type, action, "1.6")
    if _has_bad_number(payload):
        raise OcppError(TYPE_CONSTRAINT_VIOLATION, "number out of range")
    error = next(iter(validator.iter_errors(payload)), None)
    if error is not None:
        raise _schema_error(error)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def call_frame(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return _dumps([CALL, unique_id, action, payload])


def result_frame(unique_id: str, payload: dict[str, Any]) -> str:
    return _dumps([CALLRESULT, unique_id, payload])


def error_frame(unique_id: str, code: str, description: str, details: dict[str, Any] | None = None) -> str:
    if code not in ERROR_CODES:
        code = GENERIC_ERROR
    return _dumps([CALLERROR, unique_id, code, description[:255], details or {}])
