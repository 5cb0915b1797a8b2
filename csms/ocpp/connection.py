"""Who may connect: OCPP security profile 2 (TLS + Basic auth) and the subprotocol.

The charger id is the last segment of ``/ocpp/<chargePointId>``. API Gateway
WebSocket APIs have no path parameters, so in AWS a CloudFront function copies
the viewer path into the ``ws-uri`` header (the local gateway does the same).
Without that header (a bare API Gateway URL) the Basic-auth username is the id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import unquote, urlsplit

from csms.ocpp.credentials import parse_basic_auth, verify_key
from csms.model import ChargerAuth

log = logging.getLogger(__name__)

PATH_HEADER = "ws-uri"
SUBPROTOCOL = "ocpp1.6"
MAX_ID_LEN = 48  # BootNotification's chargeBoxSerialNumber is 25; ids in the field run longer


@dataclass(frozen=True)
class AuthDecision:
    allowed: bool
    charge_point_id: str | None
    reason: str  # for the log: never contains the secret
    legacy_handshake: bool = False  # the operator admits this charger without the exact subprotocol
    new_key: bool = False  # admitted with the pending key of a rotation (csms.ocpp.rotation)


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway keeps the client's case)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    return None


def valid_charge_point_id(value: str) -> bool:
    return (
        0 < len(value) <= MAX_ID_LEN
        and value.isprintable()
        and "/" not in value
        and value.strip() == value
    )


def id_from_path(path: str) -> str | None:
    """``/ocpp/CP%20001`` -> ``CP 001``; None when there is no id segment."""
    try:
        path = urlsplit(path).path
    except ValueError:
        return None
    segments = [s for s in path.split("/") if s]
    if not segments:
        return None
    try:
        return unquote(segments[-1], errors="strict")
    except UnicodeDecodeError:
        return None


WRONG_KEY = "wrong AuthorizationKey"
UNKNOWN = "unknown or disabled charge point"


def authorize(headers: Mapping[str, str] | None, lookup: Callable[[str], ChargerAuth | None],
              gate: Callable[[str], str | None] | None = None) -> AuthDecision:
    """Decide a handshake from its headers; ``lookup`` reads the stored credentials. ``gate``
    (``csms.ocpp.lockout.Attempt.gate``) may refuse a well-formed attempt before any lookup or scrypt
    work by returning a reason; it never sees the key."""
    credentials = parse_basic_auth(header(headers, "Authorization"))
    if credentials is None:
        return AuthDecision(False, None, "missing or malformed Basic authorization")
    username = credentials.username
    if not valid_charge_point_id(username):
        return AuthDecision(False, None, "username is not a valid charge point id")
    path = header(headers, PATH_HEADER)
    if path is not None:
        url_id = id_from_path(path)
        if url_id != username:
            return AuthDecision(False, username, "username does not match the charge point id in the URL")
    refusal = gate(username) if gate is not None else None
    if refusal is not None:
        return AuthDecision(False, username, refusal)
    stored = lookup(username)
    if stored is None or not stored.enabled:
        return AuthDecision(False, username, UNKNOWN)
    forms = credentials.key_forms()  # the key as hex text or as its 16-20 raw bytes (issue 14)
    if any(verify_key(form, stored.password_hash) for form in forms):
        return AuthDecision(True, username, "ok", stored.legacy_handshake)
    if stored.pending_hash and any(verify_key(form, stored.pending_hash) for form in forms):
        return AuthDecision(True, username, "ok: the rotated key", stored.legacy_handshake, new_key=True)
    return AuthDecision(False, username, WRONG_KEY)


def offered_subprotocols(headers: Mapping[str, str] | None) -> list[str]:
    value = header(headers, "Sec-WebSocket-Protocol") or ""
    return [p.strip() for p in value.split(",") if p.strip()]


# Variant spellings shipped chargers offer for OCPP 1.6J (lbbrhzn/ocpp#442 offers none at all).
LEGACY_SUBPROTOCOLS = frozenset({"ocpp1.6j", "ocpp1.6-j", "ocpp16", "ocpp16j", "ocpp1.6json"})


def choose_subprotocol(headers: Mapping[str, str] | None, legacy_handshake: bool = False) -> str | None:
    """``ocpp1.6`` when the client offers it, else None (refuse the connection: OCPP-J 1.6
    section 3.1.2). For a charger the operator marked "legacy handshake": the variant it offers
    (e.g. ``ocpp1.6j``, answered as offered) or, when it offers none, ``""`` (admitted as OCPP 1.6,
    no ``Sec-WebSocket-Protocol`` in the answer, as RFC 6455 section 4.2.2 requires)."""
    offered = offered_subprotocols(headers)
    if SUBPROTOCOL in offered:
        return SUBPROTOCOL
    if not legacy_handshake:
        return None
    variant = next((p for p in offered if p.lower() in LEGACY_SUBPROTOCOLS or p.lower() == SUBPROTOCOL), None)
    if variant is not None:
        return variant
    return "" if not offered else None
