"""The embedded DynamoDB's process: moto's DynamoDB app behind the write-ahead journal
(:mod:`csms_local.journal`), served over HTTP on loopback.

    python -m csms_local.dynamo_serve HOST PORT STATE_DIR

Holds an exclusive lock on ``STATE_DIR/dynamodb.lock`` (a second server on the same state waits
for the first to exit), rebuilds the state from the snapshot and journals, then prints ``ready``.
SIGTERM or SIGINT: fold the journal into a new snapshot and exit. It also exits (without
compacting: the journal is already durable) when its parent process goes away.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

LOCK_WAIT_S = 30
# Requests served at once. A request holds its thread while it waits for the journal's flush, and
# the platform has up to 4 handshake + 32 frame threads (csms_local.gateway.FRAME_WORKERS), the
# frame log's writer, the management API and the jobs each waiting on one answer: fewer threads
# than that would queue requests behind a flush they are not part of, and every waiting writer
# joins the same group commit anyway.
SERVE_THREADS = 48


def build_app(state_dir: Path, region: str = "eu-west-2"):
    """moto's DynamoDB WSGI app (without moto's all-services dispatcher) behind the journal."""
    from moto.server import create_backend_app

    from csms_local.journal import JournaledApp

    return JournaledApp(create_backend_app("dynamodb"), state_dir, default_region=region)


def lock_state(state_dir: Path, wait_s: float = LOCK_WAIT_S) -> int:
    """Take the state dir's lock (released by the kernel when this process dies, even by SIGKILL)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / "dynamodb.lock", os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit(f"another embedded DynamoDB still holds {state_dir}/dynamodb.lock")
            time.sleep(0.05)


def main(argv: list[str]) -> int:
    host, port, state_dir = argv[0], int(argv[1]), Path(argv[2])
    os.umask(0o077)  # journal and snapshots hold password hashes: 0600 files, 0700 directories (issue 21)
    logging.basicConfig(level=logging.WARNING, format="dynamodb %(levelname)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" under a burst
    stop = threading.Event()
    # Handlers first: a SIGTERM from the first moment on ends with a snapshot, not a half-written one.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    lock_state(state_dir)
    app = build_app(state_dir)
    replayed = app.load()
    # waitress, not werkzeug's development server: werkzeug answers every request with
    # "Connection: close" and starts a thread per connection, so each DynamoDB request of the
    # platform paid a TCP handshake and a thread start (27,000 threads at 1,000 chargers) and
    # boto3's keep-alive pool was never used. waitress keeps HTTP/1.1 connections alive and serves
    # them from a fixed pool of threads.
    from waitress.server import create_server

    server = create_server(app, host=host, port=port, threads=SERVE_THREADS, connection_limit=1000,
                           channel_timeout=600, ident="csms-dynamodb")
    threading.Thread(target=server.run, name="serve", daemon=True).start()
    print(f"ready {replayed}", flush=True)
    parent = os.getppid()
    while not stop.wait(0.5):
        if os.getppid() != parent:  # the platform is gone (killed): the journal is already on disk
            return 0
    server.close()  # no new connections
    server.task_dispatcher.shutdown()  # requests under way finish (5 s at most), queued ones are dropped
    app.compact()
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
