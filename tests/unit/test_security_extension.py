"""SignCertificate: which CSRs the platform signs (Security Whitepaper ed. 2, 4.1) and what the charger
and the operator see; security events kept per charger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.fakes import MemoryChargers, MemoryReview, MemorySecurityEvents
from csms.ocpp.v16.security_extension import SecurityExtension, charge_point_certificate

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


@dataclass
class Ctx:
    charge_point_id: str = "CP001"
    received_at: datetime = NOW
    raw: str = "[2,\"1\",\"SignCertificate\",{}]"
    unique_id: str = "1"


def _csr(cn="CP001", o="Example CPO", key=None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] + ([x509.NameAttribute(NameOID.ORGANIZATION_NAME, o)] if o else [])
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


class Signer:
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA")])
        self.ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                   .serial_number(1).not_valid_before(NOW).not_valid_after(NOW.replace(year=2036))
                   .sign(self.key, hashes.SHA256()))

    def sign(self, csr, charge_point_id):
        cert = charge_point_certificate(self.ca, self.key, csr.public_key(), charge_point_id, "Example CPO")
        return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def extension():
    sent = []
    ext = SecurityExtension(chargers=MemoryChargers(), review=MemoryReview(), events=MemorySecurityEvents(),
                            send=lambda cp, action, payload, origin: sent.append((cp, action, payload)),
                            signer=Signer(), cpo_name="Example CPO")
    return ext, sent


def test_a_good_csr_is_accepted_and_the_signed_certificate_is_sent(extension):
    ext, sent = extension
    assert ext.sign_certificate(Ctx(), {"csr": _csr()}) == {"status": "Accepted"}
    [(cp, action, payload)] = sent
    leaf = x509.load_pem_x509_certificate(payload["certificateChain"].encode())
    assert (cp, action) == ("CP001", "CertificateSigned")
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP001"


def _tampered() -> str:
    pem = _csr()
    der = x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER)
    broken = der[:-3] + bytes([der[-3] ^ 0x01]) + der[-2:]  # flip a bit of the signature
    return x509.load_der_x509_csr(broken).public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("csr, reason", [
    (lambda: _csr(cn="CP002"), "subject CN is not the charge point id"),
    (lambda: _csr(o="Other CPO"), "subject O is not the CPO name"),
    (lambda: _csr(o=None), "subject O is not the CPO name"),
    (lambda: _csr(key=rsa.generate_private_key(public_exponent=65537, key_size=1024)), "RSA key shorter than 2048 bits"),
    (_tampered, "the CSR's signature does not verify"),
    (lambda: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "not a PEM"),
], ids=["wrong CN", "wrong O", "no O", "short RSA key", "bad signature", "not a CSR"])
def test_csrs_that_are_not_signed_are_rejected_and_kept_for_review(extension, csr, reason):
    ext, sent = extension
    assert ext.sign_certificate(Ctx(), {"csr": csr()}) == {"status": "Rejected"}
    assert sent == []
    [kept] = ext.review.list("CP001")
    assert kept.kind == "csr_rejected" and kept.detail.startswith(reason)


def test_without_a_ca_key_every_csr_is_rejected():
    ext = SecurityExtension(chargers=MemoryChargers(), review=MemoryReview(), events=MemorySecurityEvents(), send=None, signer=None, cpo_name=None)
    assert ext.sign_certificate(Ctx(), {"csr": _csr()}) == {"status": "Rejected"}


def test_security_events_are_kept_with_the_chargers_time(extension):
    ext, _ = extension
    ext.security_event(Ctx(), {"type": "TamperDetectionActivated", "timestamp": "2026-11-29T23:00:00Z",
                               "techInfo": "lid opened"})
    [kept] = ext.events.latest("CP001", 20)
    assert (kept.kind, kept.detail, kept.at) == ("security_event", "TamperDetectionActivated: lid opened",
                                                 datetime(2026, 11, 29, 23, tzinfo=timezone.utc))
    assert kept.raw and kept.unique_id == "1"
    assert ext.review.list("CP001") == []  # apart from the charger's data problems


def test_operators_see_the_latest_20_security_events_oldest_first(extension):
    from types import SimpleNamespace

    from csms.operations import Principal
    from csms.ocpp.security_operations import SecurityOperations

    ext, _ = extension
    ext.chargers.register("CP001", "hash", NOW)
    for n in range(25):
        ext.security_event(Ctx(), {"type": "ResetOrReboot", "timestamp": f"2026-11-29T10:{n:02d}:00Z", "techInfo": f"a: {n}"})
    ext.security_event(Ctx(), {"type": "StartupOfTheDevice", "timestamp": "2026-11-29T10:30:00Z"})
    ops = SecurityOperations(SimpleNamespace(chargers=ext.chargers, security_events=ext.events))
    events = ops.security(Principal("op", operator=True), "CP001")["security_events"]
    assert [e["tech_info"] for e in events] == [f"a: {n}" for n in range(6, 25)] + [""]  # a ": " in techInfo stays
    assert events[-1] == {"at": "2026-11-29T10:30:00+00:00", "type": "StartupOfTheDevice", "tech_info": ""}
