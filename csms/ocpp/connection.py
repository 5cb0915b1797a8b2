"""Who may connect: OCPP security profile 2 (TLS + Basic auth) and the subprotocol.

The charger id is the last segment of ``/ocpp/<chargePointId>``. API Gateway
WebSocket APIs have no path parameters, so in AWS a CloudFront function copies
the viewer path into the ``ws-uri`` header (the local gateway does the same).
Without that header (a bare API Gateway URL) the Basic-auth username is the id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
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


# Brute force: after this many wrong keys for one charger within the window, every attempt is
# refused (the right key too) until the window has passed since the first failure.
LOCKOUT_FAILURES = 10
LOCKOUT_WINDOW = timedelta(minutes=15)


def locked(stored: ChargerAuth, now: datetime) -> bool:
    return (stored.failures >= LOCKOUT_FAILURES and stored.failures_since is not None
            and now - stored.failures_since < LOCKOUT_WINDOW)


WRONG_KEY = "wrong AuthorizationKey"
LOCKED = "locked: too many wrong keys, try again later"


def authorize(headers: Mapping[str, str] | None, lookup: Callable[[str], ChargerAuth | None],
              now: datetime | None = None) -> AuthDecision:
    """Decide a handshake from its headers; ``lookup`` reads the stored credentials."""
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
    stored = lookup(username)
    if stored is None or not stored.enabled:
        return AuthDecision(False, username, "unknown or disabled charge point")
    if locked(stored, now or datetime.now(timezone.utc)):
        return AuthDecision(False, username, LOCKED)  # checked before the key: no scrypt work either
    if not verify_key(credentials.password, stored.password_hash):
        return AuthDecision(False, username, WRONG_KEY)
    return AuthDecision(True, username, "ok")


def offered_subprotocols(headers: Mapping[str, str] | None) -> list[str]:
    value = header(headers, "Sec-WebSocket-Protocol") or ""
    return [p.strip() for p in value.split(",") if p.strip()]


def choose_subprotocol(headers: Mapping[str, str] | None) -> str | None:
    """``ocpp1.6`` when the client offers it, else None (refuse the connection)."""
    return SUBPROTOCOL if SUBPROTOCOL in offered_subprotocols(headers) else None
