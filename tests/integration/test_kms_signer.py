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


def test_kms_firmware_root_signing_certificate_and_image_signature_verify():
    """The firmware-signing key in KMS (adapters.firmware_signer): the firmware root and the signing
    certificate are made from two KMS keys and chain; an image is signed by sending KMS only its
    SHA-256 digest (MessageType DIGEST). moto does not implement DIGEST (it hashes the message again,
    as for RAW: moto/kms/models.py ``sign``), so the signature is checked the way moto made it, and the
    request is checked to be the one AWS documents (KMS API reference, Sign: "DIGEST ... the message
    digest is not hashed again")."""
    import base64
    import hashlib

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from adapters.firmware_signer import KmsFirmwareSigner, kms_firmware_certificates

    image = b"firmware 2.0 " * 1000
    digest = hashlib.sha256(image).digest()
    requests = []
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-2")
        root_id, signing_id = (kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
                               for _ in range(2))
        root, signing = kms_firmware_certificates(kms, root_id, signing_id, "Example CPO")

        class Recording:
            def sign(self, **kwargs):
                requests.append(kwargs)
                return kms.sign(**kwargs)

        signer = KmsFirmwareSigner(Recording(), signing_id, signing.public_bytes(serialization.Encoding.PEM).decode())
        signature, certificate = signer.sign(digest)
    root.verify_directly_issued_by(root)
    signing.verify_directly_issued_by(root)
    assert ExtendedKeyUsageOID.CODE_SIGNING in signing.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert requests == [{"KeyId": signing_id, "Message": digest, "MessageType": "DIGEST",
                         "SigningAlgorithm": "ECDSA_SHA_256"}]  # the image itself never goes to KMS
    key = x509.load_pem_x509_certificate(certificate.encode()).public_key()
    key.verify(base64.b64decode(signature), digest, ec.ECDSA(hashes.SHA256()))  # moto's RAW reading of it
    try:
        key.verify(base64.b64decode(signature), digest + b"x", ec.ECDSA(hashes.SHA256()))
        raise AssertionError("a signature over other bytes verified")
    except InvalidSignature:
        pass
