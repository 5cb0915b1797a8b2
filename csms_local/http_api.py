"""The HTTP API and the web page on loopback: what API Gateway's HTTP API, its Cognito JWT
authorizer and a static site are in AWS.

``/v1/...`` requests become HTTP API (payload 2.0) events for the unchanged ``handlers.api``; the
caller is identified by a bearer token from ``<state dir>/api-tokens.json`` (the local stand-in
for a Cognito sign-in: each token maps to a subject and whether it is an operator), passed to the
handler as the JWT authorizer's claims. A missing or unknown token is a 401 before the handler,
as API Gateway answers. Everything else is the static web page from ``web/``.

The server is uvicorn (timeouts, limits and TLS we should not write ourselves) with one small ASGI
app, ``LocalHttpApi.app``, that dispatches to the two.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

log = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"
TOKENS_FILE = "api-tokens.json"
MAX_BODY_BYTES = 1024 * 1024
HEAD_MAX_BYTES = 16 * 1024  # an unfinished request head kept (h11); past it: 400 (API Gateway: 10 KB of headers)
REQUEST_HEAD_S = 10  # a connection must send a whole request head within this after TLS or a response
BODY_TIMEOUT_S = 30  # and its body within this
KEEP_ALIVE_S = 5
MAX_CONCURRENCY = 100  # connections and requests at once; more get 503
GRACEFUL_STOP_S = 5
OPERATOR = "operator"


def _tokens(path: Path) -> dict[str, dict]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def add_token(state_dir: Path, subject: str, operator: bool, expires_in_s: float | None = None) -> str:
    """A new bearer token for ``subject`` (kept in ``api-tokens.json``, mode 600), valid for
    ``expires_in_s`` seconds (None: until revoked)."""
    path = Path(state_dir) / TOKENS_FILE
    tokens = _tokens(path)
    token = secrets.token_hex(24)  # hex: never starts with "-" (a CLI argument)
    tokens[token] = {"sub": subject, "operator": bool(operator),
                     **({"expires": time.time() + expires_in_s} if expires_in_s is not None else {})}
    from csms_local.private import private_dir, write_private

    private_dir(path.parent)
    write_private(path, json.dumps(tokens, indent=1))
    return token


def revoke_token(state_dir: Path, token: str) -> bool:
    """Forget ``token`` (the running platform reads the file on every request). False: unknown."""
    from csms_local.private import write_private

    path = Path(state_dir) / TOKENS_FILE
    tokens = _tokens(path)
    if tokens.pop(token, None) is None:
        return False
    write_private(path, json.dumps(tokens, indent=1))
    return True


def token_subject(tokens_path: Path, token: str, now: float | None = None) -> dict | None:
    """Who a bearer token is (``sub``, ``operator``), or None: unknown, revoked or expired."""
    who = _tokens(tokens_path).get(token)
    if not isinstance(who, dict):
        return None
    expires = who.get("expires")
    if expires is not None and (now if now is not None else time.time()) >= float(expires):
        return None
    return who


def operator_token(state_dir: Path) -> str:
    """The local operator's token, made on first use."""
    path = Path(state_dir) / TOKENS_FILE
    for token, who in _tokens(path).items():
        if who.get("sub") == OPERATOR and who.get("operator") and token_subject(path, token) is not None:
            return token
    return add_token(state_dir, OPERATOR, True)


class LocalHttpApi:
    """The HTTPS API and web page on uvicorn, in a thread of its own with its own event loop.

    uvicorn brings what ``http.server`` lacked: TLS handshakes off the accept loop (asyncio's 60 s
    handshake timeout), a bound on the request head (``HEAD_MAX_BYTES``), a keep-alive timeout, a
    concurrency limit and a graceful stop. The ASGI app below only dispatches: ``/v1/...`` to the
    handler (a payload-2.0 event), anything else to the static web page.
    """

    def __init__(self, handler: Callable[[dict, Any], dict], state_dir: Path, host: str = "127.0.0.1",
                 port: int = 0, ssl_context=None, files_root: Path | None = None):
        import uvicorn

        self.handler, self.tokens_path = handler, Path(state_dir) / TOKENS_FILE
        self.files_root = files_root  # firmware and diagnostics behind signed links (adapters.local_files)
        self._socket = socket.create_server((host, port))  # bound now: the port is known before start()
        config = uvicorn.Config(
            self.app, interface="asgi3", lifespan="off", log_config=None, access_log=False, server_header=False,
            http=_deadline_protocol(), timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=GRACEFUL_STOP_S,
            limit_concurrency=MAX_CONCURRENCY, h11_max_incomplete_event_size=HEAD_MAX_BYTES, proxy_headers=False,
        )
        config.load()
        config.ssl = ssl_context  # the platform's context (TLS 1.2+, its own CA), not one built from files
        self._server = uvicorn.Server(config)
        self.scheme = "https" if ssl_context is not None else "http"
        self.host, self.port = host, self._socket.getsockname()[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="http-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish (up to ``GRACEFUL_STOP_S``), close."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=GRACEFUL_STOP_S + 5)
        self._socket.close()

    # ------------------------------------------------------------------ the ASGI app
    def identity(self, token: str) -> dict | None:
        """Who a bearer token is (``{"sub": ..., "operator": bool}``), or None (unknown, revoked or
        expired): the local Cognito."""
        return token_subject(self.tokens_path, token) if token else None

    async def app(self, scope: dict, receive: Callable, send: Callable) -> None:
        """One request: ``/v1/...`` to the API, ``/files/...`` to the signed file links (when a files
        root is set), GET/HEAD of anything else to the web page."""
        if scope["type"] != "http":
            return
        if scope["path"].startswith("/files/") and self.files_root is not None:
            return await self._files(scope, receive, send)
        if scope["path"].startswith("/v1/"):
            status, headers, body = await self._api(scope, receive)
        elif scope["method"] in ("GET", "HEAD"):
            status, headers, body = _static(scope["path"])
        else:
            status, headers, body = _json(405, {"message": f"{scope['method']} is not allowed here; use GET, HEAD"})
            headers["Allow"] = "GET, HEAD"
        headers = {**headers, "Content-Length": str(len(body)), "Cache-Control": "no-store"}
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.lower().encode(), str(v).encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _api(self, scope: dict, receive: Callable) -> tuple[int, dict, bytes]:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        who = self.identity(token.strip()) if scheme.lower() == "bearer" else None
        if not who:
            return _json(401, {"message": "Unauthorized"})
        if int(headers.get("content-length") or 0) > MAX_BODY_BYTES:  # h11 has checked it is a number
            return _json(413, {"message": f"the body is over {MAX_BODY_BYTES} bytes"})
        try:
            raw = await asyncio.wait_for(_body(receive), BODY_TIMEOUT_S)
        except _TooLarge:
            return _json(413, {"message": f"the body is over {MAX_BODY_BYTES} bytes"})
        except asyncio.TimeoutError:
            return _json(408, {"message": f"the body did not arrive within {BODY_TIMEOUT_S:g} s"})
        try:
            body = raw.decode("utf-8") if raw else None
        except UnicodeDecodeError:
            return _json(400, {"message": "the body is not UTF-8"})
        path, query = scope["path"], scope["query_string"].decode("latin-1")
        claims = {"sub": who["sub"], **({"cognito:groups": "[operators]"} if who.get("operator") else {})}
        event = {
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
            "headers": {k: v for k, v in headers.items() if k != "authorization"},
            "queryStringParameters": dict(parse_qsl(query, keep_blank_values=True)) or None,
            "requestContext": {
                "accountId": "000000000000", "apiId": "local", "stage": "$default",
                "domainName": headers.get("host", "localhost"), "requestId": secrets.token_hex(8),
                "routeKey": "$default", "timeEpoch": int(time.time() * 1000),
                "http": {"method": scope["method"], "path": path, "protocol": f"HTTP/{scope['http_version']}",
                         "sourceIp": (scope.get("client") or ("127.0.0.1",))[0],
                         "userAgent": headers.get("user-agent", "")},
                "authorizer": {"jwt": {"claims": claims, "scopes": None}},
            },
            "body": body, "isBase64Encoded": False,
        }
        try:
            response = await asyncio.to_thread(self.handler, event, None)
        except Exception:
            log.exception("HTTP API handler failed")
            return _json(500, {"message": "Internal Server Error"})
        out = dict(response.get("headers") or {})
        out.setdefault("Content-Type", "application/json")
        return int(response.get("statusCode", 200)), out, (response.get("body") or "").encode()


    async def _files(self, scope: dict, receive: Callable, send: Callable) -> None:
        """A signed ``/files/...`` link (``adapters.local_files.handle``, which checks the signature,
        expiry and size limits): the body is streamed to it in a worker thread, which must have it
        all within ``BODY_TIMEOUT_S``; a download is streamed back in chunks."""
        from adapters.local_files import handle

        loop = asyncio.get_running_loop()
        deadline = loop.time() + BODY_TIMEOUT_S
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        pending, ended = bytearray(), [False]

        def read(n: int) -> bytes:  # in the worker thread: pull from the event loop until n bytes or the end
            while len(pending) < n and not ended[0]:
                future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(receive(), max(0.0, deadline - loop.time())),
                                                          loop)
                try:
                    message = future.result()
                except Exception:  # timed out or the client left: the upload ends early (400, nothing kept)
                    ended[0] = True
                    break
                if message["type"] == "http.disconnect":
                    ended[0] = True
                    break
                pending.extend(message.get("body", b""))
                ended[0] = not message.get("more_body", False)
            chunk = bytes(pending[:n])
            del pending[:n]
            return chunk

        answer = await asyncio.to_thread(handle, self.files_root, scope["method"], scope["path"],
                                         scope["query_string"].decode("latin-1"),
                                         int(length) if length and length.isdigit() else None, read)
        if answer.path is None:
            status, out, body = _json(answer.status, {"message": answer.message})
            out = {**out, "Content-Length": str(len(body)), "Cache-Control": "no-store"}
            if answer.status >= 400:
                out["Connection"] = "close"  # an unread body must not be taken as the next request
            await send({"type": "http.response.start", "status": status,
                        "headers": [(k.lower().encode(), str(v).encode()) for k, v in out.items()]})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
            return
        size = answer.path.stat().st_size
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", str(size).encode()),
                                (b"cache-control", b"no-store")]})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        with open(answer.path, "rb") as source:
            while chunk := await asyncio.to_thread(source.read, 1024 * 1024):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


class _TooLarge(Exception):
    pass


async def _body(receive: Callable) -> bytes:
    """The request body, refused past ``MAX_BODY_BYTES`` while it arrives (not after)."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.TimeoutError  # the client left: nobody reads the answer
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _json(status: int, body: dict) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _static(path: str) -> tuple[int, dict, bytes]:
    name = "index.html" if path in ("/", "") else path.lstrip("/")
    target = (WEB / name).resolve()
    if WEB.resolve() not in target.parents or not target.is_file():
        return _json(404, {"message": "Not Found"})
    return 200, {"Content-Type": mimetypes.guess_type(target.name)[0] or "application/octet-stream"}, target.read_bytes()


def _deadline_protocol():
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class DeadlineProtocol(H11Protocol):
        """uvicorn's HTTP/1.1 protocol with a deadline for each request head: uvicorn's keep-alive
        timer restarts on every byte and is not armed before the first request, so a client
        trickling a head (slowloris) would hold its connection for ever."""

        _deadline = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(REQUEST_HEAD_S, self.transport.close)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a whole request head arrived
                self._disarm()

        def on_response_complete(self) -> None:
            self._arm()  # first: a pipelined request handled inside disarms it
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return DeadlineProtocol
