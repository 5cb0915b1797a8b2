"""Load and a reconnect storm on loopback (reduced size; the full-size command is in
docs/reliability.md): chargers connect at once and send MeterValues, all drop and reconnect within
seconds without a BootNotification; every message is answered and every reading stored."""

from __future__ import annotations

import asyncio
import base64
import json

from websockets.asyncio.client import connect

from csms_local.platform import LocalPlatform
from csms_local.tls import client_context

KEY = "storm-key-0123456789"
CHARGERS, READINGS = 40, 3


async def _session(platform, ssl, cp, start_reading, answered):
    auth = "Basic " + base64.b64encode(f"{cp}:{KEY}".encode()).decode()
    async with connect(f"{platform.url}/{cp}", ssl=ssl, subprotocols=["ocpp1.6"], open_timeout=60,
                       additional_headers={"Authorization": auth}, ping_interval=None) as ws:
        for i in range(READINGS):
            unique = f"{cp}-{start_reading + i}"
            await ws.send(json.dumps([2, unique, "MeterValues", {"connectorId": 1, "meterValue": [{
                "timestamp": f"2024-06-12T18:{start_reading + i:02d}:00Z",
                "sampledValue": [{"value": str(1000 + start_reading + i)}]}]}]))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame[0] == 2:  # the platform's questions after a boot-less reconnect: answer them
                    await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                    continue
                if frame[1] == unique:
                    assert frame == [3, unique, {}], frame
                    answered.append(unique)
                    break


def test_connect_load_then_everyone_reconnects_within_seconds(tmp_path):
    async def scenario():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, smart_every_s=None)
        await platform.start()
        try:
            from datetime import datetime, timezone

            from csms.ocpp.credentials import hash_key

            digest = hash_key(KEY)
            ids = [f"S{i:03d}" for i in range(CHARGERS)]
            for cp in ids:
                platform.runtime.chargers.register(cp, digest, datetime.now(timezone.utc))
            ssl = client_context(platform.ca_path)
            answered: list[str] = []
            await asyncio.gather(*[_session(platform, ssl, cp, 0, answered) for cp in ids])  # all at once
            await asyncio.gather(*[_session(platform, ssl, cp, READINGS, answered) for cp in ids])  # the storm
            stored = {cp: len(platform.runtime.meter.between(cp, 1, datetime(2024, 6, 12, tzinfo=timezone.utc), None))
                      for cp in ids}
            return answered, stored
        finally:
            await platform.stop()

    answered, stored = asyncio.run(asyncio.wait_for(scenario(), 300))
    assert len(answered) == len(set(answered)) == CHARGERS * READINGS * 2
    assert set(stored.values()) == {READINGS * 2}
