"""Real API Gateway WebSocket event shapes (tests/fixtures/events), adjusted per test."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "events"
_cache: dict[str, dict] = {}


def load(name: str) -> dict[str, Any]:
    if name not in _cache:
        _cache[name] = json.loads((FIXTURES / f"{name}.json").read_text())
    return copy.deepcopy(_cache[name])


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def authorizer_event(headers: dict[str, str | None], connection_id: str = "conn-1") -> dict[str, Any]:
    """A $connect REQUEST authorizer event; a header set to None is removed."""
    event = load("authorizer_connect")
    for key, value in headers.items():
        event["headers"].pop(key, None)
        event["multiValueHeaders"].pop(key, None)
        if value is not None:
            event["headers"][key] = value
            event["multiValueHeaders"][key] = [value]
    event["requestContext"]["connectionId"] = connection_id
    return event


def connect_event(charge_point_id: str, connection_id: str, subprotocol: str | None = "ocpp1.6") -> dict[str, Any]:
    event = load("connect")
    event["requestContext"]["authorizer"] = {"chargePointId": charge_point_id, "principalId": charge_point_id}
    event["requestContext"]["connectionId"] = connection_id
    if subprotocol is None:
        event["headers"].pop("Sec-WebSocket-Protocol")
        event["multiValueHeaders"].pop("Sec-WebSocket-Protocol")
    else:
        event["headers"]["Sec-WebSocket-Protocol"] = subprotocol
    return event


def default_event(charge_point_id: str, connection_id: str, body: str) -> dict[str, Any]:
    event = load("default")
    event["requestContext"]["authorizer"] = {"chargePointId": charge_point_id, "principalId": charge_point_id}
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["messageId"] = uuid.uuid4().hex[:16]
    event["body"] = body
    return event


def disconnect_event(charge_point_id: str, connection_id: str) -> dict[str, Any]:
    event = load("disconnect")
    event["requestContext"]["authorizer"] = {"chargePointId": charge_point_id, "principalId": charge_point_id}
    event["requestContext"]["connectionId"] = connection_id
    return event
