"""Who may connect ($connect authorizer + route) and how connections are tracked."""

from __future__ import annotations

import logging

import pytest

from handlers import authorizer, connect
from tests import events
from tests.integration.conftest import PASSWORD, ChargerClient


def _authorize(headers):
    return authorizer.lambda_handler(events.authorizer_event(headers), None)


def test_registered_charger_with_right_key_is_admitted_with_ocpp16(charger):
    # Given a registered charger
    # When it connects with its id in the URL and as Basic-auth username
    response = charger.handshake()
    # Then the handshake answers the ocpp1.6 subprotocol and the charger is online
    assert response == {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "ocpp1.6"}}
    view = charger.rt.chargers.get("CP001")
    assert view.online and view.connection_id == charger.connection_id


def test_authorizer_context_carries_the_charge_point_id(charger):
    policy = _authorize({"Authorization": events.basic("CP001", PASSWORD), "ws-uri": "/ocpp/CP001"})
    assert policy["context"]["chargePointId"] == "CP001"
    # no edge in front (no origin secret): profile 2, and the TLS the edge would report is unknown
    assert (policy["context"]["securityProfile"], policy["context"]["authMethod"]) == (2, "basic")
    assert policy["context"]["tlsVersion"] == ""
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"Authorization": events.basic("CP001", "wrong-password-0000")}, "wrong AuthorizationKey"),
        ({"Authorization": events.basic("CP999", PASSWORD), "ws-uri": "/ocpp/CP999"}, "unknown"),
        ({"Authorization": None}, "missing or malformed"),
        ({"Authorization": "Bearer abc"}, "missing or malformed"),
        ({"Authorization": "Basic not-base64!!"}, "missing or malformed"),
        ({"Authorization": "Basic " + "Q1AwMDE="}, "missing or malformed"),  # "CP001" without ':'
        ({"Authorization": events.basic("CP001", PASSWORD), "ws-uri": "/ocpp/CP002"}, "does not match"),
        ({"Authorization": events.basic("CP001", PASSWORD), "ws-uri": "/ocpp/"}, "does not match"),
    ],
)
def test_refused_handshakes_answer_401_and_log_no_secret(charger, caplog, headers, reason):
    # Given a registered charger CP001
    caplog.set_level(logging.INFO)
    # When a handshake arrives with bad credentials or a mismatched id
    with pytest.raises(Exception, match="^Unauthorized$"):
        _authorize(headers)
    # Then it is refused (API Gateway turns "Unauthorized" into HTTP 401), the reason is logged, the key is not
    logged = " ".join(str(record.__dict__) for record in caplog.records)
    assert reason in logged
    assert "wrong-password-0000" not in logged and PASSWORD not in logged


def test_bare_api_gateway_url_uses_the_username_as_id(charger):
    # Given no ws-uri header (no CloudFront in front)
    policy = _authorize({"Authorization": events.basic("CP001", PASSWORD), "ws-uri": None})
    assert policy["context"]["chargePointId"] == "CP001"


def test_percent_encoded_id_in_url_is_decoded(platform):
    client = ChargerClient(platform, "CP 001/A".replace("/", "-")).register()  # "CP 001-A"
    policy = _authorize({"Authorization": events.basic("CP 001-A", PASSWORD), "ws-uri": "/ocpp/CP%20001-A"})
    assert policy["context"]["chargePointId"] == client.id


def test_connect_without_ocpp16_is_refused(charger):
    event = events.connect_event("CP001", "conn-x", subprotocol="ocpp2.0.1")
    assert connect.lambda_handler(event, None)["statusCode"] == 400
    event = events.connect_event("CP001", "conn-y", subprotocol=None)
    assert connect.lambda_handler(event, None)["statusCode"] == 400
    assert not charger.rt.chargers.get("CP001").online


def test_ocpp16_among_several_offered_is_chosen(charger):
    event = events.connect_event("CP001", "conn-z", subprotocol="ocpp2.0.1, ocpp1.6")
    assert connect.lambda_handler(event, None)["headers"] == {"Sec-WebSocket-Protocol": "ocpp1.6"}


def test_deleted_charger_is_refused_at_connect(charger):
    policy = _authorize({"Authorization": events.basic("CP001", PASSWORD)})
    charger.rt.chargers.delete("CP001")
    event = events.connect_event(policy["context"]["chargePointId"], "conn-late")
    assert connect.lambda_handler(event, None)["statusCode"] == 403


def test_stale_disconnect_does_not_mark_a_reconnected_charger_offline(charger):
    # Given a charger that reconnected (new connection) before the old socket's $disconnect arrived
    charger.handshake()
    old = charger.connection_id
    charger.handshake()
    new = charger.connection_id
    # When the old connection's $disconnect arrives late
    charger.disconnect(old)
    # Then the charger stays online on its new connection
    view = charger.rt.chargers.get("CP001")
    assert view.online and view.connection_id == new
    # And the current connection's $disconnect marks it offline, idempotently
    charger.disconnect(new)
    charger.disconnect(new)
    view = charger.rt.chargers.get("CP001")
    assert not view.online and view.connection_id is None


def test_connect_is_idempotent(charger):
    charger.handshake()
    first = charger.connection_id
    assert charger.rt.chargers.connect("CP001", first, charger.rt.chargers.get("CP001").last_seen)
    assert charger.rt.chargers.get("CP001").connection_id == first
