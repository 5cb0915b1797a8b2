"""The local platform under attack from the same network (issue 21)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from websockets.exceptions import InvalidStatus

from csms import lockout
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
