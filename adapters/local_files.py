"""Firmware images and diagnostics files of the local platform (``csms.firmware.ports.FileStore``):
on disk under ``<state dir>/files``, reached through the platform's HTTPS port with links that
are signed (HMAC-SHA256 with a secret kept in ``<state dir>/files/.secret``, mode 600) and expire,
as S3 pre-signed URLs are and do in AWS.

``handle`` serves ``/files/<kind>/<key>?expires=..&signature=..`` independently of the HTTP server
(``csms_local.http_api`` calls it): GET/HEAD downloads, PUT (or POST of the raw body) uploads.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl, quote, unquote, urlencode

from csms.firmware.model import StoredFile, UploadTarget

KINDS = ("firmware", "diagnostics")
MAX_DIAGNOSTICS_BYTES = 100 * 1024 * 1024
MAX_FIRMWARE_BYTES = 256 * 1024 * 1024  # csms.firmware.campaigns.MAX_IMAGE_BYTES
CHUNK = 1024 * 1024


def _secret(root: Path) -> bytes:
    path = root / ".secret"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True, mode=0o700)  # the state dir's rule: 0700 / 0600 (issue 21)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _signature(secret: bytes, verb: str, kind: str, key: str, params: dict[str, str]) -> str:
    text = "\n".join([verb, kind, key] + [f"{k}={params[k]}" for k in sorted(params)])
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def _verb(method: str) -> str:
    return "GET" if method in ("GET", "HEAD") else "UPLOAD"


class LocalFiles:
    """``root``: the files directory; ``base_url``: the platform's HTTPS origin; ``clock``: epoch seconds."""

    def __init__(self, root: str | Path, base_url: str, clock: Callable[[], float] = time.time):
        self.root, self.base_url, self.clock = Path(root), base_url.rstrip("/"), clock
        self.secret = _secret(self.root)

    def _link(self, verb: str, kind: str, key: str, expires_s: int, **extra: str) -> tuple[str, int]:
        expires = int(self.clock()) + int(expires_s)
        params = {"expires": str(expires), **{k: str(v) for k, v in extra.items()}}
        params["signature"] = _signature(self.secret, verb, kind, key, params)
        return f"{self.base_url}/files/{kind}/{quote(key)}?{urlencode(params)}", expires

    def _info(self, kind: str, key: str) -> StoredFile | None:
        path = self.root / kind / key
        if not path.is_file():
            return None
        sidecar = path.with_name(path.name + ".sha256")
        digest = sidecar.read_text().strip() if sidecar.is_file() else None
        return StoredFile(path.stat().st_size, digest)

    def image_upload(self, key: str, size_bytes: int, sha256: str, expires_s: int) -> UploadTarget:
        url, expires = self._link("UPLOAD", "firmware", key, expires_s, size=size_bytes, sha256=sha256)
        return UploadTarget(url, "PUT", {"Content-Length": str(size_bytes)},
                            datetime.fromtimestamp(expires, tz=timezone.utc))

    def image_info(self, key: str) -> StoredFile | None:
        return self._info("firmware", key)

    def firmware_url(self, key: str, expires_s: int = 3600) -> str:
        return self._link("GET", "firmware", key, expires_s)[0]

    def diagnostics_upload_url(self, key: str, expires_s: int = 3600) -> str:
        return self._link("UPLOAD", "diagnostics", key, expires_s)[0]

    def diagnostics_info(self, key: str) -> StoredFile | None:
        return self._info("diagnostics", key)

    def diagnostics_download_url(self, key: str, expires_s: int = 900) -> str:
        return self._link("GET", "diagnostics", key, expires_s)[0]


@dataclass(frozen=True)
class FileResponse:
    status: int
    message: str | None = None  # JSON {"message": ...} when set
    path: Path | None = None  # the file to send (GET)


def handle(root: str | Path, method: str, path: str, query: str, content_length: int | None,
           read: Callable[[int], bytes], clock: Callable[[], float] = time.time) -> FileResponse:
    """Serve one ``/files/...`` request. ``read(n)`` reads up to n bytes of the body.
    403 for a bad or expired link (the message says which), 404, 411/413 for body sizes, 400 for a
    firmware upload whose SHA-256 or length differs from the one signed into its link."""
    root = Path(root)
    parts = path.split("/", 3)  # "", "files", kind, key
    if len(parts) != 4 or parts[1] != "files" or parts[2] not in KINDS or not parts[3]:
        return FileResponse(404, "Not Found")
    kind, key = parts[2], unquote(parts[3])
    params = dict(parse_qsl(query, keep_blank_values=True))
    signature = params.pop("signature", "")
    expected = _signature(_secret(root), _verb(method), kind, key, params)
    if not hmac.compare_digest(signature, expected):
        return FileResponse(403, "invalid signature: this link was not issued by this platform for this request")
    try:
        expires = int(params.get("expires", "0"))
    except ValueError:
        return FileResponse(403, "invalid link")
    if clock() > expires:
        at = datetime.fromtimestamp(expires, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return FileResponse(403, f"this link expired at {at} UTC; ask for a new one (a retry re-issues it)")
    base = (root / kind).resolve()
    target = (base / key).resolve()
    if base not in target.parents or target.name.startswith("."):
        return FileResponse(404, "Not Found")
    if method in ("GET", "HEAD"):
        if not target.is_file():
            return FileResponse(404, "Not Found")
        return FileResponse(200, path=target)
    if method not in ("PUT", "POST"):
        return FileResponse(405, "GET, PUT or POST")
    if content_length is None:
        return FileResponse(411, "Content-Length is required")
    limit = MAX_FIRMWARE_BYTES if kind == "firmware" else MAX_DIAGNOSTICS_BYTES
    if kind == "firmware" and content_length != int(params.get("size", -1)):
        return FileResponse(400, f"the body is {content_length} bytes; this link is for {params.get('size')} bytes")
    if content_length > limit:
        return FileResponse(413, f"the body is {content_length:,} bytes; the limit is {limit:,} bytes")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    digest, left = hashlib.sha256(), content_length
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            while left > 0:
                chunk = read(min(CHUNK, left))
                if not chunk:
                    return FileResponse(400, "the body ended early")
                digest.update(chunk)
                out.write(chunk)
                left -= len(chunk)
        sha = digest.hexdigest()
        if kind == "firmware" and sha != params.get("sha256"):
            return FileResponse(400, f"the body's SHA-256 is {sha}; this link is for {params.get('sha256')}")
        partial.replace(target)
        target.with_name(target.name + ".sha256").write_text(sha)
    finally:
        if partial.exists():
            partial.unlink()
    return FileResponse(201, "stored")
