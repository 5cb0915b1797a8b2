"""Embedded DynamoDB for the local platform: moto in server mode, with snapshots on disk.

moto keeps its state in memory, so the tables are written to ``<state dir>/dynamodb.json``
(typed items, atomically) on shutdown and every 30 s, and read back on start. An
endpoint in ``DYNAMODB_ENDPOINT`` (DynamoDB Local, or AWS) replaces the embedded server.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

log = logging.getLogger(__name__)

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class EmbeddedDynamo:
    """moto's server in a child process: DynamoDB work runs on its own core instead of contending
    for this process's GIL with the gateway and the handlers (3x the throughput on 2 cores,
    docs/benchmarks.md). ``in_process=True`` keeps it in a thread (tests that need moto's state here)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, in_process: bool = False):
        self.host = host
        self.port = port or free_port(host)
        self.in_process = in_process
        self._server: ThreadedMotoServer | None = None
        self._process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        for key, value in FAKE_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        if self.in_process:
            self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
            self._server.start()
        else:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _SERVE, self.host, str(self.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, **FAKE_CREDENTIALS},
                # Its own session: a Ctrl-C in the terminal stops the platform, which then takes the
                # final snapshot and stops this server itself (it also exits when its parent dies).
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:  # start() returns before the server accepts connections
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    break
            except OSError:
                if self._process is not None and self._process.poll() is not None:
                    raise RuntimeError(f"embedded DynamoDB exited with code {self._process.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded DynamoDB did not start on {self.endpoint}")
                time.sleep(0.05)
        # moto's backends live in this process: a second server would see the first one's tables.
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10)
        log.info("embedded DynamoDB (moto) at %s", self.endpoint)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


# The child: moto's server, quiet, until terminated (or until its parent dies: it polls).
_SERVE = """
import logging, os, sys, threading, time
logging.getLogger("werkzeug").setLevel(logging.WARNING)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address=sys.argv[1], port=int(sys.argv[2]), verbose=False)
server.start()
parent = os.getppid()
while os.getppid() == parent:
    time.sleep(1)
server.stop()
"""


def _client(endpoint: str, region: str):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)


def snapshot(endpoint: str, region: str, tables: list[str], path: Path) -> int:
    """Write every item of ``tables`` to ``path`` (atomic). Returns the item count."""
    client = _client(endpoint, region)
    data: dict[str, list] = {}
    for table in tables:
        items: list = []
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(page["Items"])
        data[table] = items
    from csms_local.private import write_private

    write_private(path, json.dumps(data, separators=(",", ":")))  # 0600: password hashes, tokens' owners
    return sum(len(v) for v in data.values())


def restore(endpoint: str, region: str, path: Path) -> int:
    """Load a snapshot into existing tables. Returns the item count."""
    if not path.exists():
        return 0
    try:
        data = json.loads(path.read_text())
    except ValueError:
        log.error("snapshot %s is not readable; starting empty (kept as %s.bad)", path, path.name)
        path.replace(path.with_suffix(".bad"))
        return 0
    client = _client(endpoint, region)
    count = 0
    for table, items in data.items():
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
            pending = {table: batch}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            count += len(batch)
    return count
