"""Firmware-signing keys (``csms.firmware.ports.FirmwareSigner``; what is signed and why:
``csms.firmware.signing``).

- :class:`FileFirmwareSigner`: a key and its certificate in a directory (``csms local``:
  ``<state dir>/tls/firmware-signing.pem`` and ``firmware-signing-key.pem``, issued by the local
  firmware root ``firmware-root.pem`` that chargers install as ManufacturerRootCertificate).
- :class:`KmsFirmwareSigner`: the key in AWS KMS (``ECC_NIST_P256``, ``SIGN_VERIFY``; one ``Sign`` of
  the 32-byte digest per image, ``MessageType=DIGEST``: the image never goes to KMS), named by
  ``FIRMWARE_SIGNING_KMS_KEY_ID`` with its certificate in ``FIRMWARE_SIGNING_CERT``;
  :func:`kms_firmware_certificates` makes the firmware root and that certificate from two KMS keys.
Without either, images are not signed and campaigns send UpdateFirmware.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Callable

from adapters.settings import Settings
from csms.firmware.ports import FirmwareSigner

ROOT_CERT, ROOT_KEY = "firmware-root.pem", "firmware-root-key.pem"
SIGNING_CERT, SIGNING_KEY = "firmware-signing.pem", "firmware-signing-key.pem"


class FileFirmwareSigner:
    """Signs with the key file next to its certificate (and the root's, kept for the chain)."""

    def __init__(self, directory: str | Path):
        from cryptography.hazmat.primitives import serialization

        directory = Path(directory)
        self.key = serialization.load_pem_private_key((directory / SIGNING_KEY).read_bytes(), None)
        self.certificate = (directory / SIGNING_CERT).read_text()

    def sign(self, sha256: bytes) -> tuple[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, utils

        signature = self.key.sign(sha256, ec.ECDSA(utils.Prehashed(hashes.SHA256())))  # type: ignore[call-arg, union-attr]
        return base64.b64encode(signature).decode(), self.certificate


class KmsFirmwareSigner:
    """Signs the image's digest with a KMS key (``Sign``, ``DIGEST``, ``ECDSA_SHA_256``: a DER signature)."""

    def __init__(self, kms, key_id: str, certificate_pem: str):
        self.kms, self.key_id, self.certificate = kms, key_id, certificate_pem

    def sign(self, sha256: bytes) -> tuple[str, str]:
        signature = self.kms.sign(KeyId=self.key_id, Message=sha256, MessageType="DIGEST",
                                  SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        return base64.b64encode(signature).decode(), self.certificate


def kms_firmware_certificates(kms, root_key_id: str, signing_key_id: str, cpo_name: str):
    """``(firmware root, signing certificate)`` for two KMS keys (made once, like the charger CA's
    certificate: the root's PEM is what chargers install, the signing certificate's goes into
    ``FIRMWARE_SIGNING_CERT``). Each TBSCertificate is built by ``cryptography`` and signed by the root
    key in KMS (``adapters.kms_signer``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from adapters.kms_signer import _with_kms_signature
    from csms.firmware.signing import root_certificate, signing_certificate

    def public(key_id: str):
        return serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])

    throwaway = ec.generate_private_key(ec.SECP256R1())  # fixes ecdsa-with-SHA256 in the TBS; KMS signs
    root = _with_kms_signature(root_certificate(public(root_key_id), throwaway, cpo_name), kms, root_key_id)
    signing = _with_kms_signature(signing_certificate(root, throwaway, public(signing_key_id), cpo_name), kms,
                                  root_key_id)
    return root, signing


class _OnFirstUse:
    """Builds the signer when the first image is signed (key files and boto3 stay out of cold starts)."""

    def __init__(self, build: Callable[[], FirmwareSigner]):
        self._build, self._signer = build, None

    def sign(self, sha256: bytes) -> tuple[str, str]:
        if self._signer is None:
            self._signer = self._build()
        return self._signer.sign(sha256)


def firmware_signer(settings: Settings) -> FirmwareSigner | None:
    """The signer the settings name; None when no firmware-signing key is configured."""
    if settings.firmware_signing_kms_key_id and settings.firmware_signing_cert:
        def kms():
            import boto3

            return KmsFirmwareSigner(boto3.client("kms", region_name=settings.region),
                                     settings.firmware_signing_kms_key_id, settings.firmware_signing_cert)

        return _OnFirstUse(kms)
    if settings.firmware_signing_dir and (Path(settings.firmware_signing_dir) / SIGNING_KEY).is_file():
        return _OnFirstUse(lambda: FileFirmwareSigner(settings.firmware_signing_dir))
    return None
