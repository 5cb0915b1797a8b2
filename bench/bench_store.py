"""The local platform's DynamoDB options, side by side: put_item requests per second and CPU per
request (client process and server process), from one client thread and from eight; and the cost
of one ``fdatasync`` on this disk (the journal's durability price).

    .venv/bin/python -m bench.bench_store [--requests 800]

- ``moto server``: moto's ``ThreadedMotoServer`` (every service, werkzeug), in a child process:
  what ``csms local`` ran before the journal (nothing durable between 30 s snapshots).
- ``journaled``: ``csms_local.dynamo_serve``: moto's DynamoDB app alone behind the write-ahead
  journal, every write flushed to disk before its answer (what ``csms local`` runs now).
- ``moto in-process``: ``mock_aws`` in the client's process, no HTTP (not durable; shares the
  handlers' GIL).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3

from csms_local import dynamodb

TABLE = {"TableName": "t", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
         "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}
_MOTO_SERVER = ("import sys, time; from moto.server import ThreadedMotoServer as S; "
                "S(ip_address='127.0.0.1', port=int(sys.argv[1]), verbose=False).start(); time.sleep(1e6)")


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_pid(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _put(client, n: int, prefix: str) -> None:
    for i in range(n):
        client.put_item(TableName="t", Item={"pk": {"S": f"{prefix}-{i}"}, "v": {"N": str(i)}, "s": {"S": "x" * 200}})


def measure(name: str, make_client, pid: int | None, requests: int) -> list[str]:
    make_client().create_table(**TABLE)
    rows = []
    for threads in (1, 8):
        clients = [make_client() for _ in range(threads)]
        _put(clients[0], 20, f"warm{threads}")
        cpu_client, cpu_server, began = _cpu_self(), _cpu_pid(pid), time.perf_counter()
        workers = [threading.Thread(target=_put, args=(c, requests // threads, f"{threads}-{k}"))
                   for k, c in enumerate(clients)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - began
        rows.append(f"| {name} | {threads} | {requests / elapsed:.0f} | {(_cpu_self() - cpu_client) / requests * 1e6:.0f} | "
                    f"{(_cpu_pid(pid) - cpu_server) / requests * 1e6:.0f} |")
    return rows


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def fdatasync_ms(directory: Path, n: int = 200) -> tuple[float, float, float]:
    fd = os.open(directory / "sync-probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    times = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 300 + b"\n")
            began = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - began) * 1000)
    finally:
        os.close(fd)
    times.sort()
    return times[n // 2], times[int(n * 0.9)], times[int(n * 0.99)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800)
    args = parser.parse_args(argv)
    for key, value in dynamodb.FAKE_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    region = "eu-west-2"
    rows = []
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:  # the disk the state dir lives on
        p50, p90, p99 = fdatasync_ms(Path(tmp))
        print(f"fdatasync of a 300-byte append: p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms")

        port = dynamodb.free_port()
        server = subprocess.Popen([sys.executable, "-c", _MOTO_SERVER, str(port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            _wait_port(port)
            endpoint = f"http://127.0.0.1:{port}"
            rows += measure("moto server (before)", lambda: boto3.client("dynamodb", endpoint_url=endpoint,
                                                                            region_name=region), server.pid, args.requests)
        finally:
            server.kill()
            server.wait()

        store = dynamodb.EmbeddedDynamo(state_dir=Path(tmp) / "state")
        store.start()
        try:
            rows += measure("journaled, fdatasync per answer (now)", lambda: boto3.client(
                "dynamodb", endpoint_url=store.endpoint, region_name=region), store._process.pid, args.requests)
        finally:
            store.stop()

    from moto import mock_aws

    with mock_aws():
        rows += measure("moto in-process (no HTTP, not durable)", lambda: boto3.client("dynamodb", region_name=region),
                        None, args.requests)
    print("| store | client threads | put_item/s | client CPU µs / request | server CPU µs / request |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
