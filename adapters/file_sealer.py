"""``csms.ocpp.rotation.SecretSealer`` for the local platform: AES-256-GCM (``cryptography``) with a key
kept in ``<state dir>/secrets.key`` (0600, made on first use), the charge point id as associated
data. The snapshot of the tables holds only ciphertext; the key file is the one local secret."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from csms.ocpp.rotation import SEALED, SealError

PREFIX = SEALED + "local:"


class FileSealer:
    def __init__(self, key_file: str | Path):
        self.key_file = Path(key_file)
        self._key: bytes | None = None

    def _aead(self) -> AESGCM:
        if self._key is None:
            if not self.key_file.exists():
                self.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                try:
                    fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:  # made meanwhile by another process
                    pass
                else:
                    with os.fdopen(fd, "wb") as out:
                        out.write(AESGCM.generate_key(bit_length=256))
            self._key = self.key_file.read_bytes()
            if len(self._key) != 32:
                raise SealError(f"{self.key_file} is not a 32-byte key")
        return AESGCM(self._key)

    def seal(self, plaintext: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        blob = nonce + self._aead().encrypt(nonce, plaintext.encode(), context.encode())
        return PREFIX + base64.b64encode(blob).decode()

    def open(self, token: str, context: str) -> str:
        if not token.startswith(PREFIX):
            raise SealError("not a locally sealed value")
        try:
            blob = base64.b64decode(token[len(PREFIX):], validate=True)
            return self._aead().decrypt(blob[:12], blob[12:], context.encode()).decode()
        except (binascii.Error, InvalidTag, ValueError) as exc:
            raise SealError("cannot open a sealed value (another key file, or tampered)") from exc
