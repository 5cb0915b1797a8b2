"""OCPP security profile 2 credentials: Basic auth with an AuthorizationKey.

The key is stored only as a salted scrypt hash and compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# scrypt cost: n=2**14, r=8, p=1 -> 16 MiB and ~30-60 ms per check; the hash
# records its parameters so they can be raised later without breaking old keys.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_DKLEN = 32

MIN_KEY_LEN = 16
MAX_KEY_LEN = 40


class CredentialError(ValueError):
    """A key or stored hash is not acceptable."""


def generate_key() -> str:
    """A new AuthorizationKey: 20 random bytes as 40 hex characters (the OCPP maximum)."""
    return secrets.token_hex(20)


def validate_key(key: str) -> None:
    if not isinstance(key, str) or not MIN_KEY_LEN <= len(key) <= MAX_KEY_LEN:
        raise CredentialError(
            f"AuthorizationKey must be {MIN_KEY_LEN}-{MAX_KEY_LEN} characters"
        )
    if not key.isascii() or not key.isprintable():
        raise CredentialError("AuthorizationKey must be printable ASCII")


def hash_key(key: str, *, salt: bytes | None = None) -> str:
    validate_key(key)
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(key.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return "scrypt${}${}${}${}${}".format(
        _N, _R, _P, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    )


def verify_key(key: str, stored: str) -> bool:
    """True when ``key`` matches ``stored``; False for any malformed input."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
        n_i, r_i, p_i = int(n), int(r), int(p)
    except (ValueError, binascii.Error, AttributeError):
        return False
    if not isinstance(key, str) or not key or len(key.encode()) > 1024:
        return False
    digest = hashlib.scrypt(
        key.encode(), salt=salt, n=n_i, r=r_i, p=p_i, dklen=len(expected), maxmem=64 * 1024 * 1024
    )
    return hmac.compare_digest(digest, expected)


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str


def parse_basic_auth(header: str | None) -> BasicCredentials | None:
    """Parse ``Authorization: Basic base64(user:pass)``; None when missing or malformed."""
    if not header or not isinstance(header, str):
        return None
    parts = header.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not password:
        return None
    return BasicCredentials(username, password)
