"""The local platform under attack from the same network (issue 21)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from websockets.exceptions import InvalidStatus

from csms.ocpp import lockout
from csms_local.platform import LocalPlatform
from tests.e2e.helpers import call, open_charger
from tests.e2e.test_cli import csms

KEY = "0123456789abcdef0123"
ATTACKER = "127.0.0.2"  # another address on loopback: another source, as another machine would be


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


async def _refused(platform, password, local_addr=None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with open_charger(platform, "CP001", password, local_addr=local_addr):
            pass
    return refused.value.response.status_code


def test_the_real_charger_connects_while_an_attacker_is_refused(tmp_path):
    async def body():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, api_port=None, smart_every_s=None)
        await platform.start()
        try:
            platform.add_charger("CP001", KEY)
            # The attacker's wrong keys, from its own address, until it is being refused (more than
            # the ten that used to lock the charger itself out)
            for i in range(12):
                assert await _refused(platform, f"guess-{i:014d}", (ATTACKER, 0)) == 401
            seen = lockout.charger_failures(platform.runtime.failures, "CP001", datetime.now(timezone.utc))
            assert seen["failures"] >= lockout.PAIR_FREE and seen["last_source"] == ATTACKER
            # The operator sees it: per charger and per source (csms charger failures)
            state = str(tmp_path / "state")
            shown = await asyncio.to_thread(csms, "charger", "failures", "CP001", "--state-dir", state)
            assert shown.returncode == 0 and f"from {ATTACKER}" in shown.stdout, shown.stderr
            shown = await asyncio.to_thread(csms, "charger", "failures", "--source", ATTACKER, "--state-dir", state)
            assert shown.returncode == 0, shown.stderr
            assert int(shown.stdout.split(f"{ATTACKER}: ")[1].split()[0]) >= lockout.PAIR_FREE
            # The real charger, from its address, connects and boots meanwhile
            async with open_charger(platform, "CP001", KEY) as ws:
                reply = await call(ws, "b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
                assert reply[0] == 3 and reply[2]["status"] == "Accepted"
                # and the attacker is still being refused while it is online
                assert await _refused(platform, f"guess-{99:014d}", (ATTACKER, 0)) == 401
        finally:
            await platform.stop()

    run(body())


def _port_open(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_only_ocpp_and_https_follow_host_the_database_and_management_api_stay_on_loopback(tmp_path):
    from urllib.parse import urlsplit

    async def body():
        # 127.0.0.2 stands for the machine's network address (tests never listen beyond loopback)
        platform = LocalPlatform(state_dir=tmp_path / "state", host="127.0.0.2", port=0, smart_every_s=None)
        await platform.start()
        try:
            dynamo, mgmt = urlsplit(platform.dynamodb_endpoint), urlsplit(platform.mgmt_endpoint)
            assert dynamo.hostname == mgmt.hostname == "127.0.0.1"
            assert _port_open("127.0.0.1", dynamo.port) and _port_open("127.0.0.1", mgmt.port)
            assert not _port_open("127.0.0.2", dynamo.port) and not _port_open("127.0.0.2", mgmt.port)
            # the charger port and the HTTPS API do follow --host
            assert urlsplit(platform.url).hostname == urlsplit(platform.api_url).hostname == "127.0.0.2"
            assert _port_open("127.0.0.2", urlsplit(platform.api_url).port)
            platform.add_charger("CP001", KEY)
            async with open_charger(platform, "CP001", KEY) as ws:
                reply = await call(ws, "h1", "Heartbeat", {})
                assert reply[0] == 3
        finally:
            await platform.stop()

    run(body())


def test_state_files_are_0600_and_directories_0700(tmp_path):
    import stat

    from csms_local.http_api import add_token

    state = tmp_path / "state"

    async def body():
        platform = LocalPlatform(state_dir=state, port=0, smart_every_s=None)
        await platform.start()
        try:
            platform.add_charger("CP001", KEY)
            add_token(state, "alice", False)  # the store journals every write before answering: on disk now
            return sorted(p.name for p in state.rglob("*"))
        finally:
            await platform.stop()

    names = run(body())
    assert {"api-tokens.json", "server-key.pem", "ca-key.pem", "lock"} <= set(names)
    assert any(name.startswith("dynamodb.journal.") for name in names)  # the tables, with the hashes
    for path in [state, *state.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_a_second_platform_on_the_same_state_dir_refuses_with_one_line(tmp_path):
    from csms_local.private import StateDirBusy

    state = tmp_path / "state"

    async def body():
        platform = LocalPlatform(state_dir=state, port=0, api_port=None, smart_every_s=None)
        await platform.start()
        try:
            with pytest.raises(StateDirBusy, match="in use by csms local"):
                await LocalPlatform(state_dir=state, port=0, api_port=None, smart_every_s=None).start()
            second = await asyncio.to_thread(csms, "local", "--state-dir", str(state), "--port", "0", "--api-port", "0")
            offline_add = await asyncio.to_thread(csms, "charger", "add", "CP9", "--state-dir", str(state))
            return second, offline_add
        finally:
            await platform.stop()

    second, offline_add = run(body())
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr.count("\n") == 1 and "in use by csms local (pid" in second.stderr, second.stderr
    # a running platform's state is changed through it, never behind its back (offline add
    # finds endpoint.json and goes through the running platform's DynamoDB)
    assert offline_add.returncode == 0, offline_add.stderr

    async def again():  # after it stops, the directory is free again, with what was added meanwhile
        async with LocalPlatform(state_dir=state, port=0, api_port=None, smart_every_s=None) as platform:
            return platform.runtime.chargers.get("CP9")

    assert run(again()) is not None


def test_after_a_rotation_no_key_is_in_clear_in_the_state_dir_and_the_charger_switches(tmp_path):
    import json

    from adapters.wiring import build_operations
    from csms.operations import Principal

    state = tmp_path / "state"

    def scan() -> str:  # every byte of every file in the state dir
        return "".join(p.read_bytes().decode("latin-1") for p in state.rglob("*") if p.is_file())

    async def body():
        platform = LocalPlatform(state_dir=state, port=0, smart_every_s=None)
        await platform.start()
        try:
            platform.add_charger("CP001", KEY)
            ops = build_operations(platform.runtime)
            rotation = await asyncio.to_thread(ops.rotate_key, Principal("op", operator=True), "CP001")
            new = rotation["authorization_key"]
            assert rotation["status"] == "queued"  # journaled before this answer: the files hold the queued call
            assert new not in scan() and "sealed:local:" in scan()
            async with open_charger(platform, "CP001", KEY) as ws:  # the old key, while queued
                await ws.send(json.dumps([2, "h1", "Heartbeat", {}]))  # the queued call follows it
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                while frame[0] != 2:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert frame[2] == "ChangeConfiguration" and frame[3] == {"key": "AuthorizationKey", "value": new}
                # MicroOcpp's answer: the key applies after a reboot
                await ws.send(json.dumps([3, frame[1], {"status": "RebootRequired"}]))
                await asyncio.sleep(0.5)
            assert new not in scan()
            async with open_charger(platform, "CP001", new) as ws:  # after its reboot
                reply = await call(ws, "b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
                assert reply[2]["status"] == "Accepted"
            assert await _refused(platform, KEY) == 401  # the old key is retired
            assert new not in scan() and KEY not in scan()
        finally:
            await platform.stop()

    run(body())


def test_local_api_tokens_expire_and_csms_token_revoke_takes_effect_at_once(tmp_path):
    import ssl
    import urllib.error
    import urllib.request

    from csms_local.http_api import add_token

    state = tmp_path / "state"

    def status(platform, token) -> int:
        context = ssl.create_default_context(cafile=str(platform.ca_path))
        request = urllib.request.Request(platform.api_url + "/v1/me", headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    async def body():
        platform = LocalPlatform(state_dir=state, port=0, smart_every_s=None)
        await platform.start()
        try:
            made = await asyncio.to_thread(csms, "token", "alice", "--days", "1", "--state-dir", str(state))
            alice = made.stdout.strip()
            expired = add_token(state, "bob", False, expires_in_s=-1)
            assert await asyncio.to_thread(status, platform, alice) == 200
            assert await asyncio.to_thread(status, platform, expired) == 401
            revoked = await asyncio.to_thread(csms, "token", "--revoke", alice, "--state-dir", str(state))
            assert revoked.returncode == 0, revoked.stderr
            assert await asyncio.to_thread(status, platform, alice) == 401  # the running platform
            again = await asyncio.to_thread(csms, "token", "--revoke", alice, "--state-dir", str(state))
            assert again.returncode == 2 and again.stderr.strip() == "error: no such token"
        finally:
            await platform.stop()

    run(body())
