"""The local HTTPS API and web page (``csms local``) against hostile or broken clients: an idle
socket, a bad ``Content-Length``, unknown methods, a non-JSON body, oversized heads and bodies, a
head that never ends. Each must leave everybody else served and get a clear JSON answer."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from contextlib import closing

import pytest

from csms_local import http_api
from csms_local.platform import LocalPlatform
from csms_local.tls import client_context
from tests.e2e.helpers import call, open_charger, running_in_a_thread


async def _started(tmp_path) -> LocalPlatform:
    platform = LocalPlatform(state_dir=tmp_path / "state", port=0, smart_every_s=None)
    return await platform.start()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """One platform for the tests that need nothing of their own (a test that changes a server limit
    starts its own), its event loop in a thread."""
    with running_in_a_thread(LocalPlatform(state_dir=tmp_path_factory.mktemp("https") / "state", port=0,
                                           smart_every_s=None)) as local:
        yield local


def _tls(platform) -> ssl.SSLSocket:
    host, port = platform.api_url.removeprefix("https://").rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=20)
    return client_context(platform.ca_path).wrap_socket(raw, server_hostname=host)


def _exchange(platform, request: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes over TLS; the status, headers and body of the answer (status 0: none came;
    -1: none came, and the server closed the connection before it had all the bytes)."""
    cut_off = False
    with closing(_tls(platform)) as tls:
        try:
            tls.sendall(request)
        except (ConnectionError, ssl.SSLError):  # refused mid-request: its answer may still be readable
            cut_off = True
        data = b""
        try:
            while chunk := tls.recv(65536):
                data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = [int(v) for k, v in (ln.split(b":", 1) for ln in head.split(b"\r\n")[1:] if b":" in ln)
                          if k.strip().lower() == b"content-length"]
                if b"\r\n\r\n" in data and length and len(body) >= length[0]:
                    break
        except (ConnectionError, ssl.SSLError):
            pass
    if not data:
        return (-1 if cut_off else 0), {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    return int(lines[0].split()[1]), headers, body


def _request(platform, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, dict, bytes]:
    token = http_api.operator_token(platform.state_dir)
    head = {"Host": "localhost", "Authorization": f"Bearer {token}", "Connection": "close",
            "Content-Length": str(len(body)), **(headers or {})}
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items() if v is not None)
    return _exchange(platform, f"{method} {path} HTTP/1.1\r\n{lines}\r\n".encode() + body)


# Tests with a platform of their own come first: the module's shared platform starts at its first use, and two
# platforms in one process would share the table models' binding (adapters.dynamo.models.bind).
def test_a_request_head_that_never_ends_is_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(http_api, "REQUEST_HEAD_S", 1)

    async def scenario():
        platform = await _started(tmp_path)
        try:
            def slow() -> bytes:
                with closing(_tls(platform)) as tls:
                    tls.sendall(b"GET /v1/me HTTP/1.1\r\nHost: localhost\r\n")  # ...and no end of head
                    try:
                        return tls.recv(1024)
                    except (ConnectionError, ssl.SSLError):
                        return b""
            return await asyncio.to_thread(slow)
        finally:
            await platform.stop()

    assert asyncio.run(scenario()) == b""  # closed by the server, long before the socket's own 20 s


def test_an_idle_socket_does_not_freeze_the_api_or_the_page(platform):
    async def scenario():
        host, port = platform.api_url.removeprefix("https://").rsplit(":", 1)
        idle = socket.create_connection((host, int(port)))  # no ClientHello, ever
        try:
            me = await asyncio.wait_for(asyncio.to_thread(_request, platform, "GET", "/v1/me"), 30)
            page = await asyncio.wait_for(asyncio.to_thread(_request, platform, "GET", "/"), 30)
        finally:
            idle.close()
        return me, page

    me, page = asyncio.run(scenario())
    assert me[0] == 200 and json.loads(me[2]) == {"subject": "operator", "operator": True}
    assert page[0] == 200 and b"<html" in page[2].lower()


def test_broken_requests_get_clear_json_answers(platform):
    async def scenario():
        return {
            "bad length": await asyncio.to_thread(_request, platform, "POST", "/v1/events", b"{}",
                                                  {"Content-Length": "abc"}),
            "patch api": await asyncio.to_thread(_request, platform, "PATCH", "/v1/chargers", b"{}"),
            "options api": await asyncio.to_thread(_request, platform, "OPTIONS", "/v1/chargers/CP1/driver"),
            "patch page": await asyncio.to_thread(_request, platform, "PATCH", "/index.html"),
            "not json": await asyncio.to_thread(_request, platform, "POST", "/v1/events", b"cap=1",
                                                {"Content-Type": "text/plain"}),
            "after": await asyncio.to_thread(_request, platform, "GET", "/v1/me"),
        }

    answers = asyncio.run(scenario())
    assert answers["bad length"][0] == 400  # an answer, not a dropped connection
    for name, allow in (("patch api", "GET, POST"), ("options api", "PUT"), ("patch page", "GET, HEAD")):
        status, headers, body = answers[name]
        assert (status, headers.get("allow")) == (405, allow), name
        assert headers["content-type"].startswith("application/json") and json.loads(body)["message"], name
    status, headers, body = answers["not json"]
    assert status == 415 and "JSON" in json.loads(body)["message"]
    assert answers["after"][0] == 200


def test_head_and_body_sizes_are_bounded(platform):
    async def scenario():
        # 1 MB of headers, each line short: the head as a whole is bounded, not only its lines
        padding = {f"X-Padding-{i}": "a" * http_api.HEAD_MAX_BYTES for i in range(64)}
        big_head = await asyncio.to_thread(_request, platform, "GET", "/v1/me", b"", padding)
        # A chunked body declares no length: it is counted as it arrives
        chunk = b"x" * 65536
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                           for _ in range(http_api.MAX_BODY_BYTES // len(chunk) + 2)) + b"0\r\n\r\n"
        big_body = await asyncio.to_thread(_request, platform, "POST", "/v1/events", chunked,
                                           {"Content-Length": None, "Transfer-Encoding": "chunked"})
        events = await asyncio.to_thread(_request, platform, "GET", "/v1/events")
        return big_head, big_body, events

    big_head, big_body, events = asyncio.run(scenario())
    # 400, or (when the server's close wins the race with our sending) cut off before the whole head
    assert big_head[0] in (400, -1)
    assert big_body[0] == -1 or big_body[0] == 413 and json.loads(big_body[2])["message"]
    assert json.loads(events[2]) == []  # nothing was created


def test_an_idle_socket_does_not_block_a_chargers_handshake(platform):
    async def scenario():
        key = platform.add_charger("CP001")
        host, port = platform.url.removeprefix("wss://").removesuffix("/ocpp").rsplit(":", 1)
        idle = socket.create_connection((host, int(port)))  # no ClientHello, ever
        try:
            async with open_charger(platform, "CP001", key, open_timeout=30) as ws:
                return await call(ws, "1", "Heartbeat", {})
        finally:
            idle.close()

    answer = asyncio.run(scenario())
    assert answer[0] == 3 and "currentTime" in answer[2]


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_the_page_and_its_files_are_served(platform, method):
    async def scenario():
        return (await asyncio.to_thread(_request, platform, method, "/"),
                await asyncio.to_thread(_request, platform, method, "/../pyproject.toml"))

    page, escape = asyncio.run(scenario())
    assert page[0] == 200 and page[1]["content-type"].startswith("text/html")
    assert int(page[1]["content-length"]) > 0 and (page[2] == b"") == (method == "HEAD")
    assert escape[0] in (400, 404)
