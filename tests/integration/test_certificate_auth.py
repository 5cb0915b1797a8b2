"""The authorizer and $connect on security profile 3 as CloudFront reaches them: certificate headers
count only with the origin secret; the rule (CN, O, validity, revocation) and the profile floor."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from adapters.origin_secret import SecretsManagerOriginSecret
from csms.ocpp import certificates as certs
from handlers import _runtime, authorizer, connect
from tests import events
from tests.integration.conftest import PASSWORD

SECRET = "origin-secret-0123456789abcdef"
SHA = "ab" * 32


@pytest.fixture
def edge(platform, monkeypatch, charger):
    """The runtime as the stack configures it: an origin secret and a CPO name."""
    monkeypatch.setenv("ORIGIN_SECRET", SECRET)
    monkeypatch.setenv("CPO_NAME", "Example CPO")
    _runtime.reset()
    return _runtime.runtime()


def _cert_headers(cn="CP001", o="Example CPO", serial="0a:1b:2c", not_after=None, secret=SECRET):
    now = datetime.now(timezone.utc)
    not_after = not_after or now + timedelta(days=365)
    headers = {
        "ws-uri": "/ocpp/CP001",
        "Authorization": None,
        certs.CERT_PRESENT: "1",
        certs.CERT_SUBJECT: f"CN={cn},O={o}",
        certs.CERT_ISSUER: "CN=Example Charger CA,O=Example CPO",
        certs.CERT_SERIAL: serial,
        certs.CERT_SHA256: SHA,
        certs.CERT_VALIDITY: f"NotBefore={(now - timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ};"
                             f"NotAfter={not_after:%Y-%m-%dT%H:%M:%SZ}",
        certs.VIEWER_TLS: "TLSv1.2:ECDHE-RSA-AES128-SHA256:fullHandshake",
    }
    if secret is not None:
        headers[certs.ORIGIN_SECRET_HEADER] = secret
    return headers


def _authorize(headers):
    return authorizer.lambda_handler(events.authorizer_event(headers), None)


def test_certificate_from_cloudfront_admits_and_connect_records_it(edge):
    policy = _authorize(_cert_headers())
    assert policy["context"]["chargePointId"] == "CP001" and policy["context"]["authMethod"] == "certificate"
    event = events.connect_event("CP001", "conn-cert")
    event["requestContext"]["authorizer"] = dict(policy["context"], principalId="CP001")
    assert connect.lambda_handler(event, None)["statusCode"] == 200
    view = edge.chargers.get("CP001")
    assert view.security_profile == 3
    assert (view.security["tls_version"], view.security["tls_cipher"]) == ("TLSv1.2", "ECDHE-RSA-AES128-SHA256")
    assert view.certificate["serial"] == "a1b2c" and view.certificate["sha256"] == SHA
    # from now on Basic auth with the right key is refused
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize({"Authorization": events.basic("CP001", PASSWORD), "ws-uri": "/ocpp/CP001"})


@pytest.mark.parametrize("headers", [
    _cert_headers(secret=None),  # straight to execute-api: the headers are the client's own
    _cert_headers(secret="guessed-secret-value-000000"),
    _cert_headers(cn="CP002"),
    _cert_headers(o="Other CPO"),
    # CloudFront with IgnoreCertificateExpiry would pass it on: the authorizer refuses anyway
    _cert_headers(not_after=datetime.now(timezone.utc) - timedelta(minutes=1)),
    dict(_cert_headers(), **{certs.CERT_VALIDITY: "garbage"}),
], ids=["no origin secret", "wrong origin secret", "wrong CN", "wrong O", "expired", "malformed"])
def test_certificate_headers_that_do_not_admit(edge, headers):
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize(headers)
    assert edge.chargers.get("CP001").security_profile == 2


def test_revoked_by_serial_or_fingerprint_is_refused(edge):
    _authorize(_cert_headers(serial="0a:1b:2c"))  # admitted before
    edge.chargers.revoke("CP001", [certs.revocation_key("serial", "A1B2C")])
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize(_cert_headers(serial="0a:1b:2c"))
    edge.chargers.revoke("CP001", [certs.revocation_key("sha256", SHA.upper())])
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize(_cert_headers(serial="ff"))  # a new serial, same (revoked) fingerprint


def test_operator_raises_the_profile_floor_and_never_lowers_it(edge):
    assert edge.chargers.set_security_profile("CP001", 3)
    assert not edge.chargers.set_security_profile("CP001", 2)
    assert edge.chargers.get("CP001").security_profile == 3
    with pytest.raises(Exception, match="Unauthorized"):
        _authorize({"Authorization": events.basic("CP001", PASSWORD), "ws-uri": "/ocpp/CP001"})


def test_secrets_manager_origin_secret_accepts_current_and_previous_during_a_rotation(platform):
    client = boto3.client("secretsmanager", region_name="eu-west-2")
    arn = client.create_secret(Name="origin", SecretString="first-value-000000000000")["ARN"]
    now = [0.0]
    secret = SecretsManagerOriginSecret(arn, "eu-west-2", cache_s=300, client=client, clock=lambda: now[0])
    assert secret.matches("first-value-000000000000") and not secret.matches("second-value-00000000000")
    client.put_secret_value(SecretId=arn, SecretString="second-value-00000000000")
    now[0] = 301  # the cache expires: both the new and the previous value are accepted
    assert secret.matches("second-value-00000000000") and secret.matches("first-value-000000000000")
    assert not secret.matches(None) and not secret.matches("")


def _connect_with(policy, connection_id):
    event = events.connect_event("CP001", connection_id)
    event["requestContext"]["authorizer"] = dict(policy["context"], principalId="CP001")
    return connect.lambda_handler(event, None)


def test_a_certificate_near_its_expiry_gets_a_renewal_request_queued(edge):
    # far from expiry: nothing is asked
    assert _connect_with(_authorize(_cert_headers()), "conn-a")["statusCode"] == 200
    assert edge.calls.oldest("CP001") is None
    # 10 days left (renewal starts 30 days ahead): the charger is asked for a new CSR
    soon = datetime.now(timezone.utc) + timedelta(days=10)
    assert _connect_with(_authorize(_cert_headers(not_after=soon)), "conn-b")["statusCode"] == 200
    queued = edge.calls.oldest("CP001")
    assert (queued.action, queued.payload) == ("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})


def test_security_events_are_kept_apart_and_operators_read_the_latest_20(charger):
    from adapters.wiring import build_operations
    from csms.operations import Principal
    from csms.ocpp.security_operations import SecurityOperations

    charger.handshake()
    for n in range(22):
        assert charger.result("SecurityEventNotification", {
            "type": "ResetOrReboot", "timestamp": f"2026-11-29T10:{n:02d}:00Z", "techInfo": f"boot {n}"}) == {}
    ops = SecurityOperations(build_operations(charger.rt))
    events = ops.security(Principal("op", operator=True), "CP001")["security_events"]
    assert [e["tech_info"] for e in events] == [f"boot {n}" for n in range(2, 22)]
    assert events[-1]["type"] == "ResetOrReboot" and events[-1]["at"].startswith("2026-11-29T10:21")
    assert charger.rt.review.list("CP001") == []  # the charger's data-problem review log stays its own
