"""The local platform over real wss: handshake refusals, OCPP frames, limits, management API, restarts."""

from __future__ import annotations

import asyncio
import json

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from csms_local.platform import LocalPlatform
from tests.e2e.helpers import call, open_charger, running_in_a_thread

KEY = "0123456789abcdef0123"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """One platform (with CP001) for the tests that need nothing of their own, its event loop in a
    thread. Restarts and another store start their own."""
    with running_in_a_thread(LocalPlatform(state_dir=tmp_path_factory.mktemp("gateway") / "state", port=0)) as local:
        local.add_charger("CP001", KEY)
        yield local


async def _with_platform(tmp_path, body, **kwargs):
    platform = LocalPlatform(state_dir=tmp_path / "state", port=0, **kwargs)
    await platform.start()
    try:
        platform.add_charger("CP001", KEY)
        return await body(platform)
    finally:
        await platform.stop()


# Tests with a platform of their own come first: the module's shared platform starts at its first use, and two
# platforms in one process would share the table models' binding (adapters.dynamo.models.bind).
def test_state_survives_a_restart_and_reset_empties_it(tmp_path):
    async def first(platform):
        return True

    run(_with_platform(tmp_path, first))

    async def second(platform):
        return platform.runtime.chargers.get("CP001") is not None

    async def restart(tmp_path, reset):
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, reset=reset)
        await platform.start()
        try:
            return platform.runtime.chargers.get("CP001") is not None
        finally:
            await platform.stop()

    assert run(restart(tmp_path, reset=False)) is True
    assert run(restart(tmp_path, reset=True)) is False


def test_dynamodb_endpoint_points_the_platform_at_another_store(tmp_path, monkeypatch):
    """DYNAMODB_ENDPOINT replaces the embedded store: the platform's tables and items live there
    (here another journaled server), and the state dir holds no DynamoDB of its own."""
    from csms_local.dynamodb import EmbeddedDynamo

    other = EmbeddedDynamo(state_dir=tmp_path / "other")
    other.start()
    try:
        monkeypatch.setenv("DYNAMODB_ENDPOINT", other.endpoint)

        async def body(platform):
            assert platform.dynamodb_endpoint == other.endpoint
            return platform.settings.chargers_table

        table = asyncio.run(asyncio.wait_for(_with_platform(tmp_path, body, smart_every_s=None, api_port=None), 120))
        client = boto3.client("dynamodb", endpoint_url=other.endpoint, region_name="eu-west-2")
        item = client.get_item(TableName=table, Key={"charge_point_id": {"S": "CP001"}})
        assert "Item" in item
    finally:
        other.stop()
    assert not list((tmp_path / "state").glob("dynamodb*"))
    assert list((tmp_path / "other").glob("dynamodb.snapshot"))


def test_boot_over_wss_with_basic_auth(platform):
    async def body(platform):
        async with open_charger(platform, "CP001", KEY) as ws:
            assert ws.subprotocol == "ocpp1.6"
            reply = await call(ws, "b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
            assert reply[0] == 3 and reply[2]["status"] == "Accepted"
        return platform.runtime.chargers.get("CP001")

    view = run(body(platform))
    assert view.boot.vendor == "Acme"


@pytest.mark.parametrize("user, password, path_id, protocols, status", [
    ("CP001", "wrong-key-000000000", "CP001", ("ocpp1.6",), 401),
    ("CP001", KEY, "CP002", ("ocpp1.6",), 401),
    ("CP404", KEY, "CP404", ("ocpp1.6",), 401),
    ("CP001", KEY, "CP001", ("ocpp2.0.1",), 400),
])
def test_refused_handshakes(platform, user, password, path_id, protocols, status):
    async def body(platform):
        from csms_local.tls import client_context
        from tests.e2e.helpers import auth_header
        from websockets.asyncio.client import connect

        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{platform.url}/{path_id}", ssl=client_context(platform.ca_path),
                               subprotocols=list(protocols), additional_headers=auth_header(user, password)):
                pass
        return refused.value.response.status_code

    assert run(body(platform)) == status


def test_no_authorization_header_is_refused(platform):
    async def body(platform):
        from websockets.asyncio.client import connect

        from csms_local.tls import client_context

        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{platform.url}/CP001", ssl=client_context(platform.ca_path), subprotocols=["ocpp1.6"]):
                pass
        return refused.value.response.status_code

    assert run(body(platform)) == 401


def test_plain_ws_is_refused_when_tls_is_on(platform):
    async def body(platform):
        from websockets.asyncio.client import connect

        url = platform.url.replace("wss://", "ws://") + "/CP001"
        with pytest.raises(Exception):
            async with connect(url, subprotocols=["ocpp1.6"], open_timeout=5):
                pass
        return True

    assert run(body(platform))


def test_oversized_frame_closes_with_1009_and_management_api_posts_then_410(platform):
    async def body(platform):
        client = boto3.client("apigatewaymanagementapi", endpoint_url=platform.mgmt_endpoint, region_name="eu-west-2")
        before = set(platform._gateway.connections)  # the module's earlier chargers may still be closing
        async with open_charger(platform, "CP001", KEY) as ws:
            # the gateway lists a connection once it serves it, just after the handshake's 101
            while not (opened := set(platform._gateway.connections) - before):
                await asyncio.sleep(0.05)
            (connection_id,) = opened
            await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b'[2,"x","Reset",{}]')
            assert json.loads(await ws.recv()) == [2, "x", "Reset", {}]
            info = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
            assert info["Identity"]["SourceIp"] == "127.0.0.1"
            await ws.send("[" + " " * (33 * 1024) + "]")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            code = closed.value.rcvd.code if closed.value.rcvd else None
        await asyncio.sleep(0.2)
        with pytest.raises(client.exceptions.GoneException):
            await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"[]")
        return code

    assert run(body(platform)) == 1009
