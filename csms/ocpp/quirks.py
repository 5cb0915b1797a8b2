"""Reading around real chargers' schema and data quirks (issue 14; docs/interop.md).

The rule (docs/architecture.md, "A charger message is never lost to a quirk"): when the only
fault of a message is one we can read around, the message is accepted, what it means is stored,
and the raw frame is kept for review with the charger, the message id and the reason. These are
the read-arounds, all pure functions:

- :func:`read_around` — a CALL whose only schema violations are descriptive strings that are too
  long (serials, vendor / model, firmware version, ...: OCPP 1.6 section 6 CiString lengths;
  Schneider EVlink: lbbrhzn/ocpp#1622, mobilityhouse/ocpp#273): stored truncated, repairs listed.
- :func:`coerce_answer` — the same for a charger's answer to a platform call (a GetConfiguration
  ``value`` sent as a number: mobilityhouse/ocpp#695, #582).
- :func:`untrusted_future` — a charger timestamp later than the receipt time beyond
  :data:`FUTURE_TOLERANCE` (a clock running ahead until the Boot answer sets it) is not trusted
  over the receipt order.

No AWS here and no storage: callers decide what to store and keep.
"""

from __future__ import annotations

import copy
import decimal
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ocpp.messages import get_validator

# A charger clock may run this far ahead of ours before its timestamps stop being trusted: NTP-less
# clocks drift by seconds a day; a clock hours ahead (not yet set by the Boot answer) is a fault.
FUTURE_TOLERANCE = timedelta(seconds=60)

# Free-text fields that only describe (OCPP 1.6 CiString fields that identify nothing we key on).
# A too-long value is stored truncated; the raw frame keeps the whole value. idTag, unique ids,
# enums and numbers are never repaired this way.
DESCRIPTIVE_FIELDS = frozenset({
    "chargePointVendor", "chargePointModel", "chargePointSerialNumber", "chargeBoxSerialNumber",
    "firmwareVersion", "iccid", "imsi", "meterType", "meterSerialNumber",  # BootNotification
    "info", "vendorId", "vendorErrorCode",  # StatusNotification
    "messageId",  # DataTransfer
})


@dataclass(frozen=True)
class Repair:
    """One repaired field: its path (``a/b/0``), what was wrong and what was done."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def _errors(message_type: int, action: str, payload: dict[str, Any]) -> list:
    decimal_numbers = action in ("SetChargingProfile", "RemoteStartTransaction", "GetCompositeSchedule")
    validator = get_validator(message_type, action, "1.6", parse_float=decimal.Decimal) if decimal_numbers \
        else get_validator(message_type, action, "1.6")
    if decimal_numbers:
        payload = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    return list(validator.iter_errors(payload))


def _set(payload: Any, path: list, value: Any) -> None:
    target = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def as_text(value: Any) -> str | None:
    """A number or boolean as the text a charger meant (``3`` -> ``"3"``, ``true`` -> ``"true"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _as_number(value: Any, integer: bool) -> int | float | None:
    if not isinstance(value, str):
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if integer:
        return int(number) if number.is_integer() else None
    return int(number) if number.is_integer() else number


def _repair(error, payload: dict[str, Any], descriptive_only: bool) -> Repair | None:
    """Repair one violation in place; None when it is not one we read around."""
    path = list(error.absolute_path)
    where = "/".join(str(p) for p in path) or "payload"
    if not path:
        return None
    field = path[-1]
    value = error.instance
    if error.validator == "maxLength" and isinstance(value, str):
        if descriptive_only and field not in DESCRIPTIVE_FIELDS:
            return None
        limit = int(error.validator_value)
        _set(payload, path, value[:limit])
        return Repair(where, f"{len(value)} characters, schema allows {limit}: stored truncated")
    if error.validator == "type" and not descriptive_only:
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if "string" in wanted:
            text = as_text(value)
            if text is not None:
                _set(payload, path, text)
                return Repair(where, f"{type(value).__name__} {value!r} where a string is required: read as {text!r}")
        for kind in ("integer", "number"):
            if kind in wanted:
                number = _as_number(value, kind == "integer")
                if number is not None:
                    _set(payload, path, number)
                    return Repair(where, f"string {value!r} where {'an integer' if kind == 'integer' else 'a number'} "
                                         f"is required: read as {number!r}")
    return None


def _read_around(message_type: int, action: str, payload: dict[str, Any],
                 descriptive_only: bool) -> tuple[dict[str, Any], list[Repair]] | None:
    fixed = copy.deepcopy(payload)
    repairs: list[Repair] = []
    for _ in range(64):  # each pass repairs what it can; a payload has few fields
        errors = _errors(message_type, action, fixed)
        if not errors:
            return (fixed, repairs) if repairs else None
        done = [r for r in (_repair(e, fixed, descriptive_only) for e in errors) if r is not None]
        if len(done) != len(errors) or not done:
            return None  # something we do not read around: the caller's usual path
        repairs.extend(done)
    return None


def read_around(action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], list[Repair]] | None:
    """A charger CALL payload that fails its OCPP 1.6 schema only because descriptive strings
    (:data:`DESCRIPTIVE_FIELDS`) are too long: ``(payload with them truncated, repairs)``, or None
    when some violation is of another kind (a wrong type in a CALL is still answered with its
    CALLERROR: the charger must learn it; transaction messages are read leniently anyway)."""
    from csms.ocpp.codec import CALL

    return _read_around(CALL, action, payload, descriptive_only=True)


def coerce_answer(action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], list[Repair]] | None:
    """A charger's CALLRESULT to our ``action`` that fails its schema only for type or length quirks
    (e.g. GetConfiguration ``"value": 3``): ``(repaired payload, repairs)``, else None."""
    from csms.ocpp.codec import CALLRESULT

    return _read_around(CALLRESULT, action, payload, descriptive_only=False)


def untrusted_future(stamp: datetime, received_at: datetime) -> bool:
    """True when a charger's ``stamp`` is later than ``received_at`` by more than the tolerance:
    the charger's clock is ahead (OCPP 1.6 StatusNotification: the timestamp is the time the status
    is reported for; it cannot be later than its receipt)."""
    return stamp - received_at > FUTURE_TOLERANCE
