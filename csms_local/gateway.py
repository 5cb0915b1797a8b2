"""A local stand-in for API Gateway's WebSocket API, serving the same Lambda handlers.

The handshake goes through ``handlers.authorizer`` and ``handlers.connect`` with
API-Gateway-shaped events (the request path in the ``ws-uri`` header, as the
CloudFront function sets it in AWS), every text frame through
``handlers.default`` (its ``body`` is sent back: a two-way route), and the close
through ``handlers.disconnect``. API Gateway's limits are enforced: 32 KB frames
(larger closes with 1009), 10 minutes idle, 2 hours per connection.
"""

from __future__ import annotations

import asyncio
import base64
import http
import itertools
import logging
import os
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request

from csms.ocpp.connection import PATH_HEADER
from csms_local.edge import is_edge_header

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 32 * 1024
# Invocations of $default / $disconnect in flight at once (Lambda runs one per message, as many as
# arrive). They mostly wait on DynamoDB, whose journal flushes once for every write waiting at that
# moment: asyncio's default pool (cores + 4 = 6 threads here) capped the whole platform at 6
# messages in flight (docs/benchmarks.md). 32 once queued the handshakes' own DynamoDB requests
# past the 10 s handshake timeout (tests/e2e/test_storm.py, on 2 loaded cores), when every frame
# thread made its own requests; since MeterValues share their writes (adapters.dynamo.meter_batch)
# the threads mostly wait on one batch, and twice the threads make each batch twice as large
# (bench_throughput at 100 chargers: 15 readings per write against 8, CPU per message -13 %).
FRAME_WORKERS = 32
# The opening handshake, TLS included (websockets passes it on as asyncio's ssl_handshake_timeout):
# a socket that never finishes it is closed, and never holds up anyone else's.
OPEN_TIMEOUT_S = 10
API_ID = "local"
STAGE = "local"


@dataclass
class LiveConnection:
    connection_id: str
    charge_point_id: str
    socket: ServerConnection
    connected_at_ms: int
    source_ip: str
    last_active_ms: int = field(default=0)


Handler = Callable[[dict, Any], dict]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_connection_id() -> str:
    return base64.b64encode(secrets.token_bytes(9)).decode()  # API Gateway's look: 12 base64 chars


class Gateway:
    def __init__(
        self,
        handlers: dict[str, Handler],
        *,
        host: str = "127.0.0.1",
        port: int = 8443,
        ssl_context=None,
        idle_timeout_s: float = 600,
        max_connection_s: float = 7200,
        edge: Callable[[Any], dict[str, str]] | None = None,
        connected_at_ms: Callable[[], int] = _now_ms,
    ):
        self.handlers = handlers  # authorizer, connect, default, disconnect
        # requestContext.connectedAt: API Gateway's clock, which the platform's clock seam stands for
        # (the set-up window is measured from it); idle and age limits stay on real time
        self.connected_at_ms = connected_at_ms
        # CloudFront's part (csms_local.edge.LocalEdge): certificate, TLS and origin-secret headers
        # built from the TLS socket; a client's own are dropped
        self.edge = edge
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.idle_timeout_s = idle_timeout_s
        self.max_connection_s = max_connection_s
        self.connections: dict[str, LiveConnection] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._message_ids = itertools.count(1)
        # Handshakes (authorizer + $connect) get threads of their own: queued behind the frames of
        # a thousand reconnecting chargers they outlast the 10 s handshake timeout (a reconnect
        # storm), as Lambda would not let them: each route scales on its own there. Four: the
        # authorizer's scrypt check releases the GIL, and each handshake also waits for the
        # store's journal flush (a read waits for the writes it may have seen), so two threads
        # left the cores idle while they waited.
        self._handshakes = ThreadPoolExecutor(max_workers=4, thread_name_prefix="handshake")
        self._frames = ThreadPoolExecutor(max_workers=FRAME_WORKERS, thread_name_prefix="frame")

    # ----------------------------------------------------------- events
    def _request_context(self, route: str, event_type: str, connection_id: str, source_ip: str, connected_at_ms: int,
                         authorizer: dict | None = None) -> dict:
        now = _now_ms()
        context = {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": connected_at_ms,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": source_ip},
            "requestId": uuid.uuid4().hex[:16],
            "domainName": f"{self.host}:{self.port}",
            "connectionId": connection_id,
            "apiId": API_ID,
        }
        if authorizer is not None:
            context["authorizer"] = authorizer
        return context

    @staticmethod
    def _headers(headers: Headers, path: str) -> tuple[dict[str, str], dict[str, list[str]]]:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers.raw_items():
            if name.lower() == PATH_HEADER or is_edge_header(name):
                continue  # only the gateway sets these, as CloudFront does
            multi.setdefault(name, []).append(value)
            single[name] = ", ".join(multi[name]) if name.lower() == "sec-websocket-protocol" else value
        single[PATH_HEADER] = path
        multi[PATH_HEADER] = [path]
        return single, multi

    async def _call(self, name: str, event: dict) -> dict:
        pool = self._handshakes if name in ("authorizer", "connect") else self._frames
        return await asyncio.get_running_loop().run_in_executor(pool, self.handlers[name], event, None)

    # -------------------------------------------------------- handshake
    async def _process_request(self, socket: ServerConnection, request: Request):
        path = request.path.split("?", 1)[0]
        headers, multi = self._headers(request.headers, path)
        if self.edge is not None:
            added = self.edge(socket.transport.get_extra_info("ssl_object"))
            headers.update(added)
            multi.update({name: [value] for name, value in added.items()})
        source_ip = socket.remote_address[0] if socket.remote_address else "127.0.0.1"
        connection_id, connected_at = _new_connection_id(), self.connected_at_ms()
        auth_event = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:local:000000000000:{API_ID}/{STAGE}/$connect",
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "stageVariables": None,
            "requestContext": self._request_context("$connect", "CONNECT", connection_id, source_ip, connected_at),
        }
        try:
            policy = await self._call("authorizer", auth_event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return socket.respond(http.HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            log.exception("authorizer failed")
            return socket.respond(http.HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error\n")
        statements = (policy.get("policyDocument") or {}).get("Statement") or [{}]
        if statements[0].get("Effect") != "Allow":
            return socket.respond(http.HTTPStatus.FORBIDDEN, "Forbidden\n")
        authorizer = dict(policy.get("context") or {}, principalId=policy.get("principalId"))
        connect_event = {
            "headers": {k: v for k, v in headers.items() if k.lower() not in ("authorization", PATH_HEADER)},
            "multiValueHeaders": {k: v for k, v in multi.items() if k.lower() not in ("authorization", PATH_HEADER)},
            "requestContext": self._request_context("$connect", "CONNECT", connection_id, source_ip, connected_at, authorizer),
            "isBase64Encoded": False,
        }
        response = await self._call("connect", connect_event)
        status = int(response.get("statusCode", 500))
        if status != 200:
            return socket.respond(http.HTTPStatus(status), (response.get("body") or "Refused") + "\n")
        socket.csms = LiveConnection(connection_id, authorizer["chargePointId"], socket, connected_at, source_ip,
                                     connected_at)
        socket.csms_subprotocol = (response.get("headers") or {}).get("Sec-WebSocket-Protocol")
        return None

    @staticmethod
    def _select_subprotocol(socket: ServerConnection, offered):
        # The $connect handler already decided; answer what it answered.
        chosen = getattr(socket, "csms_subprotocol", None)
        return chosen if chosen in offered else None

    # ----------------------------------------------------------- frames
    async def _serve(self, socket: ServerConnection) -> None:
        live: LiveConnection = socket.csms
        self.connections[live.connection_id] = live
        authorizer = {"chargePointId": live.charge_point_id, "principalId": live.charge_point_id}
        log.info("%s connected (%s)", live.charge_point_id, live.connection_id)
        deadline = time.monotonic() + self.max_connection_s
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    await socket.close(1001, "Going away")  # API Gateway's 2 h limit
                    break
                try:
                    frame = await asyncio.wait_for(socket.recv(), timeout=min(self.idle_timeout_s, remaining))
                except asyncio.TimeoutError:
                    await socket.close(1001, "Going away")  # idle timeout
                    break
                live.last_active_ms = _now_ms()
                binary = isinstance(frame, bytes)
                event = {
                    "requestContext": dict(
                        self._request_context("$default", "MESSAGE", live.connection_id, live.source_ip,
                                              live.connected_at_ms, authorizer),
                        messageId=f"m{next(self._message_ids)}",
                    ),
                    "body": base64.b64encode(frame).decode() if binary else frame,
                    "isBase64Encoded": binary,
                }
                response = await self._call("default", event)
                body = response.get("body")
                if body:
                    await socket.send(body)
        except ConnectionClosed:
            pass
        finally:
            self.connections.pop(live.connection_id, None)
            event = {
                "headers": {},
                "multiValueHeaders": {},
                "requestContext": dict(
                    self._request_context("$disconnect", "DISCONNECT", live.connection_id, live.source_ip,
                                          live.connected_at_ms, authorizer),
                    disconnectStatusCode=socket.close_code or 1006,
                    disconnectReason=socket.close_reason or "",
                ),
                "isBase64Encoded": False,
            }
            try:
                await self._call("disconnect", event)
            except Exception:
                log.exception("$disconnect handler failed")
            log.info("%s disconnected (%s, code %s)", live.charge_point_id, live.connection_id, socket.close_code)

    # ------------------------------------------------- management API side
    async def post(self, connection_id: str, data: bytes) -> bool:
        live = self.connections.get(connection_id)
        if live is None:
            return False
        try:
            text = data.decode("utf-8")
            await live.socket.send(text)
        except UnicodeDecodeError:
            await live.socket.send(data)
        except ConnectionClosed:
            return False
        return True

    async def delete(self, connection_id: str) -> bool:
        live = self.connections.get(connection_id)
        if live is None:
            return False
        await live.socket.close(1000, "Closed by the platform")
        return True

    # ------------------------------------------------------------ control
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._server = await serve(
            self._serve,
            self.host,
            self.port,
            ssl=self.ssl_context,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            open_timeout=OPEN_TIMEOUT_S,
            max_size=MAX_FRAME_BYTES,
            ping_interval=None,  # API Gateway does not ping; chargers keep the connection alive
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._handshakes.shutdown(wait=False)
        self._frames.shutdown(wait=False)
