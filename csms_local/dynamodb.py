"""Embedded DynamoDB for the local platform: moto's DynamoDB in a child process, durable.

moto keeps its state in memory; the child (:mod:`csms_local.dynamo_serve`) journals every request
that changed something to ``<state dir>`` and flushes it to disk before answering, and rebuilds
the tables from the snapshot and journal on start (:mod:`csms_local.journal`), so whatever it
acknowledged survives a SIGKILL of every process. An endpoint in ``DYNAMODB_ENDPOINT``
(another DynamoDB-compatible server, or AWS) replaces the embedded server.
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

from csms_local.journal import JOURNAL_PREFIX, SNAPSHOT

log = logging.getLogger(__name__)

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


LEGACY_SNAPSHOT = "dynamodb.json"  # before the journal: typed items per table, taken every 30 s


def reset_state(state_dir: Path) -> None:
    """Delete the stored tables (snapshot, journals, a legacy snapshot) of ``state_dir``."""
    for path in [state_dir / SNAPSHOT, state_dir / LEGACY_SNAPSHOT, *state_dir.glob(JOURNAL_PREFIX + "*")]:
        path.unlink(missing_ok=True)


class EmbeddedDynamo:
    """moto's DynamoDB in a child process, durable in ``state_dir``: DynamoDB work runs on its own
    core instead of contending for this process's GIL with the gateway and the handlers (3x the
    throughput on 2 cores, docs/benchmarks.md). ``in_process=True`` keeps a plain (not durable)
    moto server in a thread (tests that need moto's state here)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, in_process: bool = False,
                 state_dir: str | Path | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.in_process = in_process
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._scratch = None
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
            if self.state_dir is None:
                import tempfile

                self._scratch = tempfile.TemporaryDirectory(prefix="csms-dynamodb-")
                self.state_dir = Path(self._scratch.name)
            self._process = subprocess.Popen(
                [sys.executable, "-m", "csms_local.dynamo_serve", self.host, str(self.port),
                 str(self.state_dir.resolve())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env={**os.environ, **FAKE_CREDENTIALS}, cwd=Path(__file__).resolve().parent.parent,
                # Its own process group: a Ctrl-C in the terminal stops the platform, which then stops
                # this server itself (it compacts its journal then; it also exits when its parent
                # dies). Not its own session: a new session is a new scheduler autogroup, so the
                # store did not share the platform's CPU priority; at 1,000 chargers on a loaded
                # machine it waited 3.4 s of every 5 s on the run queue while the platform waited on it.
                process_group=0,
            )
        deadline = time.monotonic() + 600  # replaying a long journal takes a while
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
        if self._server is not None:
            # moto's backends live in this process: a second server would see the first one's tables.
            urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"),
                                   timeout=10)
        log.info("embedded DynamoDB (moto) at %s", self.endpoint)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._process is not None:
            self._process.terminate()  # it compacts its journal into a snapshot, then exits
            try:
                self._process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self._process.kill()  # nothing is lost: the journal is on disk
                self._process.wait()
            self._process = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


def _client(endpoint: str, region: str):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)


def restore(endpoint: str, region: str, path: Path) -> int:
    """Load a legacy snapshot (``dynamodb.json``, typed items per table) into existing tables and
    rename it ``dynamodb.json.imported``: its items are in the journal now. Returns the item count."""
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
    path.replace(path.with_name(path.name + ".imported"))
    return count
