"""Local platform throughput: N chargers connect over wss (TLS, Basic auth) to ``csms local``'s
gateway on loopback, boot, then each sends MeterValues back to back; messages per second and
latency percentiles of the replies. The platform and the clients share this machine's cores, but
not a process: the chargers run in ``--client-processes`` processes of their own (2 by default),
as real chargers are other machines (``--client-processes 0``: in the platform's own process and
event loop, where their TLS, websockets and JSON work counted as the platform's latency).

    .venv/bin/python -m bench.bench_throughput [--chargers 100,1000] [--messages 20] [--interval 0]
                                               [--compare-ocpp] [--storm]

``--interval S``: each charger sends a MeterValues every S seconds instead of back to back (a
depot's real load: 1,000 chargers at the 60 s sample interval are 17 messages/s).

``--compare-ocpp`` runs the same client load, in the same run, against an anchor: the ``ocpp``
package's own ``ChargePoint`` as a central system over ``websockets`` with the same TLS on
loopback, answering from memory (no authorisation check, no storage, no set-up conversation).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from csms_local.platform import LocalPlatform
from csms_local.tls import client_context

KEY = "bench-key-0123456789"
ATTEMPTS = 30  # a charger retries a failed handshake for ever, backing off; the bench gives up after this
RETRIES: list[str] = []  # handshakes a charger had to retry (the gateway's 10 s handshake timeout under load)


async def _charger(platform, ssl, cp: str, messages: int, latencies: list[float], start: asyncio.Event,
                   gate: asyncio.Semaphore, booted: list[str], wave: int = 0, interval_s: float = 0.0):
    auth = "Basic " + base64.b64encode(f"{cp}:{KEY}".encode()).decode()
    # Handshakes in waves: each runs the authorizer's scrypt check (~30 ms of CPU); a thousand at
    # once would outlast the 10 s handshake timeout on two cores (a reconnect storm, not throughput).
    await gate.acquire()
    for attempt in range(ATTEMPTS):  # as a charger does: a refused or timed-out handshake is retried
        try:
            ws = await connect(f"{platform.url}/{cp}", ssl=ssl, subprotocols=["ocpp1.6"], open_timeout=120,
                               additional_headers={"Authorization": auth}, ping_interval=None)
            break
        except (OSError, EOFError, InvalidHandshake):
            RETRIES.append(cp)
            if attempt == ATTEMPTS - 1:
                gate.release()
                raise
            await asyncio.sleep(min(1 + attempt, 10))
        except BaseException:
            gate.release()
            raise
    async with ws:
        if wave == 0:  # a reconnect (wave 1) comes back without a BootNotification, as chargers do
            await ws.send(json.dumps([2, "b", "BootNotification", {"chargePointVendor": "B", "chargePointModel": "M"}]))
            await _reply(ws, "b")
        booted.append(cp)
        gate.release()
        await _until(ws, start)
        paced_from = time.perf_counter() + random.uniform(0, interval_s)  # chargers' clocks are not in step
        for i in range(messages):
            if interval_s:  # a reading every interval_s, as MeterValueSampleInterval asks (0: back to back)
                await _idle(ws, paced_from + i * interval_s)
            n = wave * messages + i  # a distinct reading each time: every one must be stored
            frame = [2, f"m{n}", "MeterValues", {"connectorId": 1, "meterValue": [{
                "timestamp": f"2024-06-12T18:{n // 60:02d}:{n % 60:02d}Z", "sampledValue": [{"value": str(1000 + n)}]}]}]
            began = time.perf_counter()
            await ws.send(json.dumps(frame))
            await _reply(ws, f"m{n}")
            latencies.append(time.perf_counter() - began)


async def _idle(ws, until: float) -> None:
    """Wait until ``until`` (perf_counter), answering the platform's calls meanwhile."""
    while (left := until - time.perf_counter()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except asyncio.TimeoutError:
            return
        if message[0] == 2:
            await ws.send(json.dumps([3, message[1], {"status": "Accepted"} if message[2] != "GetConfiguration" else {}]))


async def _until(ws, event: asyncio.Event) -> None:
    """Wait for ``event``, answering the platform's calls meanwhile: a charger reads its socket all
    the time. (Before, a booted charger did not read until the steady phase began, so the set-up
    calls the platform had sent it were all answered at once in the steady phase's first seconds:
    at 1,000 chargers that put the whole fleet's set-up conversation into the steady figures.)"""
    waiter = asyncio.ensure_future(event.wait())
    try:
        while True:
            recv = asyncio.ensure_future(ws.recv())
            await asyncio.wait({recv, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not recv.done():
                recv.cancel()  # websockets: cancelling recv() loses no data
                await asyncio.wait({recv})  # finished before the next recv() (one reader at a time)
            if recv.cancelled():
                return
            message = json.loads(recv.result())
            if message[0] == 2:
                await ws.send(json.dumps([3, message[1], {"status": "Accepted"} if message[2] != "GetConfiguration"
                                          else {}]))
            if event.is_set():
                return
    finally:
        waiter.cancel()


async def _reply(ws, unique_id):
    while True:
        message = json.loads(await ws.recv())
        if message[0] in (3, 4) and message[1] == unique_id:
            return message
        # a platform CALL (set-up): answer it so the queue moves on
        if message[0] == 2:
            await ws.send(json.dumps([3, message[1], {"status": "Accepted"} if message[2] != "GetConfiguration" else {}]))


class _Target:
    """What ``_charger`` needs of a central system: its wss URL."""

    def __init__(self, url: str):
        self.url = url


async def _fleet(target, ssl, ids: list[str], messages: int, interval_s: float, gate_size: int, report,
                 wait_for) -> None:
    """Drive ``ids`` through the three phases, telling ``report(kind, payload)`` what happened and
    waiting on ``wait_for()`` between phases: connect + boot ("booted", perf_counter when the last
    booted), "steady" (latencies), and, if the caller asks, a "storm" (all reconnect at once
    without booting: perf_counter when the last was back, latencies). ``perf_counter`` is
    CLOCK_MONOTONIC on Linux: the same clock in every process of the machine."""
    latencies: list[float] = []
    start = asyncio.Event()
    gate = asyncio.Semaphore(gate_size)
    booted: list[str] = []
    tasks = [asyncio.create_task(_charger(target, ssl, cp, messages, latencies, start, gate, booted,
                                          interval_s=interval_s)) for cp in ids]
    while len(booted) < len(ids):
        await asyncio.sleep(0.1)
        if any(t.done() and t.exception() for t in tasks):
            raise next(t.exception() for t in tasks if t.done() and t.exception())
    await report("booted", time.perf_counter())
    await wait_for()
    start.set()
    await asyncio.gather(*tasks)
    await report("steady", latencies)
    if not await wait_for():
        return
    reconnected: list[str] = []
    storm_latencies: list[float] = []
    go = asyncio.Event()
    go.set()
    back: list[float] = []

    async def watch() -> None:  # when the last charger is connected again
        while len(reconnected) < len(ids):
            await asyncio.sleep(0.05)
        back.append(time.perf_counter())

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*[_charger(target, ssl, cp, messages, storm_latencies, go, gate, reconnected, 1, interval_s)
                           for cp in ids])
    await watcher
    await report("storm", (back[0], storm_latencies))


def _client_process(conn, url: str, ca_path: str, ids: list[str], messages: int, interval_s: float,
                    gate_size: int) -> None:
    """A client process: its share of the chargers on its own event loop (``_fleet``), phases
    driven and results sent over ``conn``."""

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def report(kind, payload) -> None:
            conn.send((kind, payload, len(RETRIES)))

        async def wait_for():
            return await loop.run_in_executor(None, conn.recv)

        ssl = client_context(Path(ca_path))
        conn.send(("ready", None, 0))
        await wait_for()
        await _fleet(_Target(url), ssl, ids, messages, interval_s, gate_size, report, wait_for)

    asyncio.run(main())
    conn.close()


class _Clients:
    """The bench's chargers, either in this process's event loop (``processes=0``: they then share
    the central system's CPU and GIL) or in ``processes`` separate processes, as real chargers are
    other machines: the central system's process then does only the central system's work."""

    GATE = 25  # handshakes in flight at once, over all processes

    def __init__(self, url: str, ca_path, ids: list[str], messages: int, interval_s: float, processes: int):
        self.url, self.ca_path, self.ids = url, ca_path, ids
        self.messages, self.interval_s, self.processes = messages, interval_s, processes
        self.retries = 0
        self._conns: list = []
        self._procs: list = []
        self._local: asyncio.Task | None = None
        self._queue: asyncio.Queue = asyncio.Queue()
        self._go: asyncio.Queue = asyncio.Queue()

    async def connect(self) -> float:
        """Start the chargers; seconds until every one is connected and booted."""
        if self.processes:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")  # not fork: this process runs threads
            chunks = [self.ids[i::self.processes] for i in range(self.processes)]
            for chunk in chunks:
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_client_process, daemon=True,
                                   args=(child, self.url, str(self.ca_path), chunk, self.messages, self.interval_s,
                                         max(1, self.GATE // self.processes)))
                proc.start()
                self._conns.append(parent)
                self._procs.append(proc)
            await self._gather("ready")
            began = time.perf_counter()
            self._send(True)
        else:
            ssl = client_context(self.ca_path)

            async def report(kind, payload) -> None:
                await self._queue.put([(kind, payload, len(RETRIES))])

            began = time.perf_counter()
            self._local = asyncio.create_task(_fleet(_Target(self.url), ssl, self.ids, self.messages,
                                                     self.interval_s, self.GATE, report, self._go.get))
        booted = await self._gather("booted")
        return max(booted) - began

    async def steady(self) -> list[float]:
        """Every charger sends its MeterValues; their reply latencies (s)."""
        self._send(True)
        return [x for part in await self._gather("steady") for x in part]

    async def storm(self) -> tuple[float, list[float]]:
        """All drop and reconnect at once without booting, then send again: (perf_counter when the
        last was connected again, the latencies of the storm's messages)."""
        self._send(True)
        parts = await self._gather("storm")
        return max(p[0] for p in parts), [x for p in parts for x in p[1]]

    async def close(self) -> None:
        self._send(False)
        if self._local is not None:
            await asyncio.gather(self._local, return_exceptions=True)
        for proc in self._procs:
            await asyncio.to_thread(proc.join, 30)
            if proc.is_alive():
                proc.kill()

    def _send(self, value: bool) -> None:
        if self.processes:
            for conn in self._conns:
                if not conn.closed:
                    try:
                        conn.send(value)
                    except (BrokenPipeError, OSError):
                        pass
        else:
            self._go.put_nowait(value)

    async def _gather(self, kind: str) -> list:
        if self.processes:
            loop = asyncio.get_running_loop()
            messages = []
            for conn, proc in zip(self._conns, self._procs):
                while not await loop.run_in_executor(None, conn.poll, 1.0):
                    if not proc.is_alive():
                        raise RuntimeError(f"bench client process exited ({proc.exitcode}) before {kind}")
                messages.append(conn.recv())
        else:
            while True:
                done = asyncio.ensure_future(self._queue.get())
                await asyncio.wait({done, self._local}, return_when=asyncio.FIRST_COMPLETED)
                if done.done():
                    messages = done.result()
                    break
                done.cancel()
                self._local.result()  # raises what failed
                raise RuntimeError(f"bench chargers finished before {kind}")
        for got, _, _ in messages:
            if got != kind:
                raise RuntimeError(f"bench clients said {got}, expected {kind}")
        self.retries = sum(m[2] for m in messages)
        return [m[1] for m in messages]


async def run(chargers: int, messages: int, storm: bool = False, interval_s: float = 0.0, processes: int = 0) -> dict:
    """``processes``: client processes for the chargers (0: in this process, beside the platform)."""
    with tempfile.TemporaryDirectory() as state:
        platform = LocalPlatform(state_dir=Path(state), port=0, reset=True, smart_every_s=None)
        await platform.start()
        clients = None
        try:
            ids = [f"B{i:05d}" for i in range(chargers)]
            from csms.ocpp.credentials import hash_key

            digest = hash_key(KEY)  # one scrypt hash for all: registering is not what is measured
            from datetime import datetime, timezone

            for cp in ids:
                platform.runtime.chargers.register(cp, digest, datetime.now(timezone.utc))
            clients = _Clients(platform.url, platform.ca_path, ids, messages, interval_s, processes)
            connect_s = await clients.connect()
            await asyncio.sleep(1.0)  # the set-up calls after each boot are answered
            # Steady state: connections older than the 2-minute set-up window (which adds three
            # reads to each message of a new connection) without waiting two minutes.
            from datetime import timedelta

            import csms.ocpp.setup_policy

            window, csms.ocpp.setup_policy.SETUP_WINDOW = csms.ocpp.setup_policy.SETUP_WINDOW, timedelta(0)
            pids = [platform._dynamo._process.pid] if platform._dynamo and platform._dynamo._process else []
            cpu_before = _cpu_s(pids)
            meter = platform.runtime.meter  # adapters.dynamo.meter_batch.GroupCommitMeter: its writes
            writes_before, items_before = meter.batches, meter.items_written
            began = time.perf_counter()
            latencies = await clients.steady()
            elapsed = time.perf_counter() - began
            cpu_s = _cpu_s(pids) - cpu_before
            per_write = (meter.items_written - items_before) / max(1, meter.batches - writes_before)
            csms.ocpp.setup_policy.SETUP_WINDOW = window
            storm_result = {}
            if storm:
                # Everyone dropped (the sockets closed above); all come back at once without booting.
                began_storm = time.perf_counter()
                back_at, storm_latencies = await clients.storm()
                from datetime import datetime as dt, timezone as tz

                stored = [len(platform.runtime.meter.between(cp, 1, dt(2024, 6, 12, tzinfo=tz.utc), None)) for cp in ids]
                import resource

                storm_result = {"storm_readmitted_s": round(back_at - began_storm, 1),
                                "storm_s": round(time.perf_counter() - began_storm, 1),
                                "storm_answered": len(storm_latencies),
                                "readings_stored": sum(stored), "readings_sent": len(latencies) + len(storm_latencies),
                                "chargers_missing_readings": sum(1 for n in stored if n != 2 * messages),
                                "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                                "handshake_retries": clients.retries}
        finally:
            if clients is not None:
                await clients.close()
            await platform.stop()
    return {**_summary(chargers, latencies, connect_s, elapsed, cpu_s), "readings_per_write": round(per_write, 1),
            **storm_result}


class _OcppAnchor:
    """The ``ocpp`` package's in-memory central system (``ocpp.v16.ChargePoint`` per connection)
    on a TLS WebSocket server on loopback: what the protocol costs with nothing stored."""

    def __init__(self, state: Path):
        from csms_local import tls

        self.ca_path, cert, key = tls.ensure_certificates(state / "tls", ("127.0.0.1", "localhost"))
        self.ssl = tls.server_context(cert, key)
        self.readings = 0
        self._server = None
        self.url = ""

    async def start(self) -> "_OcppAnchor":
        from ocpp.routing import on
        from ocpp.v16 import ChargePoint, call_result
        from websockets.asyncio.server import serve

        anchor = self

        class Central(ChargePoint):
            @on("BootNotification")
            def boot(self, **kw):
                return call_result.BootNotification(current_time="2024-06-12T18:00:00Z", interval=300,
                                                    status="Accepted")

            @on("MeterValues")
            def meter(self, connector_id, meter_value, **kw):
                anchor.readings += len(meter_value)
                return call_result.MeterValues()

        async def handler(ws):
            try:
                await Central(ws.request.path.rsplit("/", 1)[-1], ws).start()
            except ConnectionClosed:
                pass

        self._server = await serve(handler, "127.0.0.1", 0, ssl=self.ssl, subprotocols=["ocpp1.6"])
        self.url = f"wss://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/ocpp"
        return self

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()


async def run_ocpp(chargers: int, messages: int, interval_s: float = 0.0, processes: int = 0) -> dict:
    """The same client load against :class:`_OcppAnchor`."""
    with tempfile.TemporaryDirectory() as state:
        anchor = await _OcppAnchor(Path(state)).start()
        clients = None
        try:
            clients = _Clients(anchor.url, anchor.ca_path, [f"B{i:05d}" for i in range(chargers)], messages,
                               interval_s, processes)
            connect_s = await clients.connect()
            cpu_before = _cpu_s([])
            began = time.perf_counter()
            latencies = await clients.steady()
            elapsed = time.perf_counter() - began
            cpu_s = _cpu_s([]) - cpu_before
            assert anchor.readings == len(latencies), (anchor.readings, len(latencies))
        finally:
            if clients is not None:
                await clients.close()
            await anchor.stop()
    return _summary(chargers, latencies, connect_s, elapsed, cpu_s)


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds used so far by this process (the gateway and handlers; the chargers too with
    ``--client-processes 0``) and ``pids`` (the embedded DynamoDB): a figure the other loads of a
    shared machine do not inflate much."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _summary(chargers: int, latencies: list[float], connect_s: float, elapsed: float, cpu_s: float) -> dict:
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"chargers": chargers, "messages": len(latencies), "connect_and_boot_s": round(connect_s, 1),
            "msgs_per_s": round(len(latencies) / elapsed, 1), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(pick(0.95), 1), "p99_ms": round(pick(0.99), 1),
            "cpu_ms_per_msg": round(cpu_s * 1000 / max(1, len(latencies)), 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", default="100,1000")
    parser.add_argument("--messages", type=int, default=10, help="MeterValues per charger")
    parser.add_argument("--storm", action="store_true",
                        help="then all reconnect at once without booting, send again, and check every reading is stored")
    parser.add_argument("--interval", type=float, default=0.0,
                        help="seconds between a charger's MeterValues (0: back to back, the throughput limit)")
    parser.add_argument("--compare-ocpp", action="store_true",
                        help="also run the same load against the ocpp package's in-memory central system")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="processes running the chargers (0: in the central system's own process and event loop, "
                             "as before: the load generator's CPU then counts as the platform's latency)")
    args = parser.parse_args(argv)
    print("| central system | chargers | MeterValues | connect + boot s | messages/s | p50 ms | p95 ms | p99 ms "
          "| CPU ms / message | readings / meter write |\n|---|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.chargers.split(",")]:
        runs = [("csms local", run(n, args.messages, args.storm, args.interval, args.client_processes))]
        if args.compare_ocpp:
            runs.append(("ocpp ChargePoint, in memory", run_ocpp(n, args.messages, args.interval,
                                                                 args.client_processes)))
        for name, bench in runs:
            r = asyncio.run(bench)
            print(f"| {name} | {r['chargers']} | {r['messages']} | {r['connect_and_boot_s']} | {r['msgs_per_s']} | "
                  f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['cpu_ms_per_msg']} | {r.get('readings_per_write', '-')} |",
                  flush=True)
            if args.storm and name == "csms local":
                print(json.dumps({k: v for k, v in r.items() if k.startswith(("storm", "readings", "chargers_missing", "max_rss",
                                                                               "handshake"))}),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
