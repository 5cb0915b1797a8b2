"""OCPP security profile 3: who a verified client certificate admits, read from the edge's headers.

The TLS terminator verifies the certificate chain against the trust store (the CPO's charger
CA bundle) and forwards what it saw as headers: CloudFront viewer mTLS in AWS, the local
gateway (``csms_local.edge``) on one machine, with the same names and formats:

- ``CloudFront-Viewer-Cert-Present``: ``1`` or ``0``
- ``CloudFront-Viewer-Cert-Subject`` / ``-Issuer``: RFC 2253 distinguished names
- ``CloudFront-Viewer-Cert-Serial-Number``: hex, colon separated (``4a:3f:5c``)
- ``CloudFront-Viewer-Cert-Sha256``: hex SHA-256 of the DER certificate
- ``CloudFront-Viewer-Cert-Validity``: ``NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z``
- ``CloudFront-Viewer-TLS``: ``TLSv1.2:ECDHE-RSA-AES128-GCM-SHA256:fullHandshake``

(AWS CloudFront Developer Guide, "Viewer mTLS headers for cache policies and forwarded to
origin".) A client talking to the API Gateway endpoint directly could send such headers
itself, so they count only on a request that carries the origin secret the edge adds
(:data:`ORIGIN_SECRET_HEADER`); the caller decides that and passes ``trusted``.

The rule (OCPP 1.6 Security Whitepaper ed. 2, section 2.4 "Security Profile 3" and 4.1
"Certificate properties"): the certificate's subject CN is the charge point id, its O is the
CPO's name, it is within its validity and it is not revoked (the charger's revocation list, by
serial number or SHA-256 fingerprint). A charger's recorded security profile is a floor: a
charger on profile 3 is never admitted by Basic auth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

from csms.ocpp.connection import header

PROFILE_BASIC = 2  # TLS + HTTP Basic auth (AuthorizationKey)
PROFILE_CERTIFICATE = 3  # TLS + client certificate
PROFILES = (PROFILE_BASIC, PROFILE_CERTIFICATE)

CERT_PRESENT = "CloudFront-Viewer-Cert-Present"
CERT_SUBJECT = "CloudFront-Viewer-Cert-Subject"
CERT_ISSUER = "CloudFront-Viewer-Cert-Issuer"
CERT_SERIAL = "CloudFront-Viewer-Cert-Serial-Number"
CERT_SHA256 = "CloudFront-Viewer-Cert-Sha256"
CERT_VALIDITY = "CloudFront-Viewer-Cert-Validity"
CERT_PEM = "CloudFront-Viewer-Cert-Pem"
VIEWER_TLS = "CloudFront-Viewer-TLS"
# Forwarded by the origin request policy (infra/cloudfront.py); Pem and Validity reach only the origin.
EDGE_HEADERS = (CERT_PRESENT, CERT_SUBJECT, CERT_ISSUER, CERT_SERIAL, CERT_SHA256, CERT_VALIDITY, CERT_PEM, VIEWER_TLS)
# Added by CloudFront to every origin request (a custom origin header); never sent by a charger.
ORIGIN_SECRET_HEADER = "X-Csms-Origin-Verify"

# Refusal reasons (logged; never contain a secret)
NO_ID_IN_PATH = "certificate: no charge point id in the URL"
UNKNOWN = "unknown or disabled charge point"
CN_MISMATCH = "certificate: subject CN is not the charge point id"
O_MISMATCH = "certificate: subject O is not the CPO name"
NOT_YET_VALID = "certificate: not yet valid"
EXPIRED = "certificate: expired"
REVOKED = "certificate: revoked"
MALFORMED = "certificate: malformed certificate headers"
NEEDS_CERTIFICATE = "security profile 3: a client certificate is required, Basic auth is refused"


class CertificateHeaderError(ValueError):
    """The edge's certificate headers cannot be read (missing field, bad date)."""


def parse_dn(value: str) -> dict[str, list[str]]:
    """``CN=CP001,O=Acme\\, Ltd,C=GB`` -> ``{"CN": ["CP001"], "O": ["Acme, Ltd"], "C": ["GB"]}``.

    RFC 2253 / RFC 4514: ``,`` (or ``+`` inside a multi-valued RDN) separates attributes and a
    backslash escapes the next character (or two hex digits). Attribute types are upper-cased.
    """
    result: dict[str, list[str]] = {}
    buf: list[str] = []
    parts: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1: i + 3]
            if re.fullmatch(r"[0-9A-Fa-f]{2}", nxt):
                buf.append(chr(int(nxt, 16)))
                i += 3
                continue
            buf.append(value[i + 1])
            i += 2
            continue
        if ch in ",+":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    for part in parts:
        name, sep, attr = part.partition("=")
        if sep:
            result.setdefault(name.strip().upper(), []).append(attr.strip())
    return result


def normalise_serial(value: str) -> str:
    """``04:A3:0f`` / ``4a30f`` -> ``4a30f``: lower-case hex, no separators or leading zeros."""
    digits = re.sub(r"[^0-9a-fA-F]", "", value or "").lower().lstrip("0")
    return digits or "0"


def normalise_sha256(value: str) -> str:
    """Lower-case hex without separators (64 characters for a SHA-256)."""
    return re.sub(r"[^0-9a-fA-F]", "", value or "").lower()


def revocation_key(kind: str, value: str) -> str:
    """The entry a revocation list holds: ``serial:<hex>`` or ``sha256:<hex>``."""
    if kind == "serial":
        # hex digits with optional ':' / ' ' separators (04:A3:0F, 0x4a30f): anything else is a typo
        # that would revoke another certificate's serial once stripped (issue 17)
        if not re.fullmatch(r"(0[xX])?[0-9a-fA-F]+([: ][0-9a-fA-F]+)*", (value or "").strip()):
            raise ValueError("a serial is hex digits, optionally separated by ':' (e.g. 04:A3:0F)")
        return f"serial:{normalise_serial(value.strip().removeprefix('0x').removeprefix('0X'))}"
    if kind == "sha256":
        digest = normalise_sha256(value)
        if len(digest) != 64:
            raise ValueError("a SHA-256 fingerprint is 64 hex digits")
        return f"sha256:{digest}"
    raise ValueError(f"unknown revocation kind {kind!r} (serial or sha256)")


def _utc(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise CertificateHeaderError(f"bad date {text!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ClientCertificate:
    """The verified client certificate as the edge reported it (times UTC)."""

    subject: str  # RFC 2253
    issuer: str
    serial: str  # normalised hex (normalise_serial)
    sha256: str  # normalised hex
    not_before: datetime
    not_after: datetime

    @property
    def common_name(self) -> str | None:
        names = parse_dn(self.subject).get("CN") or []
        return names[0] if len(names) == 1 else None  # two CNs: ambiguous, matches nothing

    @property
    def organization(self) -> str | None:
        names = parse_dn(self.subject).get("O") or []
        return names[0] if len(names) == 1 else None

    def revocation_keys(self) -> tuple[str, str]:
        return revocation_key("serial", self.serial), revocation_key("sha256", self.sha256)

    def as_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "issuer": self.issuer, "serial": self.serial, "sha256": self.sha256,
                "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat()}


def certificate_from_headers(headers: Mapping[str, str] | None) -> ClientCertificate | None:
    """The client certificate the edge verified; None when none was presented.

    Raises CertificateHeaderError when the edge says one is present but a field is missing or
    unreadable (the handshake is then refused, never admitted on a guess).
    """
    if (header(headers, CERT_PRESENT) or "0").strip() != "1":
        return None
    subject, issuer = header(headers, CERT_SUBJECT), header(headers, CERT_ISSUER)
    serial, digest = header(headers, CERT_SERIAL), header(headers, CERT_SHA256)
    validity = header(headers, CERT_VALIDITY)
    if not (subject and issuer and serial and digest and validity):
        raise CertificateHeaderError("a certificate is present but its headers are incomplete")
    fields = dict(part.partition("=")[::2] for part in validity.split(";") if "=" in part)
    if "NotBefore" not in fields or "NotAfter" not in fields:
        raise CertificateHeaderError(f"bad validity {validity!r}")
    sha = normalise_sha256(digest)
    if len(sha) != 64:
        raise CertificateHeaderError("bad SHA-256 fingerprint")
    return ClientCertificate(subject, issuer, normalise_serial(serial), sha,
                             _utc(fields["NotBefore"]), _utc(fields["NotAfter"]))


def parse_viewer_tls(value: str | None) -> tuple[str | None, str | None]:
    """``TLSv1.2:ECDHE-RSA-AES128-SHA256:fullHandshake`` -> (``TLSv1.2``, ``ECDHE-RSA-AES128-SHA256``)."""
    if not value:
        return None, None
    parts = value.split(":")
    return (parts[0] or None), (parts[1] if len(parts) > 1 and parts[1] else None)


def check_certificate(cert: ClientCertificate, charge_point_id: str, revoked: frozenset[str] | set[str],
                      cpo_name: str | None, now: datetime) -> str | None:
    """None when ``cert`` admits ``charge_point_id``, else the refusal reason.

    ``revoked``: the charger's revocation list (:func:`revocation_key` entries). ``cpo_name``:
    the O every charger certificate must carry; None skips that check (no CPO name configured).
    The chain to the trust store was verified by the edge before any header was written.
    """
    if cert.common_name != charge_point_id:
        return CN_MISMATCH
    if cpo_name is not None and cert.organization != cpo_name:
        return O_MISMATCH
    if now < cert.not_before:
        return NOT_YET_VALID
    if now >= cert.not_after:
        return EXPIRED
    if any(key in revoked for key in cert.revocation_keys()):
        return REVOKED
    return None


@dataclass(frozen=True)
class ConnectionSecurity:
    """How one connection was admitted: recorded on the charger by ``$connect``."""

    profile: int  # PROFILE_BASIC or PROFILE_CERTIFICATE
    method: str  # "basic" or "certificate"
    tls_version: str | None = None  # e.g. "TLSv1.2"; None when the edge did not say (direct endpoint)
    tls_cipher: str | None = None  # OpenSSL name, e.g. "ECDHE-RSA-AES128-SHA256"
    certificate: ClientCertificate | None = None

    def as_context(self) -> dict[str, str | int]:
        """Flat string/number values for the authorizer context (API Gateway's rule)."""
        context: dict[str, str | int] = {"securityProfile": self.profile, "authMethod": self.method,
                                         "tlsVersion": self.tls_version or "", "tlsCipher": self.tls_cipher or ""}
        if self.certificate is not None:
            for key, value in self.certificate.as_dict().items():
                context["cert_" + key] = value
        return context

    @classmethod
    def from_context(cls, context: Mapping[str, object] | None) -> "ConnectionSecurity | None":
        """Inverse of :meth:`as_context`; None when the authorizer recorded nothing."""
        if not context or "securityProfile" not in context:
            return None
        cert = None
        if context.get("cert_serial"):
            cert = ClientCertificate(str(context["cert_subject"]), str(context["cert_issuer"]),
                                     str(context["cert_serial"]), str(context["cert_sha256"]),
                                     _utc(str(context["cert_not_before"])), _utc(str(context["cert_not_after"])))
        return cls(int(str(context["securityProfile"])), str(context.get("authMethod") or "basic"),
                   str(context.get("tlsVersion") or "") or None, str(context.get("tlsCipher") or "") or None, cert)


def security_record(security: ConnectionSecurity, at: datetime) -> tuple[dict, dict | None]:
    """What the charger's item keeps of a connection: (security, certificate or None)."""
    record = {"profile": security.profile, "method": security.method, "at": at.isoformat()}
    if security.tls_version:
        record["tls_version"] = security.tls_version
    if security.tls_cipher:
        record["tls_cipher"] = security.tls_cipher
    return record, security.certificate.as_dict() if security.certificate is not None else None


RENEW_AHEAD_DAYS = 30  # a charge point certificate this close to its NotAfter is renewed


def needs_renewal(security: ConnectionSecurity | None, now: datetime, ahead_days: int = RENEW_AHEAD_DAYS) -> bool:
    """True when the connection's client certificate expires within ``ahead_days``: the platform then
    asks the charger for a new CSR (ExtendedTriggerMessage SignChargePointCertificate, Security
    Whitepaper ed. 2, 5.3). Checked at each certificate handshake (chargers reconnect at least every
    2 hours on API Gateway), so no table is scanned to find expiring certificates."""
    from datetime import timedelta

    cert = security.certificate if security is not None else None
    return cert is not None and cert.not_after - now <= timedelta(days=ahead_days)
