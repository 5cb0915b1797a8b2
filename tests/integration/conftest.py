"""The real Lambda entry points against moto's DynamoDB."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from moto import mock_aws

from adapters.dynamo.models import create_tables
from adapters.settings import Settings
from adapters.wiring import build_runtime
from csms.ocpp.credentials import hash_key
from handlers import _runtime, authorizer, connect, default, disconnect
from tests import events
from tests.fakes import MemoryPoster

PASSWORD = "0123456789abcdef0123"


@pytest.fixture
def poster() -> MemoryPoster:
    """What the platform sends to chargers, kept in memory. A test (or fixture) that asks for it gets
    a platform built with it (``build_runtime(..., poster=...)``); others keep the settings' poster."""
    return MemoryPoster()


@pytest.fixture
def platform(monkeypatch, request):
    """Environment as the CDK stack sets it, DynamoDB mocked by moto, tables created; with the
    ``poster`` fixture when the test uses it."""
    for key, value in Settings.with_prefix("it", region="eu-west-2").as_env().items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        import boto3

        from adapters.settings import ENV_SECRETS_KMS_KEY

        # The stack's KMS key that seals a rotated AuthorizationKey in the calls table (moto's KMS)
        key = boto3.client("kms", region_name="eu-west-2").create_key(Description="csms secrets")["KeyMetadata"]
        monkeypatch.setenv(ENV_SECRETS_KMS_KEY, key["KeyId"])
        _runtime.reset()
        if "poster" in request.fixturenames:
            rt = _runtime.install(build_runtime(Settings.from_env(), poster=request.getfixturevalue("poster"),
                                                counters=_runtime.lambda_counters()))
        else:
            rt = _runtime.runtime()
        create_tables()
        yield rt
        _runtime.reset()


class ChargerClient:
    """Drives the handlers the way API Gateway would for one charger."""

    _ids = itertools.count(1)

    def __init__(self, rt, charge_point_id: str, password: str = PASSWORD):
        self.rt = rt
        self.id = charge_point_id
        self.password = password
        self.connection_id: str | None = None
        self.connected_at_ms: int | None = None  # None: the fixture's (an old connection)
        self.context: dict[str, Any] = {}  # the authorizer's context, passed on to every route as API Gateway does

    def register(self) -> "ChargerClient":
        self.rt.chargers.register(self.id, hash_key(self.password), datetime.now(timezone.utc))
        return self

    def handshake(self, **headers: str | None) -> dict[str, Any]:
        """Authorizer then $connect; returns the $connect response (raises on 401)."""
        connection_id = f"conn-{next(self._ids)}"
        auth_headers = {"Authorization": events.basic(self.id, self.password), "ws-uri": f"/ocpp/{self.id}"}
        auth_headers.update(headers)
        policy = authorizer.lambda_handler(events.authorizer_event(auth_headers, connection_id), None)
        event = events.connect_event(policy["context"]["chargePointId"], connection_id)
        event["requestContext"]["authorizer"].update(policy["context"])  # as API Gateway passes it on
        response = connect.lambda_handler(event, None)
        if response["statusCode"] == 200:
            self.connection_id = connection_id
            self.context = dict(policy["context"])
            self.connected_at_ms = int(datetime.now(timezone.utc).timestamp() * 1000)
        return response

    def send(self, frame: str) -> str | None:
        event = events.default_event(self.id, self.connection_id, frame)
        event["requestContext"]["authorizer"].update(self.context)
        if self.connected_at_ms is not None:
            event["requestContext"]["connectedAt"] = self.connected_at_ms
        response = default.lambda_handler(event, None)
        assert response["statusCode"] == 200
        return response.get("body")

    def call(self, action: str, payload: dict[str, Any], unique_id: str | None = None) -> list:
        unique_id = unique_id or f"m{next(self._ids)}"
        reply = self.send(json.dumps([2, unique_id, action, payload]))
        assert reply is not None
        message = json.loads(reply)
        assert message[1] == unique_id
        return message

    def result(self, action: str, payload: dict[str, Any], unique_id: str | None = None) -> dict[str, Any]:
        message = self.call(action, payload, unique_id)
        assert message[0] == 3, message
        return message[2]

    def disconnect(self, connection_id: str | None = None, code: int | None = None) -> None:
        event = events.disconnect_event(self.id, connection_id or self.connection_id)
        if code is not None:  # the fixture's is 1005 (a close frame without a status)
            event["requestContext"]["disconnectStatusCode"] = code
        disconnect.lambda_handler(event, None)


@pytest.fixture
def charger(platform) -> ChargerClient:
    return ChargerClient(platform, "CP001").register()
