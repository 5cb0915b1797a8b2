"""The HTTP API and the web page on loopback: what API Gateway's HTTP API, its Cognito JWT
authorizer and a static site are in AWS.

``/v1/...`` requests become HTTP API (payload 2.0) events for the unchanged ``handlers.api``; the
caller is identified by a bearer token from ``<state dir>/api-tokens.json`` (the local stand-in
for a Cognito sign-in: each token maps to a subject and whether it is an operator), passed to the
handler as the JWT authorizer's claims. A missing or unknown token is a 401 before the handler,
as API Gateway answers. Everything else is the static web page from ``web/``.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"
TOKENS_FILE = "api-tokens.json"
MAX_BODY_BYTES = 1024 * 1024
OPERATOR = "operator"


def _tokens(path: Path) -> dict[str, dict]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def add_token(state_dir: Path, subject: str, operator: bool) -> str:
    """A new bearer token for ``subject`` (kept in ``api-tokens.json``, mode 600)."""
    path = Path(state_dir) / TOKENS_FILE
    tokens = _tokens(path)
    token = secrets.token_hex(24)  # hex: never starts with "-" (a CLI argument)
    tokens[token] = {"sub": subject, "operator": bool(operator)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tokens, indent=1))
    path.chmod(0o600)
    return token


def operator_token(state_dir: Path) -> str:
    """The local operator's token, made on first use."""
    for token, who in _tokens(Path(state_dir) / TOKENS_FILE).items():
        if who.get("sub") == OPERATOR and who.get("operator"):
            return token
    return add_token(state_dir, OPERATOR, True)


class LocalHttpApi:
    def __init__(self, handler: Callable[[dict, Any], dict], state_dir: Path, host: str = "127.0.0.1",
                 port: int = 0, ssl_context=None, files_root: Path | None = None):
        self.handler, self.tokens_path = handler, Path(state_dir) / TOKENS_FILE
        self.files_root = files_root  # firmware and diagnostics behind signed links (adapters.local_files)
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                log.debug(fmt, *args)

            def _send(self, status: int, data: bytes, content_type: str, extra: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _json(self, status: int, body: dict) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _api(self) -> None:
                auth = self.headers.get("Authorization") or ""
                scheme, _, token = auth.partition(" ")
                who = _tokens(api.tokens_path).get(token.strip()) if scheme.lower() == "bearer" else None
                if not who:
                    return self._json(401, {"message": "Unauthorized"})
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    return self._json(413, {"message": "Request Entity Too Large"})
                raw = self.rfile.read(length) if length else b""
                try:
                    body = raw.decode("utf-8") if raw else None
                except UnicodeDecodeError:
                    return self._json(400, {"message": "the body is not UTF-8"})
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                claims = {"sub": who["sub"], **({"cognito:groups": "[operators]"} if who.get("operator") else {})}
                event = {
                    "version": "2.0", "routeKey": "$default", "rawPath": parts.path, "rawQueryString": parts.query,
                    "headers": {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
                    "queryStringParameters": query or None,
                    "requestContext": {
                        "accountId": "000000000000", "apiId": "local", "stage": "$default",
                        "domainName": self.headers.get("Host", "localhost"), "requestId": secrets.token_hex(8),
                        "routeKey": "$default", "timeEpoch": int(time.time() * 1000),
                        "http": {"method": self.command, "path": parts.path, "protocol": "HTTP/1.1",
                                 "sourceIp": self.client_address[0], "userAgent": self.headers.get("User-Agent", "")},
                        "authorizer": {"jwt": {"claims": claims, "scopes": None}},
                    },
                    "body": body, "isBase64Encoded": False,
                }
                try:
                    response = api.handler(event, None)
                except Exception:
                    log.exception("HTTP API handler failed")
                    return self._json(500, {"message": "Internal Server Error"})
                data = (response.get("body") or "").encode()
                headers = {k: v for k, v in (response.get("headers") or {}).items() if k.lower() != "content-type"}
                content_type = (response.get("headers") or {}).get("Content-Type", "application/json")
                self._send(int(response.get("statusCode", 200)), data, content_type, headers)

            def _static(self) -> None:
                path = urlsplit(self.path).path
                name = "index.html" if path in ("/", "") else path.lstrip("/")
                target = (WEB / name).resolve()
                if WEB.resolve() not in target.parents or not target.is_file():
                    return self._json(404, {"message": "Not Found"})
                content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                self._send(200, target.read_bytes(), content_type)

            def _files(self) -> None:
                from adapters.local_files import handle

                parts = urlsplit(self.path)
                length = self.headers.get("Content-Length")
                answer = handle(api.files_root, self.command, parts.path, parts.query,
                                int(length) if length and length.isdigit() else None, self.rfile.read)
                if answer.path is None:
                    self.close_connection = answer.status >= 400  # an unread body must not be taken as a request
                    return self._json(answer.status, {"message": answer.message})
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(answer.path.stat().st_size))
                self.end_headers()
                if self.command != "HEAD":
                    with open(answer.path, "rb") as source:
                        while chunk := source.read(1024 * 1024):
                            self.wfile.write(chunk)

            def _route(self) -> None:
                if urlsplit(self.path).path.startswith("/files/") and api.files_root is not None:
                    return self._files()
                if urlsplit(self.path).path.startswith("/v1/"):
                    return self._api()
                if self.command in ("GET", "HEAD"):
                    return self._static()
                return self._json(404, {"message": "Not Found"})

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _route  # noqa: N815

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.host, self.port = host, self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
