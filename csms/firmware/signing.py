"""Signed firmware: the platform signs every image it rolls out, chargers check it before installing
(OCPP 1.6 Security Whitepaper ed. 2, 5.4 "Secure firmware update"; messages SignedUpdateFirmware and
SignedFirmwareStatusNotification).

- **What is signed.** Once an upload is verified (its stored size and SHA-256 equal the declared ones,
  ``Firmware.complete_image``), the platform signs the image's SHA-256 digest with the firmware-signing
  key (the ``FirmwareSigner`` port: a key file in the local state dir, or a KMS key in AWS, so the file
  itself never passes through the signer): ECDSA P-256 with SHA-256, the DER signature in base64 (the
  ``signature`` field, at most 800 characters; about 96 here). An operator's own signature, given at
  upload, is kept instead.
- **The certificates.** The signing certificate (the ``signingCertificate`` field, PEM) is a
  code-signing certificate (key usage digitalSignature, extended key usage id-kp-codeSigning) issued by
  the **firmware root**, a CA used for nothing else, so a charge point certificate can never pass for a
  firmware signer. Chargers install the firmware root as their ``ManufacturerRootCertificate``
  (InstallCertificate).
- **What a charger checks** (whitepaper 5.4.2): the signing certificate chains to an installed
  ManufacturerRootCertificate, is within its validity and is for code signing (otherwise it answers
  ``InvalidCertificate`` and sends SecurityEventNotification ``InvalidFirmwareSigningCertificate``);
  after the download, the signature verifies over the file with the certificate's key (otherwise
  SignedFirmwareStatusNotification ``InvalidSignature`` and SecurityEventNotification
  ``InvalidFirmwareSignature``), then ``SignatureVerified``, Installing, Installed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_DAYS, SIGNING_DAYS = 3650, 3 * 365  # a root outlives the chargers' firmware; the signing key is renewed


def _key_usage(**on: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: on.get(name, False) for name in names})


def root_certificate(public_key, sign_with, cpo_name: str, days: float = ROOT_DAYS,
                     now: datetime | None = None) -> x509.Certificate:
    """The self-signed firmware root (CN ``Firmware Root``, O = the CPO name) for ``public_key``,
    signed with ``sign_with`` (its private key; for a KMS-held key a throw-away key whose signature
    KMS replaces: ``adapters.firmware_signer.kms_firmware_certificates``)."""
    start = (now or datetime.now(timezone.utc)) - timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Firmware Root"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, cpo_name)])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public_key)
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(sign_with, hashes.SHA256())
    )


def signing_certificate(root: x509.Certificate, sign_with, public_key, cpo_name: str, days: float = SIGNING_DAYS,
                        now: datetime | None = None) -> x509.Certificate:
    """The firmware-signing certificate for ``public_key`` issued by ``root`` (signed with
    ``sign_with``, the root's private key or a throw-away one KMS re-signs): CN ``Firmware Signing``,
    O = the CPO name, code signing only, never outliving the root."""
    start = (now or datetime.now(timezone.utc)) - timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Firmware Signing"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, cpo_name)])
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(root.subject).public_key(public_key)
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(min(start + timedelta(days=days), root.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value), critical=False)
        .sign(sign_with, hashes.SHA256())
    )
