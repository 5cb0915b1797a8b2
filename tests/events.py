"""Real API Gateway WebSocket event shapes (tests/fixtures/events), adjusted per test."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any

from adapters.http_event import http_event as _http_event

FIXTURES = Path(__file__).parent / "fixtures" / "events"
_cache: dict[str, dict] = {}


def load(name: str) -> dict[str, Any]:
    if name not in _cache:
        _cache[name] = json.loads((FIXTURES / f"{name}.json").read_text())
    return copy.deepcopy(_cache[name])


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def authorizer_event(headers: dict[str, str | None], connection_id: str = "conn-1",
                     source_ip: str | None = None) -> dict[str, Any]:
    """A $connect REQUEST authorizer event; a header set to None is removed; ``source_ip``
    replaces the fixture's ``requestContext.identity.sourceIp``."""
    event = load("authorizer_connect")
    for key, value in headers.items():
        event["headers"].pop(key, None)
        event["multiValueHeaders"].pop(key, None)
        if value is not None:
            event["headers"][key] = value
            event["multiValueHeaders"][key] = [value]
    event["requestContext"]["connectionId"] = connection_id
    if source_ip is not None:
        event["requestContext"]["identity"]["sourceIp"] = source_ip
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


def http_event(method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None,
               claims: dict[str, Any] | None = None, iam: dict[str, str] | None = None,
               raw_body: str | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event as the JWT or IAM authorizer delivers it
    (``adapters.http_event``), at a fixed time with a fixed request id."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    return _http_event(method, path, query=query, headers={"content-type": "application/json", "host": "api.example"},
                       body=text, claims=claims, iam=iam, domain="api.example", api_id="api", request_id="r1",
                       at_ms=1718215200000, user_agent="t")
