"""OCPP security profile 2 credentials: Basic auth with an AuthorizationKey.

The key is stored only as a salted hash and compared in constant time. Two schemes:

- ``hmac-sha256`` for keys with at least 160 random bits (what ``generate_key`` makes: 40 hex
  characters from ``secrets``). A slow hash protects guessable secrets; a 160-bit random key cannot
  be guessed (2^160 trials), so one HMAC-SHA256 keyed by a random salt is as sound and costs ~2 µs
  instead of scrypt's 30-60 ms and 16 MiB: the authorizer is never the bottleneck of a reconnect
  storm (NIST SP 800-63B §5.1.1.2 asks for a slow hash for *memorized* secrets; §5.1.2 look-up
  secrets with >= 112 bits of entropy may use a single salted one-way function).
- ``scrypt`` for every other key (chosen by an operator: may be guessable). Existing scrypt hashes
  keep working whatever the key.

A scrypt check that succeeded is remembered for the life of the process (``VerifiedKeys``): the
next handshake of the same charger with the same key against the same stored hash costs one
HMAC-SHA256 instead of 30-60 ms of scrypt, so a reconnect storm of 1,000 chargers with
operator-chosen keys no longer costs 30-60 s of CPU (docs/benchmarks.md). A wrong key, a key
nobody has verified yet and a changed key (a new stored hash: new salt) still pay the full scrypt,
so guessing is exactly as slow as before, and the lockout (``csms.ocpp.lockout``) is decided
before any of this. The trade-off: the process's memory holds, per verified stored hash, an HMAC
of the key under a random per-process secret; whoever can read that memory can test guesses at
HMAC speed rather than scrypt speed (they can also read the keys of the handshakes in flight).
Nothing of it is ever written anywhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
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
    if key.strip() != key or not key.strip():
        # 20 spaces were accepted (issue 21); a charger's key never starts or ends with a space
        raise CredentialError("AuthorizationKey must not start or end with spaces")


def _high_entropy(key: str) -> bool:
    """A key of the shape ``generate_key`` makes: 40 lower-case hex characters (160 bits)."""
    return len(key) == 40 and all(c in "0123456789abcdef" for c in key)


def hash_key(key: str, *, salt: bytes | None = None, slow: bool | None = None) -> str:
    """The stored form of ``key``: ``hmac-sha256$salt$digest`` for a generated 160-bit key, else
    ``scrypt$n$r$p$salt$digest`` (``slow=True`` forces scrypt). Raises CredentialError."""
    validate_key(key)
    if all(c in "0123456789abcdefABCDEF" for c in key):
        # Hex text in any case is one key (OCPP-J 1.6 security profile 2: up to 20 bytes shown as hex).
        # Hashed in lower case, the forms BasicCredentials.key_forms tries (the text in lower case, the
        # byte form's hex) all match a key typed in mixed case.
        key = key.lower()
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    if not (slow if slow is not None else not _high_entropy(key)):
        digest = hmac.new(salt, key.encode(), hashlib.sha256).digest()
        return "hmac-sha256${}${}".format(base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    digest = hashlib.scrypt(key.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return "scrypt${}${}${}${}${}".format(
        _N, _R, _P, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    )


class VerifiedKeys:
    """Stored scrypt hashes this process has seen verified, each with an HMAC-SHA256 of the key that
    matched it under a random secret made at start (never stored). Bounded: at most ``limit``
    entries (about 200 bytes each); the oldest is forgotten first. Thread-safe."""

    def __init__(self, limit: int = 200_000):
        self.limit = limit
        self._secret = secrets.token_bytes(32)
        self._seen: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _tag(self, key: str) -> bytes:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).digest()

    def known(self, key: str, stored: str) -> bool:
        """True when ``key`` is the key already verified against ``stored``."""
        with self._lock:
            tag = self._seen.get(stored)
        return tag is not None and hmac.compare_digest(tag, self._tag(key))

    def remember(self, key: str, stored: str) -> None:
        """``key`` has just been verified against ``stored`` by scrypt."""
        tag = self._tag(key)
        with self._lock:
            self._seen.pop(stored, None)
            self._seen[stored] = tag
            while len(self._seen) > self.limit:
                del self._seen[next(iter(self._seen))]


VERIFIED = VerifiedKeys()


def verify_key(key: str, stored: str) -> bool:
    """True when ``key`` matches ``stored``; False for any malformed input. A scrypt match is
    remembered (``VERIFIED``, see the module's docstring) so the same key against the same stored
    hash is not run through scrypt again in this process."""
    if isinstance(stored, str) and stored.startswith("hmac-sha256$"):
        try:
            _, salt_b64, digest_b64 = stored.split("$")
            salt = base64.b64decode(salt_b64, validate=True)
            expected = base64.b64decode(digest_b64, validate=True)
        except (ValueError, binascii.Error):
            return False
        if not isinstance(key, str) or not key or len(key.encode()) > 1024:
            return False
        return hmac.compare_digest(hmac.new(salt, key.encode(), hashlib.sha256).digest(), expected)
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
    if VERIFIED.known(key, stored):
        return True
    digest = hashlib.scrypt(
        key.encode(), salt=salt, n=n_i, r=r_i, p=p_i, dklen=len(expected), maxmem=64 * 1024 * 1024
    )
    if hmac.compare_digest(digest, expected):
        VERIFIED.remember(key, stored)
        return True
    return False


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str  # the password as UTF-8 text ("" when its bytes are not UTF-8)
    password_bytes: bytes = b""  # the password exactly as sent

    def key_forms(self) -> list[str]:
        """The AuthorizationKey texts this password may stand for. OCPP-J 1.6 security profile 2
        defines the key as up to 20 bytes, shown in configuration as up to 40 hex characters; chargers
        differ in which form they put in the Basic password. So: the text itself (hex text also in lower
        case) and, for a 16-20 byte password, its bytes as hex (lower and upper case). At most four
        hashes on a miss (about 0.2 s of scrypt; the lockout still counts each refused handshake once)."""
        forms = [self.password] if self.password else []
        if self.password and all(c in "0123456789abcdefABCDEF" for c in self.password):
            forms.append(self.password.lower())  # hex text in upper case: the same key
        raw = self.password_bytes or self.password.encode()
        if MIN_KEY_LEN <= len(raw) <= MAX_KEY_LEN // 2:
            forms += [raw.hex(), raw.hex().upper()]
        return list(dict.fromkeys(forms))


def parse_basic_auth(header: str | None) -> BasicCredentials | None:
    """Parse ``Authorization: Basic base64(user:pass)``; None when missing or malformed."""
    if not header or not isinstance(header, str):
        return None
    parts = header.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user_bytes, sep, password = decoded.partition(b":")
    try:
        username = user_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not sep or not username or not password:
        return None
    try:
        text = password.decode("utf-8")
    except UnicodeDecodeError:
        text = ""  # a key in its byte form (security profile 2): see BasicCredentials.key_forms
    return BasicCredentials(username, text, password)
