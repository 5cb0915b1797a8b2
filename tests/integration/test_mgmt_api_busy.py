"""The local connection management API answers even when the gateway's event loop is too busy to
take a post: API Gateway's 429 LimitExceededException (boto3 retries it), not a dropped socket."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request

import pytest

from csms_local import mgmt_api


class _StuckGateway:
    """A gateway whose event loop never gets to a post (a loop saturated by a reconnect storm)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.connections: dict = {}
        self.posted: list[bytes] = []

    async def post(self, connection_id: str, data: bytes) -> bool:
        await asyncio.sleep(3600)
        self.posted.append(data)
        return True

    async def delete(self, connection_id: str) -> bool:
        await asyncio.sleep(3600)
        return True


@pytest.fixture
def stuck_api(monkeypatch):
    monkeypatch.setattr(mgmt_api, "LOOP_TIMEOUT_S", 0.2)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    gateway = _StuckGateway(loop)
    api = mgmt_api.ManagementApi(gateway)  # type: ignore[arg-type]
    api.start()
    yield api, gateway
    api.stop()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_a_busy_gateway_answers_429_limit_exceeded(stuck_api, method):
    api, gateway = stuck_api
    request = urllib.request.Request(f"{api.endpoint}/@connections/abc", data=b"[2,\"1\",\"Reset\",{}]" if method == "POST"
                                     else None, method=method)
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 429
    assert answer.value.headers["x-amzn-ErrorType"] == "LimitExceededException"
    assert json.loads(answer.value.read())["__type"] == "LimitExceededException"
    assert gateway.posted == []  # the post was withdrawn, not delivered late behind the caller's retry
