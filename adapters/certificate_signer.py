"""Signers for chargers' CSRs (``csms.ocpp.ports.CertificateSigner``).

- :class:`FileCertificateSigner`: a CA certificate and key in a directory (the local platform's
  charger CA, ``<state dir>/tls/charger-ca.pem`` and ``charger-ca-key.pem``).
- ``adapters.kms_signer.KmsCertificateSigner``: the key in AWS KMS (docs/certificates.md: why KMS
  rather than ACM Private CA, and the prices), named by ``CHARGER_CA_KMS_KEY_ID`` with its CA
  certificate in ``CHARGER_CA_CERT`` (the stack's ``-c chargerCaKms=1`` and ``-c chargerCaCertFile``,
  docs/deploy.md). Without either a CA key, SignCertificate is answered Rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from adapters.settings import Settings
from csms.ocpp.ports import CertificateSigner
from csms.ocpp.v16.security_extension import charge_point_certificate

CA_CERT, CA_KEY = "charger-ca.pem", "charger-ca-key.pem"


class FileCertificateSigner:
    """Signs with a CA key file; the certificate's O is the CPO name (the CA's O when not given)."""

    def __init__(self, directory: str | Path, cpo_name: str | None = None, days: float = 365):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        directory = Path(directory)
        self.ca = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        self.ca_key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), None)
        names = self.ca.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)
        self.cpo_name = cpo_name or (str(names[0].value) if names else "")
        self.days = days

    def sign(self, csr, charge_point_id: str) -> str:
        from cryptography.hazmat.primitives import serialization

        cert = charge_point_certificate(self.ca, self.ca_key, csr.public_key(), charge_point_id, self.cpo_name,
                                        days=self.days)
        return (cert.public_bytes(serialization.Encoding.PEM) + self.ca.public_bytes(serialization.Encoding.PEM)).decode()


class _OnFirstUse:
    """Builds the signer when the first CSR arrives (cryptography and key files stay out of cold starts)."""

    def __init__(self, build: Callable[[], CertificateSigner]):
        self._build, self._signer = build, None

    def sign(self, csr, charge_point_id: str) -> str:
        if self._signer is None:
            self._signer = self._build()
        return self._signer.sign(csr, charge_point_id)


def certificate_signer(settings: Settings) -> CertificateSigner | None:
    """The signer the settings name; None when no CA key is configured (CSRs are then rejected)."""
    if settings.charger_ca_kms_key_id and settings.charger_ca_cert:
        def kms():
            import boto3

            from adapters.kms_signer import KmsCertificateSigner

            return KmsCertificateSigner(boto3.client("kms", region_name=settings.region),
                                        settings.charger_ca_kms_key_id, settings.charger_ca_cert, settings.cpo_name or "")

        return _OnFirstUse(kms)
    if settings.charger_ca_dir and (Path(settings.charger_ca_dir) / CA_KEY).is_file():
        return _OnFirstUse(lambda: FileCertificateSigner(settings.charger_ca_dir, settings.cpo_name))
    return None
