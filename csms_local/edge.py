"""What CloudFront adds to a ``$connect`` in AWS, done by the local gateway from its own TLS socket.

OpenSSL has already verified any client certificate against the charger CA (the trust store);
these headers report it in CloudFront's names and formats (``csms.ocpp.certificates``), plus the
negotiated TLS version and cipher (``CloudFront-Viewer-TLS``) and the origin secret, so the same
authorizer code decides in both places. A client's own ``CloudFront-Viewer-*`` or origin-secret
headers are dropped by the gateway before these are added, as CloudFront overwrites them.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from csms.ocpp import certificates as certs

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def client_certificate_headers(der: bytes | None) -> dict[str, str]:
    """CloudFront's certificate headers for a verified DER certificate (``Present: 0`` for None)."""
    if not der:
        return {certs.CERT_PRESENT: "0"}
    cert = x509.load_der_x509_certificate(der)
    serial = f"{cert.serial_number:x}"
    serial = serial if len(serial) % 2 == 0 else "0" + serial
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return {
        certs.CERT_PRESENT: "1",
        certs.CERT_SUBJECT: cert.subject.rfc4514_string(),
        certs.CERT_ISSUER: cert.issuer.rfc4514_string(),
        certs.CERT_SERIAL: ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)),
        certs.CERT_SHA256: hashlib.sha256(der).hexdigest(),
        certs.CERT_VALIDITY: (f"NotBefore={cert.not_valid_before_utc.strftime(_FORMAT)};"
                              f"NotAfter={cert.not_valid_after_utc.strftime(_FORMAT)}"),
        certs.CERT_PEM: quote(pem, safe=""),
    }


class LocalEdge:
    """Builds the edge headers for one TLS connection (``ssl_object`` from the transport)."""

    def __init__(self, origin_secret: str):
        self.origin_secret = origin_secret

    def __call__(self, ssl_object) -> dict[str, str]:
        headers = {certs.ORIGIN_SECRET_HEADER: self.origin_secret}
        if ssl_object is None:  # plain ws (--insecure-ws): no TLS to report
            headers[certs.CERT_PRESENT] = "0"
            return headers
        headers.update(client_certificate_headers(ssl_object.getpeercert(binary_form=True)))
        cipher = ssl_object.cipher()
        handshake = "sessionResumed" if getattr(ssl_object, "session_reused", False) else "fullHandshake"
        headers[certs.VIEWER_TLS] = f"{ssl_object.version()}:{cipher[0] if cipher else ''}:{handshake}"
        return headers


def is_edge_header(name: str) -> bool:
    """Headers only the edge may set (dropped from what a client sent)."""
    lowered = name.lower()
    return lowered.startswith("cloudfront-viewer-") or lowered == certs.ORIGIN_SECRET_HEADER.lower()
