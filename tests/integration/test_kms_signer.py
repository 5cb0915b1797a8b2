"""The charger CA with its key in KMS (moto's KMS signs with a real P-256 key): the CA certificate and
a charge point certificate it signs verify."""

from __future__ import annotations

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from adapters.kms_signer import KmsCertificateSigner, kms_ca_certificate


def test_kms_signed_ca_and_charge_point_certificate_verify():
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-2")
        key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        ca = kms_ca_certificate(kms, key_id, "Example CPO")
        ca.verify_directly_issued_by(ca)  # self-signed by the KMS key
        from cryptography.hazmat.primitives import serialization

        signer = KmsCertificateSigner(kms, key_id, ca.public_bytes(serialization.Encoding.PEM).decode(), "Example CPO")
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CP001")])).sign(key, hashes.SHA256()))
        chain = x509.load_pem_x509_certificates(signer.sign(csr, "CP001").encode())
    leaf = chain[0]
    leaf.verify_directly_issued_by(ca)  # raises if the KMS signature or the issuer is wrong
    assert chain[1] == ca
    assert leaf.subject.rfc4514_string() == "O=Example CPO,CN=CP001"
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
