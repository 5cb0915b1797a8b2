"""The handshake decision across security profiles 2 and 3.

A verified client certificate (forwarded by a trusted edge) is judged by
:func:`csms.ocpp.certificates.check_certificate`; without one the Basic-auth check
(``csms.ocpp.connection.authorize``, passed in as ``basic``) runs, and a charger whose
recorded profile is 3 is refused even with the right key (OCPP 1.6 Security
Whitepaper ed. 2, 2.2: no fallback to a lower profile).

A certificate that is presented but fails the rule (wrong CN or O, expired, revoked)
refuses the handshake even if a valid Basic-auth header is also sent: a revoked
certificate in use is a sign of a stolen key, not something to talk around.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

from csms.ocpp import certificates as certs
from csms.ocpp.connection import PATH_HEADER, AuthDecision, header, id_from_path, valid_charge_point_id
from csms.model import ChargerAuth

Lookup = Callable[[str], ChargerAuth | None]
BasicCheck = Callable[[Mapping[str, str] | None, Lookup], AuthDecision]


@dataclass(frozen=True)
class Admission:
    decision: AuthDecision
    security: certs.ConnectionSecurity | None = None  # set when allowed


def admit(headers: Mapping[str, str] | None, lookup: Lookup, *, basic: BasicCheck, trusted_edge: bool,
          cpo_name: str | None, now: datetime) -> Admission:
    """Decide a ``$connect``. ``trusted_edge``: the request carries the edge's origin secret, so
    its ``CloudFront-Viewer-*`` headers are the edge's, not the client's. ``lookup`` reads the
    stored credentials once (one GetItem): the revocation list and profile floor are on the
    charger's item."""
    tls_version, tls_cipher = certs.parse_viewer_tls(header(headers, certs.VIEWER_TLS)) if trusted_edge else (None, None)
    try:
        cert = certs.certificate_from_headers(headers) if trusted_edge else None
    except certs.CertificateHeaderError:
        return Admission(AuthDecision(False, None, certs.MALFORMED))
    if cert is not None:
        path = header(headers, PATH_HEADER)
        charge_point_id = id_from_path(path) if path else None
        if charge_point_id is None or not valid_charge_point_id(charge_point_id):
            return Admission(AuthDecision(False, None, certs.NO_ID_IN_PATH))
        stored = lookup(charge_point_id)
        if stored is None or not stored.enabled:
            return Admission(AuthDecision(False, charge_point_id, certs.UNKNOWN))
        reason = certs.check_certificate(cert, charge_point_id, stored.revoked, cpo_name, now)
        if reason is not None:
            return Admission(AuthDecision(False, charge_point_id, reason))
        security = certs.ConnectionSecurity(certs.PROFILE_CERTIFICATE, "certificate", tls_version, tls_cipher, cert)
        return Admission(AuthDecision(True, charge_point_id, "ok"), security)
    seen: list[ChargerAuth | None] = []

    def remembering(charge_point_id: str) -> ChargerAuth | None:
        stored = lookup(charge_point_id)
        seen.append(stored)
        return stored

    decision = basic(headers, remembering)
    if not decision.allowed:
        return Admission(decision)
    if seen and seen[-1] is not None and seen[-1].security_profile >= certs.PROFILE_CERTIFICATE:
        return Admission(AuthDecision(False, decision.charge_point_id, certs.NEEDS_CERTIFICATE))
    return Admission(decision, certs.ConnectionSecurity(certs.PROFILE_BASIC, "basic", tls_version, tls_cipher))
