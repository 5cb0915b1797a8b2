"""OCPP security profile 3 on the local platform over real TLS: client certificates from the
charger CA, the admission rule at the handshake, and the TLS policy chargers are told to support."""

from __future__ import annotations

import asyncio
import ssl
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus

from csms.ocpp.certificates import revocation_key
from csms_local import pki
from csms_local.platform import LocalPlatform
from csms_local.tls import client_context
from tests.e2e.helpers import auth_header, call

KEY = "0123456789abcdef0123"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=90))


def _tls(platform, cert=None, key=None) -> ssl.SSLContext:
    context = client_context(platform.ca_path)
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def _write(tmp_path, name, cert, key) -> tuple[str, str]:
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def _signed(platform, tmp_path, name, charge_point_id, *, cpo_name=None, days=365, not_before=None):
    ca, ca_key = pki.load_charger_ca(platform.state_dir / "tls")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.sign_charger_certificate(ca, ca_key, key.public_key(), charge_point_id, cpo_name or platform.cpo_name,
                                        days=days, not_before=not_before)
    return _write(tmp_path, name, cert, key)


async def _handshake(platform, charge_point_id, context, headers=None) -> int:
    """200 when the WebSocket opened (the charger then boots), else the HTTP status; -1 when the TLS
    handshake itself was refused."""
    try:
        async with connect(f"{platform.url}/{charge_point_id}", ssl=context, subprotocols=["ocpp1.6"],
                           additional_headers=headers or {}, open_timeout=20) as ws:
            reply = await call(ws, "b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
            assert reply[2]["status"] == "Accepted"
            return 200
    except InvalidStatus as refused:
        return refused.response.status_code
    except ssl.SSLError:
        return -1  # TLS 1.2: the server's alert ends the handshake
    except InvalidMessage as exc:
        # TLS 1.3: the client finishes first and reads the server's certificate alert instead of
        # the HTTP response
        if isinstance(exc.__cause__, (ssl.SSLError, EOFError, ConnectionError)):
            return -1
        raise


@pytest.fixture
def platform_dir(tmp_path):
    return tmp_path / "state"


async def _platform(state_dir, **kwargs) -> LocalPlatform:
    platform = LocalPlatform(state_dir=state_dir, port=0, api_port=None, smart_every_s=None, **kwargs)
    await platform.start()
    return platform


def test_certificate_admits_without_a_password_and_the_rule_refuses_the_rest(tmp_path, platform_dir):
    async def body():
        platform = await _platform(platform_dir)
        try:
            platform.add_charger("CP001", KEY)
            platform.add_charger("CP002", KEY)
            good, good_key, good_cert = platform.issue_charger_certificate("CP001", tmp_path / "certs")
            results = {"good": await _handshake(platform, "CP001", _tls(platform, good, good_key))}
            view = platform.runtime.chargers.get("CP001")
            # admitted by certificate: the profile floor is now 3 and the certificate is on record
            assert view.security_profile == 3 and view.security["method"] == "certificate"
            assert view.certificate["serial"] == f"{good_cert.serial_number:x}"
            assert view.security["tls_version"] in ("TLSv1.2", "TLSv1.3") and view.security["tls_cipher"]
            # CP001's certificate used for CP002 (CN is not the id)
            results["wrong CN"] = await _handshake(platform, "CP002", _tls(platform, good, good_key))
            results["wrong O"] = await _handshake(platform, "CP002", _tls(platform, *_signed(
                platform, tmp_path, "wrong-o", "CP002", cpo_name="Someone Else")))
            past = datetime.now(timezone.utc) - timedelta(days=30)
            results["expired"] = await _handshake(platform, "CP002", _tls(platform, *_signed(
                platform, tmp_path, "expired", "CP002", days=10, not_before=past)))
            # a certificate from another CA (CN and O right)
            other_dir = tmp_path / "other"
            pki.ensure_charger_ca(other_dir, platform.cpo_name)
            other, other_key, _ = pki.issue_charger_certificate(other_dir, "CP002", tmp_path / "other-certs")
            results["other CA"] = await _handshake(platform, "CP002", _tls(platform, other, other_key))
            # profile 3 reached: Basic auth with the right key is refused now
            results["profile 3 with Basic"] = await _handshake(platform, "CP001", _tls(platform),
                                                               auth_header("CP001", KEY))
            # revoked (by serial): the same good certificate is refused
            platform.runtime.chargers.revoke("CP001", [revocation_key("serial", f"{good_cert.serial_number:x}")])
            results["revoked"] = await _handshake(platform, "CP001", _tls(platform, good, good_key))
            # a profile-2 charger still connects with Basic auth, and a forged edge header changes nothing
            forged = dict(auth_header("CP002", KEY), **{"CloudFront-Viewer-Cert-Present": "1",
                                                       "CloudFront-Viewer-Cert-Subject": "CN=CP001"})
            results["profile 2 with Basic"] = await _handshake(platform, "CP002", _tls(platform), forged)
            return results, platform.runtime.chargers.get("CP002")
        finally:
            await platform.stop()

    results, cp002 = run(body())
    assert results == {"good": 200, "wrong CN": 401, "wrong O": 401, "expired": -1, "other CA": -1,
                       "profile 3 with Basic": 401, "revoked": 401, "profile 2 with Basic": 200}
    assert cp002.security_profile == 2 and cp002.security["method"] == "basic"


def test_every_policy_suite_connects_alone_and_is_recorded(platform_dir):
    """A charger that offers a single suite of ELBSecurityPolicy-TLS-1-2-Ext-2018-06 connects, each of
    the 18 in turn (e.g. ECDHE-RSA-AES128-SHA256, AES128-SHA): the RSA suites need the RSA
    certificate, the ECDSA ones the ECDSA certificate, served together. The charger records the
    negotiated version and suite."""
    async def body():
        platform = await _platform(platform_dir)
        recorded = {}
        try:
            platform.add_charger("CP001", KEY)
            for suite in pki.ELB_TLS_1_2_EXT_2018_06:
                context = _tls(platform)
                context.maximum_version = ssl.TLSVersion.TLSv1_2
                context.set_ciphers(suite + ":@SECLEVEL=0")
                status = await _handshake(platform, "CP001", context, auth_header("CP001", KEY))
                security = platform.runtime.chargers.get("CP001").security
                recorded[suite] = (status, security["tls_version"], security["tls_cipher"])
            return recorded
        finally:
            await platform.stop()

    recorded = run(body())
    assert recorded == {suite: (200, "TLSv1.2", suite) for suite in pki.ELB_TLS_1_2_EXT_2018_06}


def _tls_server_accepts(context: ssl.SSLContext, client: ssl.SSLContext) -> bool:
    """One TLS handshake over a socket pair (no WebSocket): True when it completed."""
    import socket
    import threading

    a, b = socket.socketpair()
    outcome = {}

    def serve():
        try:
            with context.wrap_socket(a, server_side=True) as s:
                s.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(b, server_hostname="127.0.0.1") as c:
            outcome["ok"] = True
            c.send(b"x")
    except (ssl.SSLError, OSError):
        outcome["ok"] = False
    thread.join(5)
    return outcome["ok"]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_and_suites_outside_the_policy_are_refused(platform_dir):
    from csms_local.tls import ensure_certificates

    tls_dir = platform_dir / "tls"
    ca_path, cert, key = ensure_certificates(tls_dir)  # what csms local serves
    chains = [(cert, key), pki.ensure_rsa_server_certificate(tls_dir, ("127.0.0.1",))]
    served = pki.gateway_context(chains, None)

    def client(minimum, maximum, ciphers):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(ca_path)
        context.minimum_version, context.maximum_version = minimum, maximum
        context.set_ciphers(ciphers + ":@SECLEVEL=0")
        return context

    tls11 = client(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1, "ECDHE-RSA-AES128-SHA")
    # control: the same TLS 1.1 client completes against a server that allows TLS 1.1, so the
    # refusal below is the platform's policy, not this client's inability
    lax = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    lax.minimum_version = ssl.TLSVersion.TLSv1_1
    lax.set_ciphers("ECDHE-RSA-AES128-SHA:@SECLEVEL=0")
    lax.load_cert_chain(*chains[1])
    assert _tls_server_accepts(lax, tls11)
    assert not _tls_server_accepts(served, tls11)
    # a TLS 1.2 suite outside the policy (CHACHA20 is not in it) is refused; TLS 1.3 is accepted
    assert not _tls_server_accepts(served, client(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                                                  "ECDHE-RSA-CHACHA20-POLY1305"))
    assert _tls_server_accepts(served, client(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3, "DEFAULT"))
    # exactly the 18 suites are offered for TLS 1.2
    offered = {c["name"] for c in served.get_ciphers() if not c["name"].startswith("TLS_")}
    assert offered == set(pki.ELB_TLS_1_2_EXT_2018_06)
