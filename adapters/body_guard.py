"""Hostile request bodies stopped before parsing: too large, not UTF-8 / base64, or nested deeper
than any route's model (Python's ``json`` recurses: ~1,000 levels in a 2 KB body raised
``RecursionError``, a 500). Every refusal is a 4xx with a ``message`` (docs/api.md: no 500s)."""

from __future__ import annotations

import base64
import binascii

MAX_BODY_BYTES = 256 * 1024  # the largest valid body (a charging profile command) is a few KB
MAX_DEPTH = 32  # the deepest valid body (SetChargingProfile's payload) nests 5 levels


def nesting_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting outside JSON strings, without recursion (O(n))."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def refusal(event: dict) -> tuple[int, str] | None:
    """(status, message) when the event's body must be refused, else None."""
    body = event.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        return 400, "the body must be JSON text"
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return 400, "the body is not UTF-8 JSON"
    if len(body) > MAX_BODY_BYTES:
        return 413, f"the body is larger than {MAX_BODY_BYTES} bytes"
    if nesting_depth(body) > MAX_DEPTH:
        return 400, f"the body nests deeper than {MAX_DEPTH} levels"
    return None
