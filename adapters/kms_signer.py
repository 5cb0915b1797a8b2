"""The charger CA's key in AWS KMS (docs/certificates.md: why KMS rather than ACM Private CA).

The key (``ECC_NIST_P256``, ``SIGN_VERIFY``) never leaves KMS: the certificate's TBSCertificate is
built by the ``cryptography`` package (signed first with a throw-away P-256 key, which fixes the
signature algorithm ``ecdsa-with-SHA256`` inside it), KMS signs those bytes (``Sign``, ``RAW``,
``ECDSA_SHA_256``, a DER ECDSA signature) and the certificate is assembled around them
(RFC 5280 4.1: ``SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from csms.ocpp.v16.security_extension import charge_point_certificate

ECDSA_WITH_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")  # AlgorithmIdentifier, RFC 5758 3.2


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _with_kms_signature(unsigned: x509.Certificate, kms, key_id: str) -> x509.Certificate:
    tbs = unsigned.tbs_certificate_bytes
    signature = kms.sign(KeyId=key_id, Message=tbs, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    body = tbs + ECDSA_WITH_SHA256 + bit_string
    return x509.load_der_x509_certificate(b"\x30" + _der_length(len(body)) + body)


def kms_ca_certificate(kms, key_id: str, cpo_name: str, days: float = 3650) -> x509.Certificate:
    """The self-signed charger CA certificate for a KMS key (made once; its PEM goes into the trust
    store's bundle and into the signer's settings)."""
    public_key = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Charger CA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, cpo_name)])
    now = datetime.now(timezone.utc)
    unsigned = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public_key)
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    return _with_kms_signature(unsigned, kms, key_id)


class KmsCertificateSigner:
    """``csms.ocpp.ports.CertificateSigner`` with the CA key in KMS (one ``Sign`` per certificate)."""

    def __init__(self, kms, key_id: str, ca_pem: str, cpo_name: str, days: float = 365):
        self.kms, self.key_id, self.days, self.cpo_name = kms, key_id, days, cpo_name
        self.ca = x509.load_pem_x509_certificate(ca_pem.encode())

    def sign(self, csr: x509.CertificateSigningRequest, charge_point_id: str) -> str:
        unsigned = charge_point_certificate(self.ca, ec.generate_private_key(ec.SECP256R1()), csr.public_key(),
                                            charge_point_id, self.cpo_name, days=self.days)
        cert = _with_kms_signature(unsigned, self.kms, self.key_id)
        return (cert.public_bytes(serialization.Encoding.PEM) + self.ca.public_bytes(serialization.Encoding.PEM)).decode()
