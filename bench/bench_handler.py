"""Handler CPU per message (warm, storage excluded by the in-memory adapters), side by side
with the ``ocpp`` package's own ``ChargePoint.route_message`` on the same frames; and the
import time of each Lambda handler module (cold start).

    .venv/bin/python -m bench.bench_handler [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

from csms.ocpp.v16.central import CentralSystem
from tests.fakes import MemoryChargers, MemoryConnectors, MemoryMeter, MemoryReview, MemorySessions

NOW = datetime(2024, 6, 12, 18, tzinfo=timezone.utc)
FRAMES = {
    "BootNotification": {"chargePointVendor": "Acme", "chargePointModel": "W22", "firmwareVersion": "1.0"},
    "Heartbeat": {},
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": "2024-06-12T18:00:00Z"},
    "Authorize": {"idTag": "TAG"},
    "StartTransaction": {"connectorId": 1, "idTag": "TAG", "meterStart": 100, "timestamp": "2024-06-12T18:00:00Z"},
    "MeterValues": {"connectorId": 1, "transactionId": 1, "meterValue": [{"timestamp": "2024-06-12T18:01:00Z", "sampledValue": [
        {"value": "150", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]},
    "StopTransaction": {"transactionId": 1, "meterStop": 500, "timestamp": "2024-06-12T19:00:00Z"},
}
HANDLERS = ["handlers.authorizer", "handlers.connect", "handlers.disconnect", "handlers.default", "handlers.sweeper",
            "handlers.scheduler", "handlers.signals_refresh"]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def bench_ours(action: str, n: int) -> list[float]:
    chargers = MemoryChargers()
    chargers.register("CP", "h", NOW)
    central = CentralSystem(chargers, MemoryConnectors(), MemorySessions(), MemoryMeter(), MemoryReview(), clock=lambda: NOW)
    central.handle_frame("CP", "c", json.dumps([2, "s", "StartTransaction", FRAMES["StartTransaction"]]))
    times = []
    for i in range(n):
        frame = json.dumps([2, f"m{i}", action, FRAMES[action]])
        start = time.perf_counter()
        reply = central.handle_frame("CP", "c", frame)
        times.append(time.perf_counter() - start)
        assert reply.startswith("[3,"), reply
    return times


def bench_ocpp_package(action: str, n: int) -> list[float]:
    import ocpp.messages
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result

    ocpp.messages.ASYNC_VALIDATION = False  # compare CPU, not a thread-pool hop

    class Sink:
        async def send(self, message):
            self.last = message

    class CentralSide(ChargePoint):
        @on("BootNotification")
        def boot(self, **kw):
            return call_result.BootNotification(current_time="2024-06-12T18:00:00Z", interval=300, status="Accepted")

        @on("Heartbeat")
        def hb(self, **kw):
            return call_result.Heartbeat(current_time="2024-06-12T18:00:00Z")

        @on("StatusNotification")
        def status(self, **kw):
            return call_result.StatusNotification()

        @on("Authorize")
        def authorize(self, **kw):
            return call_result.Authorize(id_tag_info={"status": "Accepted"})

        @on("StartTransaction")
        def start(self, **kw):
            return call_result.StartTransaction(transaction_id=1, id_tag_info={"status": "Accepted"})

        @on("MeterValues")
        def meter(self, **kw):
            return call_result.MeterValues()

        @on("StopTransaction")
        def stop(self, **kw):
            return call_result.StopTransaction()

    sink = Sink()
    cp = CentralSide("CP", sink)
    times = []

    async def run():
        for i in range(n):
            frame = json.dumps([2, f"m{i}", action, FRAMES[action]])
            start = time.perf_counter()
            await cp.route_message(frame)
            times.append(time.perf_counter() - start)

    asyncio.run(run())
    return times


def import_times(modules: list[str] = HANDLERS) -> dict[str, float]:
    """Cumulative import time (ms) of each handler module in a fresh interpreter."""
    out = {}
    for module in modules:
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                                capture_output=True, text=True, check=True)
        line = [l for l in result.stderr.splitlines() if re.search(rf"\|\s*{re.escape(module)}$", l)][-1]
        out[module] = int(line.split("|")[1]) / 1000
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations (CI smoke run)")
    args = parser.parse_args(argv)
    n = 50 if args.quick else 2000
    print(f"## Handler CPU per message ({n} warm iterations, in-memory storage)\n")
    print("| action | csms median µs | csms p99 µs | ocpp ChargePoint median µs | ocpp p99 µs |")
    print("|---|---|---|---|---|")
    for action in FRAMES:
        ours = _percentiles(bench_ours(action, n))
        theirs = _percentiles(bench_ocpp_package(action, n))
        print(f"| {action} | {ours[0]*1e6:.0f} | {ours[1]*1e6:.0f} | {theirs[0]*1e6:.0f} | {theirs[1]*1e6:.0f} |")
    print("\n## Import time of each handler module (cold start, `python -X importtime`)\n")
    print("| module | import ms |\n|---|---|")
    # --quick (the CI smoke run): one fresh interpreter, the $default handler's, instead of one per handler
    for module, ms in import_times(["handlers.default"] if args.quick else HANDLERS).items():
        print(f"| {module} | {ms:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
