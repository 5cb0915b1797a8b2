"""Local certificates for OCPP security profile 3 and the TLS policy chargers are told to support.

- The **charger CA** (``<state dir>/tls/charger-ca.pem``, its key next to it): the trust store the
  local gateway verifies client certificates against, as CloudFront's trust store does in AWS.
  Its subject O is the CPO name unless ``--cpo-name`` says otherwise.
- :func:`issue_charger_certificate`: a key and certificate for a test charger (``csms charger cert``),
  subject ``CN=<charge point id>, O=<CPO name>`` (OCPP 1.6 Security Whitepaper ed. 2, 4.1).
- An **RSA server certificate** next to the ECDSA one: a charger offering only RSA suites (static RSA
  or ECDHE-RSA) needs an RSA certificate; OpenSSL serves both from one context and picks per client.
- :data:`ELB_TLS_1_2_EXT_2018_06`: the 18 TLS 1.2 suites of AWS's
  ``ELBSecurityPolicy-TLS-1-2-Ext-2018-06`` (Elastic Load Balancing User Guide, "Security policies"),
  in OpenSSL names; :func:`gateway_context` accepts exactly those plus TLS 1.3.
"""

from __future__ import annotations

import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.ocpp.v16.security_extension import charge_point_certificate
from csms_local.tls import _write_key

DEFAULT_CPO_NAME = "Local CPO"
CHARGER_CA, CHARGER_CA_KEY = "charger-ca.pem", "charger-ca-key.pem"
RSA_CERT, RSA_KEY = "server-rsa.pem", "server-rsa-key.pem"

ELB_TLS_1_2_EXT_2018_06 = (
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA",
    "AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA",
    "AES256-GCM-SHA384", "AES256-SHA256", "AES256-SHA",
)


class PkiError(ValueError):
    """A CA or certificate file is missing or unusable (one line for the CLI)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _write_0600(path, data: bytes) -> None:
    """State files are 0600 whatever they hold (docs/security.md)."""
    from csms_local.private import write_private

    write_private(path, data)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_usage(**on: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: on.get(name, False) for name in names})


def load_ca(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The server CA ``ensure_certificates`` made (``ca.pem``, ``ca-key.pem``)."""
    return (x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes()),
            serialization.load_pem_private_key((tls_dir / "ca-key.pem").read_bytes(), None))


def ensure_rsa_server_certificate(tls_dir: Path, hosts: tuple[str, ...]) -> tuple[Path, Path]:
    """(RSA server chain, key) signed by the local server CA; created on first use."""
    cert_path, key_path = tls_dir / RSA_CERT, tls_dir / RSA_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    import ipaddress

    ca, ca_key = load_ca(tls_dir)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key, key_path)
    _write_0600(cert_path, _pem(cert) + _pem(ca))
    return cert_path, key_path


def ensure_charger_ca(tls_dir: Path, cpo_name: str = DEFAULT_CPO_NAME) -> Path:
    """The local charger CA certificate (``O`` = ``cpo_name`` when created); created on first use."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = tls_dir / CHARGER_CA, tls_dir / CHARGER_CA_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CSMS local charger CA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, cpo_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key, key_path)
    _write_0600(cert_path, _pem(cert))
    return cert_path


def charger_ca_cpo_name(tls_dir: Path) -> str | None:
    """The O of the local charger CA (the CPO name it was created with); None without one."""
    path = tls_dir / CHARGER_CA
    if not path.exists():
        return None
    names = x509.load_pem_x509_certificate(path.read_bytes()).subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else None


def load_charger_ca(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = tls_dir / CHARGER_CA, tls_dir / CHARGER_CA_KEY
    if not (cert_path.exists() and key_path.exists()):
        raise PkiError(f"no charger CA in {tls_dir} (csms local creates one on start)")
    return (x509.load_pem_x509_certificate(cert_path.read_bytes()),
            serialization.load_pem_private_key(key_path.read_bytes(), None))


def sign_charger_certificate(ca: x509.Certificate, ca_key, public_key, charge_point_id: str, cpo_name: str, *,
                             days: float = 365, not_before: datetime | None = None) -> x509.Certificate:
    """A charge point certificate from the charger CA (``csms.ocpp.v16.security_extension.charge_point_certificate``)."""
    return charge_point_certificate(ca, ca_key, public_key, charge_point_id, cpo_name, days=days,
                                    not_before=not_before)


def issue_charger_certificate(tls_dir: Path, charge_point_id: str, out_dir: Path, *, cpo_name: str | None = None,
                              days: float = 365) -> tuple[Path, Path, x509.Certificate]:
    """Write ``<id>.pem`` (certificate + CA) and ``<id>-key.pem`` (P-256) to ``out_dir``."""
    ca, ca_key = load_charger_ca(tls_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = sign_charger_certificate(ca, ca_key, key.public_key(), charge_point_id,
                                    cpo_name or charger_ca_cpo_name(tls_dir) or DEFAULT_CPO_NAME, days=days)
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in charge_point_id)
    cert_path, key_path = out_dir / f"{safe}.pem", out_dir / f"{safe}-key.pem"
    _write_key(key, key_path)
    _write_0600(cert_path, _pem(cert) + _pem(ca))
    return cert_path, key_path, cert


def ensure_firmware_signing(tls_dir: Path, cpo_name: str = DEFAULT_CPO_NAME) -> Path:
    """The local firmware root (``firmware-root.pem``: what chargers install as
    ManufacturerRootCertificate) and the firmware-signing key and certificate it issues
    (``csms.firmware.signing``); created on first use. Returns the root's path."""
    from adapters.firmware_signer import ROOT_CERT, ROOT_KEY, SIGNING_CERT, SIGNING_KEY
    from csms.firmware.signing import root_certificate, signing_certificate

    tls_dir.mkdir(parents=True, exist_ok=True)
    paths = [tls_dir / name for name in (ROOT_CERT, ROOT_KEY, SIGNING_CERT, SIGNING_KEY)]
    if all(path.exists() for path in paths):
        return paths[0]
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = root_certificate(root_key.public_key(), root_key, cpo_name)
    _write_key(root_key, paths[1])
    _write_0600(paths[0], _pem(root))
    _write_key(key, paths[3])
    _write_0600(paths[2], _pem(signing_certificate(root, root_key, key.public_key(), cpo_name)))
    return paths[0]


def gateway_context(chains: list[tuple[Path, Path]], charger_ca: Path | None) -> ssl.SSLContext:
    """The chargers' TLS: TLS 1.2 with exactly :data:`ELB_TLS_1_2_EXT_2018_06` plus TLS 1.3 (OpenSSL's
    three suites); every chain in ``chains`` (an RSA and an ECDSA one: OpenSSL picks per client).
    With ``charger_ca`` a client certificate is requested and, when sent, must chain to it (the
    trust store; CloudFront's ``optional`` mode): a charger without one goes on to Basic auth."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # SECLEVEL=1: OpenSSL 3 at level 2 keeps these suites, but a distribution's stricter default
    # would silently drop the SHA-1 MAC ones chargers are promised.
    context.set_ciphers(":".join(ELB_TLS_1_2_EXT_2018_06) + ":@SECLEVEL=1")
    for cert, key in chains:
        context.load_cert_chain(cert, key)
    if charger_ca is not None:
        context.verify_mode = ssl.CERT_OPTIONAL
        try:
            context.load_verify_locations(cafile=str(charger_ca))
        except (ssl.SSLError, OSError) as exc:
            raise PkiError(f"charger CA bundle {charger_ca}: {exc}") from exc
    return context
