"""Local platform throughput: N chargers connect over wss (TLS, Basic auth) to ``csms local``'s
gateway on loopback, boot, then each sends MeterValues back to back; messages per second and
latency percentiles of the replies. The platform and the clients share this machine's cores.

    .venv/bin/python -m bench.bench_throughput [--chargers 100,1000] [--messages 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake

from csms_local.platform import LocalPlatform
from csms_local.tls import client_context

KEY = "bench-key-0123456789"
RETRIES: list[str] = []  # handshakes a charger had to retry (the gateway's 10 s handshake timeout under load)


async def _charger(platform, ssl, cp: str, messages: int, latencies: list[float], start: asyncio.Event,
                   gate: asyncio.Semaphore, booted: list[str], wave: int = 0):
    auth = "Basic " + base64.b64encode(f"{cp}:{KEY}".encode()).decode()
    # Handshakes in waves: each runs the authorizer's scrypt check (~30 ms of CPU); a thousand at
    # once would outlast the 10 s handshake timeout on two cores (a reconnect storm, not throughput).
    await gate.acquire()
    for attempt in range(6):  # as a charger does: a refused or timed-out handshake is retried
        try:
            ws = await connect(f"{platform.url}/{cp}", ssl=ssl, subprotocols=["ocpp1.6"], open_timeout=120,
                               additional_headers={"Authorization": auth}, ping_interval=None)
            break
        except (OSError, EOFError, InvalidHandshake):
            RETRIES.append(cp)
            if attempt == 5:
                gate.release()
                raise
            await asyncio.sleep(1 + attempt)
        except BaseException:
            gate.release()
            raise
    async with ws:
        if wave == 0:  # a reconnect (wave 1) comes back without a BootNotification, as chargers do
            await ws.send(json.dumps([2, "b", "BootNotification", {"chargePointVendor": "B", "chargePointModel": "M"}]))
            await _reply(ws, "b")
        booted.append(cp)
        gate.release()
        await start.wait()
        for i in range(messages):
            n = wave * messages + i  # a distinct reading each time: every one must be stored
            frame = [2, f"m{n}", "MeterValues", {"connectorId": 1, "meterValue": [{
                "timestamp": f"2024-06-12T18:{n // 60:02d}:{n % 60:02d}Z", "sampledValue": [{"value": str(1000 + n)}]}]}]
            began = time.perf_counter()
            await ws.send(json.dumps(frame))
            await _reply(ws, f"m{n}")
            latencies.append(time.perf_counter() - began)


async def _reply(ws, unique_id):
    while True:
        message = json.loads(await ws.recv())
        if message[0] in (3, 4) and message[1] == unique_id:
            return message
        # a platform CALL (set-up): answer it so the queue moves on
        if message[0] == 2:
            await ws.send(json.dumps([3, message[1], {"status": "Accepted"} if message[2] != "GetConfiguration" else {}]))


async def run(chargers: int, messages: int, storm: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as state:
        platform = LocalPlatform(state_dir=Path(state), port=0, reset=True, smart_every_s=None)
        await platform.start()
        try:
            ids = [f"B{i:05d}" for i in range(chargers)]
            from csms.ocpp.credentials import hash_key

            digest = hash_key(KEY)  # one scrypt hash for all: registering is not what is measured
            from datetime import datetime, timezone

            for cp in ids:
                platform.runtime.chargers.register(cp, digest, datetime.now(timezone.utc))
            ssl = client_context(platform.ca_path)
            latencies: list[float] = []
            start = asyncio.Event()
            connected_at = time.perf_counter()
            gate = asyncio.Semaphore(25)
            booted: list[str] = []
            tasks = [asyncio.create_task(_charger(platform, ssl, cp, messages, latencies, start, gate, booted))
                     for cp in ids]
            while len(booted) < chargers:
                await asyncio.sleep(0.5)
                if any(t.done() and t.exception() for t in tasks):
                    raise next(t.exception() for t in tasks if t.done() and t.exception())
            connect_s = time.perf_counter() - connected_at
            await asyncio.sleep(1.0)  # the set-up calls after each boot are answered
            # Steady state: connections older than the 2-minute set-up window (which adds three
            # reads to each message of a new connection) without waiting two minutes.
            from datetime import timedelta

            import csms.ocpp.setup_policy

            window, csms.ocpp.setup_policy.SETUP_WINDOW = csms.ocpp.setup_policy.SETUP_WINDOW, timedelta(0)
            began = time.perf_counter()
            start.set()
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - began
            csms.ocpp.setup_policy.SETUP_WINDOW = window
            storm_result = {}
            if storm:
                # Everyone dropped (the sockets closed above); all come back at once without booting.
                reconnected: list[str] = []
                storm_latencies: list[float] = []
                go = asyncio.Event()
                go.set()
                began_storm = time.perf_counter()
                await asyncio.gather(*[_charger(platform, ssl, cp, messages, storm_latencies, go, gate, reconnected, 1)
                                       for cp in ids])
                from datetime import datetime as dt, timezone as tz

                stored = [len(platform.runtime.meter.between(cp, 1, dt(2024, 6, 12, tzinfo=tz.utc), None)) for cp in ids]
                import resource

                storm_result = {"storm_s": round(time.perf_counter() - began_storm, 1),
                                "storm_answered": len(storm_latencies),
                                "readings_stored": sum(stored), "readings_sent": len(latencies) + len(storm_latencies),
                                "chargers_missing_readings": sum(1 for n in stored if n != 2 * messages),
                                "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                                "handshake_retries": len(RETRIES)}
        finally:
            await platform.stop()
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"chargers": chargers, "messages": len(latencies), "connect_and_boot_s": round(connect_s, 1),
            "msgs_per_s": round(len(latencies) / elapsed, 1), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(pick(0.95), 1), "p99_ms": round(pick(0.99), 1), **storm_result}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", default="100,1000")
    parser.add_argument("--messages", type=int, default=10, help="MeterValues per charger")
    parser.add_argument("--storm", action="store_true",
                        help="then all reconnect at once without booting, send again, and check every reading is stored")
    args = parser.parse_args(argv)
    print("| chargers | MeterValues | connect + boot s | messages/s | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.chargers.split(",")]:
        r = asyncio.run(run(n, args.messages, args.storm))
        print(f"| {r['chargers']} | {r['messages']} | {r['connect_and_boot_s']} | {r['msgs_per_s']} | {r['p50_ms']} | "
              f"{r['p95_ms']} | {r['p99_ms']} |", flush=True)
        if args.storm:
            print(json.dumps({k: v for k, v in r.items() if k.startswith(("storm", "readings", "chargers_missing", "max_rss",
                                                                           "handshake"))}),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
