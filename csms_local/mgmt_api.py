"""API Gateway's connection management API on loopback, so the platform's boto3
``apigatewaymanagementapi`` client works unchanged: POST/GET/DELETE /@connections/{id},
410 GoneException for closed connections."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from csms_local.gateway import Gateway

log = logging.getLogger(__name__)
PREFIX = "/@connections/"
REPLAN_PATH = "/@replan"
MAX_POST_BYTES = 128 * 1024  # API Gateway's message limit
LOOP_TIMEOUT_S = 10  # the gateway's event loop must take a post or delete within this


class _Busy(Exception):
    """The gateway's event loop did not take the request within LOOP_TIMEOUT_S."""


class ManagementApi:
    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0):
        self.gateway = gateway
        self.on_replan = None  # POST /@replan (local only): what the scheduler's async invoke is in AWS
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # route to logging, not stderr
                log.debug(fmt, *args)

            def _reply(self, status: int, body: dict | None = None, error_type: str | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.end_headers()
                self.wfile.write(data)

            def _gone(self) -> None:
                self._reply(410, {"__type": "GoneException", "message": "Connection is gone"}, "GoneException")

            def _connection_id(self) -> str | None:
                path = self.path.split("?", 1)[0]
                return unquote(path[len(PREFIX):]) if path.startswith(PREFIX) else None

            def _run(self, coroutine):
                future = asyncio.run_coroutine_threadsafe(coroutine, api.gateway.loop)
                try:
                    return future.result(timeout=LOOP_TIMEOUT_S)
                except TimeoutError:
                    future.cancel()
                    raise _Busy from None

            def _busy(self) -> None:
                # API Gateway's answer when it cannot take a request now; boto3 retries it with
                # back-off. Before, the timeout escaped the handler and the socket was closed without
                # an answer ("RemoteDisconnected" in the sweep under a 1,000-charger load).
                log.warning("%s %s: the gateway did not take it within %d s", self.command, self.path, LOOP_TIMEOUT_S)
                self._reply(429, {"__type": "LimitExceededException", "message": "Gateway busy, retry"},
                            "LimitExceededException")

            def do_POST(self):  # noqa: N802
                connection_id = self._connection_id()
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if self.path.split("?", 1)[0] == REPLAN_PATH and api.on_replan is not None:
                    api.on_replan()
                    return self._reply(202, {"message": "re-plan requested"})
                if connection_id is None:
                    return self._reply(404, {"message": "Not Found"})
                if length > MAX_POST_BYTES:
                    return self._reply(413, {"__type": "PayloadTooLargeException", "message": "Payload too large"},
                                       "PayloadTooLargeException")
                try:
                    if not self._run(api.gateway.post(connection_id, data)):
                        return self._gone()
                except _Busy:
                    return self._busy()
                self._reply(200)

            def do_GET(self):  # noqa: N802
                connection_id = self._connection_id()
                live = api.gateway.connections.get(connection_id or "")
                if live is None:
                    return self._gone()
                iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ms / 1000))  # noqa: E731
                self._reply(200, {"connectedAt": iso(live.connected_at_ms), "lastActiveAt": iso(live.last_active_ms),
                                  "identity": {"sourceIp": live.source_ip, "userAgent": ""}})

            def do_DELETE(self):  # noqa: N802
                connection_id = self._connection_id()
                try:
                    if connection_id is None or not self._run(api.gateway.delete(connection_id)):
                        return self._gone()
                except _Busy:
                    return self._busy()
                self._reply(204)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="mgmt-api", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
