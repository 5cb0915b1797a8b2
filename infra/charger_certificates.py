"""OCPP security profile 3 at the edge: CloudFront viewer mTLS and the origin secret.

- A **trust store** (``AWS::CloudFront::TrustStore``) from the CPO's charger CA bundle in S3
  (``-c chargerCaBundle=s3://bucket/key.pem``), attached to the charger distribution in
  ``optional`` mode: a charger with a valid certificate from those CAs is admitted by it, one without
  a certificate goes on to Basic auth, an invalid certificate is refused by CloudFront.
- An **origin secret** in Secrets Manager that CloudFront adds to every origin request
  (``csms.ocpp.certificates.ORIGIN_SECRET_HEADER``) and the authorizer checks, so the
  ``CloudFront-Viewer-Cert-*`` headers count only when they came from CloudFront, never from a client
  talking to the execute-api endpoint directly. Rotation: docs/deploy.md (``-c originSecretVersion``).
- The **edge TLS policy** (``-c edgeTlsPolicy``, default ``TLSv1.2_2021``): docs/deploy.md compares
  each option with the 18 suites of ``ELBSecurityPolicy-TLS-1-2-Ext-2018-06``.
- The **firmware keys** (``-c firmwareSigningKms=1``): the firmware root's key (used once, by an
  operator, to issue the signing certificate: no function may use it) and the firmware-signing key the
  Api function signs verified uploads with (``csms.firmware.signing``, ``adapters.firmware_signer``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aws_cdk import RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

EDGE_TLS_POLICIES = {
    "TLSv1.2_2018": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2018,
    "TLSv1.2_2019": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2019,
    "TLSv1.2_2021": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    "TLSv1.2_2025": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2025,
}
DEFAULT_EDGE_TLS_POLICY = "TLSv1.2_2021"
MTLS_MODE = "optional"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/path/ca.pem`` -> (bucket, key); ValueError otherwise."""
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise ValueError(f"chargerCaBundle must be s3://<bucket>/<key>, not {uri!r}")
    return parts.netloc, key


class ChargerCertificates(Construct):
    """The trust store (when a CA bundle is given) and the origin secret.

    ``ca_bundle``: ``s3://bucket/key`` of a PEM bundle of the charger CA certificates (root and any
    intermediates); ``ca_bundle_region``: the bucket's region (default: the stack's);
    ``ca_bundle_version``: an S3 object version to pin (changing it re-reads the bundle).
    ``origin_secret_version``: the Secrets Manager version id CloudFront sends (a rotation step).
    ``ca_key``: create the KMS key that signs chargers' CSRs (SignCertificate; adapters.kms_signer).
    ``firmware_keys``: create the firmware root's and the firmware-signing KMS keys."""

    def __init__(self, scope: Construct, construct_id: str, *, ca_bundle: str | None = None,
                 ca_bundle_region: str | None = None, ca_bundle_version: str | None = None,
                 origin_secret_version: str | None = None, ca_key: bool = False, firmware_keys: bool = False) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.origin_secret = secretsmanager.Secret(
            self, "OriginSecret",
            description="Header value CloudFront adds to charger handshakes; the authorizer trusts "
                        "CloudFront-Viewer-Cert-* headers only with it (docs/deploy.md: rotation)",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=48),
        )
        # CloudFormation resolves the reference at deploy; with a version id the template changes on
        # rotation, so CloudFront gets the new value (a bare AWSCURRENT reference would never update).
        self.origin_secret_value = SecretValue.secrets_manager(
            self.origin_secret.secret_arn, version_id=origin_secret_version).unsafe_unwrap()
        # The charger CA's private key: P-256, sign-only, never leaves KMS; kept if the stack is deleted
        # (every charger certificate chains to it)
        self.ca_key = kms.Key(
            self, "ChargerCaKey", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.SIGN_VERIFY,
            description="Charger CA: signs charge point certificates (OCPP SignCertificate)",
            removal_policy=RemovalPolicy.RETAIN) if ca_key else None
        # Firmware (SignedUpdateFirmware): P-256, sign-only, retained (chargers hold the root, and every
        # signed image's signature needs the signing certificate to stay valid)
        self.firmware_root_key, self.firmware_signing_key = (
            kms.Key(self, "FirmwareRootKey", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.SIGN_VERIFY,
                    description="Firmware root: issues the firmware-signing certificate (an operator, once)",
                    removal_policy=RemovalPolicy.RETAIN),
            kms.Key(self, "FirmwareSigningKey", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.SIGN_VERIFY,
                    description="Signs verified firmware images for SignedUpdateFirmware",
                    removal_policy=RemovalPolicy.RETAIN)) if firmware_keys else (None, None)
        self.trust_store: cloudfront.CfnTrustStore | None = None
        if ca_bundle:
            bucket, key = parse_s3_uri(ca_bundle)
            location = cloudfront.CfnTrustStore.CaCertificatesBundleS3LocationProperty(
                bucket=bucket, key=key, region=ca_bundle_region or stack.region, version=ca_bundle_version)
            self.trust_store = cloudfront.CfnTrustStore(
                self, "TrustStore", name=f"{stack.stack_name}-chargers",
                ca_certificates_bundle_source=cloudfront.CfnTrustStore.CaCertificatesBundleSourceProperty(
                    ca_certificates_bundle_s3_location=location))

    def grant_signing(self, function, ca_cert_pem: str | None) -> None:
        """Let ``function`` sign with the CA key (kms:Sign, kms:GetPublicKey on this key only) and name it,
        with the CA certificate when it exists (made after the first deploy, docs/deploy.md)."""
        from adapters.settings import ENV_CHARGER_CA_CERT, ENV_CHARGER_CA_KMS_KEY_ID

        if self.ca_key is None:
            return
        self.ca_key.grant(function, "kms:Sign", "kms:GetPublicKey")
        function.add_environment(ENV_CHARGER_CA_KMS_KEY_ID, self.ca_key.key_id)
        if ca_cert_pem:
            function.add_environment(ENV_CHARGER_CA_CERT, ca_cert_pem)

    def grant_firmware_signing(self, function, certificate_pem: str | None) -> None:
        """Let ``function`` (the Api function: it completes uploads) sign with the firmware-signing key
        (kms:Sign on that key only), with the signing certificate once it exists (docs/deploy.md);
        without the certificate images are not signed."""
        from adapters.settings import ENV_FIRMWARE_SIGNING_CERT, ENV_FIRMWARE_SIGNING_KMS_KEY_ID

        if self.firmware_signing_key is None:
            return
        self.firmware_signing_key.grant(function, "kms:Sign")
        function.add_environment(ENV_FIRMWARE_SIGNING_KMS_KEY_ID, self.firmware_signing_key.key_id)
        if certificate_pem:
            function.add_environment(ENV_FIRMWARE_SIGNING_CERT, certificate_pem)

    def viewer_mtls_config(self) -> dict | None:
        """The distribution's ``ViewerMtlsConfig`` (CloudFormation shape), None without a trust store."""
        if self.trust_store is None:
            return None
        # Expired certificates are refused at the edge too; the authorizer checks validity again.
        return {"Mode": MTLS_MODE, "TrustStoreConfig": {"TrustStoreId": self.trust_store.attr_id,
                                                        "IgnoreCertificateExpiry": False,
                                                        "AdvertiseTrustStoreCaNames": True}}
