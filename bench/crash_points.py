"""Crash test of ``csms local``: a charger runs sessions over wss while every process of the
platform (``csms local`` and its embedded DynamoDB) is killed with SIGKILL at chosen points, then
restarted on the same state dir. Afterwards every acknowledged message must be stored (session,
meter readings, stop and energy), no transaction id may be given twice, and each new transaction
must get a new id.

    .venv/bin/python -m bench.crash_points [--sessions 4] [--in-flight]

Kill points: after the answer to every StartTransaction, MeterValues and StopTransaction of every
session (6 per session). ``--in-flight`` adds a kill while a message is in flight (sent, answer
not read): the charger resends it after the restart, as chargers do, and it must be stored once.
``tests/e2e/test_crash.py`` runs three of these points in ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHARGER = "CRASH-1"
METER_VALUES = 4
STEPS = ["start", *(f"meter{i}" for i in range(1, METER_VALUES + 1)), "stop"]


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class PlatformProcess:
    """``csms local`` as a user runs it: a separate process (with its DynamoDB child)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.ca = ""
        self.starts = 0
        self.start_s: list[float] = []

    def start(self) -> None:
        began = time.monotonic()
        log = open(self.state_dir.parent / f"platform-{self.starts}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "csms_local.cli", "local", "--port", "0", "--api-port", "0",
             "--state-dir", str(self.state_dir)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
            start_new_session=True)
        log.close()
        for line in self.proc.stdout:
            if match := re.search(r"listening: (\S+)/<chargePointId>", line):
                self.url = match.group(1)
            if match := re.search(r"CA certificate \(trust this on the charger\): (\S+)", line):
                self.ca = match.group(1)
            if line.startswith("Ctrl-C to stop."):
                break
        else:
            raise RuntimeError(f"csms local did not start (exit {self.proc.wait()}): see {log.name}")
        self.starts += 1
        self.start_s.append(time.monotonic() - began)

    def kill(self) -> None:
        """SIGKILL every process of the platform at once: a crash or a power cut."""
        pids = [self.proc.pid, *_children(self.proc.pid)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        for pid in pids[1:]:  # not our children: wait until they are gone
            while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
                time.sleep(0.01)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=180)
        if self.proc.returncode != 0 or "state saved" not in out:
            raise RuntimeError(f"csms local did not stop cleanly: {self.proc.returncode} {out[-500:]}")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except (OSError, IndexError):
        return "zombie"


def register_charger(state_dir: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "csms_local.cli", "charger", "add", CHARGER, "--state-dir",
                          str(state_dir)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
    return re.search(r"AuthorizationKey: (\S+)", out).group(1)


@dataclass
class Acknowledged:
    """What the platform answered, per session: the transaction id and what the charger sent."""

    transaction_id: int | None = None
    meter_start: int = 0
    meter_stop: int | None = None
    readings: dict[str, int] = field(default_factory=dict)  # ISO timestamp -> Wh


class Charger:
    """One charger over wss that runs scripted sessions, reconnecting (without a new
    BootNotification) whenever the platform went away, and resending what was not answered."""

    def __init__(self, platform: PlatformProcess, key: str):
        self.platform, self.key = platform, key
        self.ws = None
        self.booted = False
        self.ids = 0

    async def connect(self) -> None:
        from csms_local.tls import client_context
        from tests.e2e.helpers import auth_header
        from websockets.asyncio.client import connect

        self.ws = await connect(f"{self.platform.url}/{CHARGER}", ssl=client_context(Path(self.platform.ca)),
                                subprotocols=["ocpp1.6"], additional_headers=auth_header(CHARGER, self.key),
                                open_timeout=60, ping_interval=None)
        if not self.booted:
            await self.call("BootNotification", {"chargePointVendor": "Crash", "chargePointModel": "Test"})
            self.booted = True

    async def send(self, action: str, payload: dict) -> str:
        self.ids += 1
        unique_id = f"c{self.ids}"
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        return unique_id

    async def answer(self, unique_id: str) -> list:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if message[0] in (3, 4) and message[1] == unique_id:
                return message
            if message[0] == 2:  # the platform's set-up calls and profiles: accepted
                reply = {} if message[2] == "GetConfiguration" else {"status": "Accepted"}
                await self.ws.send(json.dumps([3, message[1], reply]))

    async def call(self, action: str, payload: dict) -> dict:
        reply = await self.answer(await self.send(action, payload))
        if reply[0] != 3:
            raise AssertionError(f"{action} answered {reply}")
        return reply[2]

    async def reliable_call(self, action: str, payload: dict) -> dict:
        """Send until answered (a transaction message is kept and resent by a real charger)."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                if self.ws is None:
                    await self.connect()
                return await self.call(action, payload)
            except (ConnectionClosed, OSError, asyncio.TimeoutError):
                self.ws = None
                await asyncio.sleep(0.2)


async def run_sessions(state_dir: Path, sessions: int, kill_points: set[tuple[int, str]],
                       in_flight: set[tuple[int, str]] = frozenset()) -> dict:
    """Run ``sessions`` charging sessions; kill and restart the platform after the answer of each
    (session, step) in ``kill_points`` and while each one in ``in_flight`` is on the wire."""
    platform = PlatformProcess(state_dir)
    platform.start()  # first: the CLI registers into a platform's state, never a new one (csms_local.state)
    key = register_charger(state_dir)
    charger = Charger(platform, key)
    acknowledged: list[Acknowledged] = []
    kills = 0
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=sessions + 1)

    async def crash() -> None:
        nonlocal kills
        await asyncio.to_thread(platform.kill)
        kills += 1
        charger.ws = None
        await asyncio.to_thread(platform.start)

    for n in range(sessions):
        ack = Acknowledged(meter_start=100_000 * n + 1_000)
        acknowledged.append(ack)
        t0 = base + timedelta(hours=n)
        for step in STEPS:
            if step == "start":
                action, payload = "StartTransaction", {"connectorId": 1, "idTag": "TAG1", "meterStart": ack.meter_start,
                                                        "timestamp": t0.isoformat().replace("+00:00", "Z")}
            elif step == "stop":
                ack_stop = ack.meter_start + 7_000 * METER_VALUES + 500
                action, payload = "StopTransaction", {"transactionId": ack.transaction_id, "meterStop": ack_stop,
                                                       "idTag": "TAG1", "reason": "Local", "timestamp": (
                                                           t0 + timedelta(minutes=5 * METER_VALUES + 1)).isoformat()
                                                       .replace("+00:00", "Z")}
            else:
                i = int(step[5:])
                at = (t0 + timedelta(minutes=5 * i)).isoformat().replace("+00:00", "Z")
                wh = ack.meter_start + 7_000 * i
                action, payload = "MeterValues", {"connectorId": 1, "transactionId": ack.transaction_id, "meterValue": [
                    {"timestamp": at, "sampledValue": [
                        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                        {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"}]}]}
            if (n, step) in in_flight:
                if charger.ws is None:
                    await charger.connect()
                await charger.send(action, payload)  # no answer read: it may or may not be stored
                await asyncio.sleep(random.uniform(0, 0.05))  # somewhere in its handling
                await crash()
            reply = await charger.reliable_call(action, payload)
            if step == "start":
                ack.transaction_id = int(reply["transactionId"])
            elif step == "stop":
                ack.meter_stop = payload["meterStop"]
            else:
                ack.readings[payload["meterValue"][0]["timestamp"]] = wh
            if (n, step) in kill_points:
                await crash()
    if charger.ws is not None:
        await charger.ws.close()
    platform.stop()
    return {"acknowledged": acknowledged, "kills": kills, "start_s": platform.start_s}


async def check(state_dir: Path, acknowledged: list[Acknowledged]) -> dict:
    """Open the state dir again and compare it with what was acknowledged."""
    from csms_local.platform import LocalPlatform

    platform = LocalPlatform(state_dir=state_dir, port=0, smart_every_s=None, api_port=None)
    await platform.start()
    try:
        rt = platform.runtime
        lost: list[str] = []
        ids = [a.transaction_id for a in acknowledged]
        for a in acknowledged:
            session = await asyncio.to_thread(rt.sessions.get, CHARGER, a.transaction_id)
            if session is None:
                lost.append(f"session {a.transaction_id}")
                continue
            if session.meter_start_wh != a.meter_start:
                lost.append(f"meterStart of {a.transaction_id}")
            if a.meter_stop is not None and (session.active or session.meter_stop_wh != a.meter_stop
                                             or session.energy_wh != a.meter_stop - a.meter_start):
                lost.append(f"stop of {a.transaction_id}: {session}")
            samples = await asyncio.to_thread(rt.meter.for_transaction, CHARGER, 1, a.transaction_id)
            stored = {s.timestamp.isoformat().replace("+00:00", "Z"): s.energy_wh for s in samples if s.source == "mv"}
            for at, wh in a.readings.items():
                if stored.get(at) != wh:
                    lost.append(f"reading {at} of {a.transaction_id}")
            extra = len(samples) - len({(s.timestamp, s.source) for s in samples})
            if extra:
                lost.append(f"{extra} duplicate samples in {a.transaction_id}")
        every = await asyncio.to_thread(rt.sessions.list, CHARGER)
        return {"lost": lost, "reused_ids": len(ids) - len(set(ids)),
                "ids_increasing": ids == sorted(ids), "sessions_stored": len(every),
                "acknowledged_messages": sum(2 + len(a.readings) for a in acknowledged)}
    finally:
        await platform.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--in-flight", action="store_true", help="also kill while a message is on the wire")
    args = parser.parse_args(argv)
    points = {(n, step) for n in range(args.sessions) for step in STEPS}
    in_flight = {(n, step) for n in range(args.sessions) for step in ("meter2", "stop")} if args.in_flight else set()
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        run = asyncio.run(run_sessions(state, args.sessions, points, in_flight))
        result = asyncio.run(check(state, run["acknowledged"]))
    starts = run["start_s"]
    print(json.dumps({"kill_points": run["kills"], "sessions": args.sessions, **result,
                      "transaction_ids": [a.transaction_id for a in run["acknowledged"]],
                      "platform_start_s_median": round(sorted(starts)[len(starts) // 2], 1),
                      "total_s": round(time.monotonic() - began, 1)}))
    return 0 if not result["lost"] and not result["reused_ids"] and result["ids_increasing"] else 1


if __name__ == "__main__":
    sys.exit(main())
