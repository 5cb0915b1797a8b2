"""Durability for the embedded DynamoDB: a write-ahead journal in front of moto's DynamoDB app.

moto keeps its tables in memory. :class:`JournaledApp` wraps moto's DynamoDB WSGI app so that
every request that changed something (any action not in :data:`READ_ONLY`, answered 200) is
appended to ``<state dir>/dynamodb.journal.<generation>`` and flushed to disk (``fdatasync``)
**before its answer is returned**; a read waits until everything applied before it is on disk, so
nobody acts on state a crash could take back. Appends are serialised with the apply (one lock), so
the journal's order is the order moto applied them; the fsync is shared by every request waiting
at that moment (group commit), so its cost is paid once per batch, not once per request.

On start the state is rebuilt by replaying ``dynamodb.snapshot`` (itself a list of requests:
CreateTable, UpdateTimeToLive, BatchWriteItem) and then every journal of its generation or later,
through the same app. :meth:`JournaledApp.compact` writes a new snapshot and starts a new
journal generation; an older journal is deleted only after the snapshot that contains it is on
disk, so a crash at any point leaves either the old snapshot with all its journals or the new one.

Record format, one per line: ``<crc32 of the JSON, 8 hex digits> <JSON>``. A torn or corrupt line
can only be the last one of a journal (appends are sequential); it was never acknowledged and is
dropped on replay.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator

log = logging.getLogger(__name__)

SNAPSHOT = "dynamodb.snapshot"
JOURNAL_PREFIX = "dynamodb.journal."
TARGET_PREFIX = "DynamoDB_20120810."
# Actions that change nothing; every other action is journaled (a new mutating action is safe by default).
READ_ONLY = frozenset({
    "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables",
    "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource", "DescribeEndpoints",
    "DescribeLimits", "ListBackups", "ListGlobalTables", "DescribeGlobalTable",
})
COMPACT_AFTER_BYTES = 64 * 1024 * 1024  # a journal this long is folded into a new snapshot
_REGION = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/")


def encode(record: dict) -> bytes:
    """One journal line: CRC-32 (hex) of the JSON, a space, the JSON, a newline."""
    text = json.dumps(record, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(text), text)


def decode(path: Path) -> Iterator[dict]:
    """The records of a journal or snapshot file, stopping at the first torn or corrupt line
    (logged: it can only be the unacknowledged tail of a crash)."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            crc, _, text = line.rstrip(b"\n").partition(b" ")
            if not line.endswith(b"\n") or len(crc) != 8 or int(crc, 16) != zlib.crc32(text):
                log.warning("%s: line %d is torn or corrupt (a write the crash interrupted): dropped with the rest",
                            path.name, number)
                return
            yield json.loads(text)


class Journal:
    """Append-only file of records with group commit. ``append`` is called under the caller's
    apply lock (it fixes the order); ``wait_durable`` after it, without the lock."""

    def __init__(self, path: Path):
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.bytes = os.fstat(self._fd).st_size
        self.appended = 0  # records written to the file (not yet necessarily on disk)
        self.durable = 0  # records known to be on disk
        self.syncs = 0
        self._cond = threading.Condition()
        self._syncing = False

    def append(self, record: dict) -> int:
        line = encode(record)
        os.write(self._fd, line)
        self.bytes += len(line)
        self.appended += 1
        return self.appended

    def wait_durable(self, seq: int) -> None:
        """Return once record ``seq`` (and every one before it) is on disk. One caller at a time
        runs ``fdatasync`` for everything appended so far; the others wait for it."""
        with self._cond:
            while self.durable < seq:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target = self.appended
                self._cond.release()
                try:
                    os.fdatasync(self._fd)
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self.syncs += 1
                    self.durable = max(self.durable, target)
                    self._cond.notify_all()

    def close(self) -> None:
        """Flush everything appended and close (waits for a running fdatasync first)."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            os.fdatasync(self._fd)
            os.close(self._fd)
            self.durable = self.appended
            self._cond.notify_all()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournaledApp:
    """WSGI middleware: moto's DynamoDB app made durable in ``state_dir`` (see the module doc).

    ``load()`` must run before serving; ``compact()`` at any time (and on a clean stop)."""

    def __init__(self, app: Callable, state_dir: Path, default_region: str = "eu-west-2",
                 compact_after_bytes: int = COMPACT_AFTER_BYTES):
        self.app = app
        self.state_dir = Path(state_dir)
        self.default_region = default_region
        self.compact_after_bytes = compact_after_bytes
        self.regions: set[str] = {default_region}
        self._apply = threading.Lock()  # held by the applier per request, and by compact()
        self._applier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apply")
        self._compacting = threading.Lock()
        self.journal: Journal | None = None
        self.generation = 0

    # ------------------------------------------------------------------ serving
    def __call__(self, environ: dict, start_response):
        action = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        # moto runs on one thread (the applier), one request after another; this thread only waits.
        # With every server thread running moto under one lock, the lock's holder kept waiting for
        # the GIL (5 ms switch interval) held by another thread's moto work: at 1,000 chargers ten
        # server threads queued on the lock while the process used 28 % of a core.
        status, headers, out, journal, seq = self._applier.submit(self._apply_one, environ, action, body).result()
        if journal.bytes > self.compact_after_bytes and not self._compacting.locked():
            threading.Thread(target=self.compact, name="compact", daemon=True).start()
        journal.wait_durable(seq)  # concurrent requests share one fdatasync (group commit)
        start_response(status, headers)
        return [out]

    def _apply_one(self, environ: dict, action: str, body: bytes) -> tuple[str, list, bytes, Journal, int]:
        """Run one request through moto and journal it if it changed something (on the applier).
        Returns the answer, the journal and the record number that must be durable before the
        answer goes out: for a read, everything appended before it (a write it may have seen)."""
        with self._apply:
            journal = self.journal
            if journal is None:
                raise RuntimeError("the journal is closed (load() not run, or close() already)")
            status, headers, out = self._run(environ)
            if action and action not in READ_ONLY and status.startswith("200"):
                region = self._region(environ)
                self.regions.add(region)
                return status, headers, out, journal, journal.append({"r": region, "t": action, "b": body.decode()})
            return status, headers, out, journal, journal.appended

    def _region(self, environ: dict) -> str:
        match = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
        return match.group(1) if match else self.default_region

    def _run(self, environ: dict) -> tuple[str, list, bytes]:
        answer: list = []

        def start_response(status, headers, exc_info=None):
            answer[:] = [status, headers]

        chunks = self.app(environ, start_response)
        try:
            out = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return answer[0], answer[1], out

    def call(self, action: str, payload: dict, region: str | None = None) -> dict:
        """One DynamoDB request straight into the wrapped app (no journal): replay and snapshots."""
        from werkzeug.test import EnvironBuilder

        region = region or self.default_region
        body = json.dumps(payload).encode()
        environ = EnvironBuilder(method="POST", path="/", data=body, headers={
            "X-Amz-Target": TARGET_PREFIX + action, "Content-Type": "application/x-amz-json-1.0",
            "Host": f"dynamodb.{region}.amazonaws.com",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=local/20200101/{region}/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=0"}).get_environ()
        status, _, out = self._run(environ)
        if not status.startswith("200"):
            raise RuntimeError(f"{action} failed on replay: {status} {out[:500]!r}")
        return json.loads(out) if out else {}

    # ----------------------------------------------------------- load / compact
    def _journals(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.state_dir.glob(JOURNAL_PREFIX + "*"):
            suffix = path.name[len(JOURNAL_PREFIX):]
            if suffix.isdigit():
                found.append((int(suffix), path))
        return sorted(found)

    def load(self) -> int:
        """Rebuild the tables from the snapshot and the journals after it; open a new journal.
        Returns the number of requests replayed."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        replayed, first = 0, 0
        snapshot = self.state_dir / SNAPSHOT
        if snapshot.exists():
            records = decode(snapshot)
            header = next(records, None)
            if header is None or "next_journal" not in header:
                raise RuntimeError(f"{snapshot} has no header: refusing to start on a damaged snapshot")
            first = int(header["next_journal"])
            replayed += self._replay(records)
        for generation, path in self._journals():
            if generation < first:
                path.unlink()  # folded into the snapshot already (a crash came before its deletion)
                continue
            replayed += self._replay(decode(path))
            self.generation = generation
        self.generation = max(self.generation + 1, first)
        self.journal = Journal(self.state_dir / f"{JOURNAL_PREFIX}{self.generation}")
        return replayed

    def _replay(self, records: Iterable[dict]) -> int:
        count = 0
        for record in records:
            self.regions.add(record["r"])
            self.call(record["t"], json.loads(record["b"]), record["r"])
            count += 1
        return count

    def compact(self) -> int:
        """Write the whole state as a new snapshot and drop the journals it contains. Writes wait
        while the state is read (reads do not). Returns the number of items written."""
        with self._compacting:
            with self._apply:
                old = self.journal
                old.close()  # everything in it is on disk
                self.generation += 1
                self.journal = Journal(self.state_dir / f"{JOURNAL_PREFIX}{self.generation}")
                requests, items = self._dump()
            tmp = self.state_dir / (SNAPSHOT + ".tmp")
            with open(tmp, "wb") as f:
                f.write(encode({"next_journal": self.generation}))
                for record in requests:
                    f.write(encode(record))
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.state_dir / SNAPSHOT)
            _fsync_dir(self.state_dir)
            for generation, path in self._journals():
                if generation < self.generation:
                    path.unlink()
            return items

    def _dump(self) -> tuple[list[dict], int]:
        """The state as the requests that rebuild it: per table CreateTable, UpdateTimeToLive when
        enabled, BatchWriteItem of 25 items."""
        requests: list[dict] = []
        items = 0
        for region in sorted(self.regions):
            def add(action, payload, region=region):
                requests.append({"r": region, "t": action, "b": json.dumps(payload, separators=(",", ":"))})

            for name in self.call("ListTables", {}, region).get("TableNames", []):
                add("CreateTable", _create_request(self.call("DescribeTable", {"TableName": name}, region)["Table"]))
                ttl = self.call("DescribeTimeToLive", {"TableName": name}, region).get("TimeToLiveDescription", {})
                if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
                    add("UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": {
                        "Enabled": True, "AttributeName": ttl["AttributeName"]}})
                scan: dict = {"TableName": name}
                while True:
                    page = self.call("Scan", scan, region)
                    batch = page.get("Items", [])
                    for start in range(0, len(batch), 25):
                        add("BatchWriteItem", {"RequestItems": {name: [
                            {"PutRequest": {"Item": item}} for item in batch[start:start + 25]]}})
                    items += len(batch)
                    if not page.get("LastEvaluatedKey"):
                        break
                    scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return requests, items

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
            self.journal = None


def _create_request(table: dict) -> dict:
    """A CreateTable request that makes a table like the one ``DescribeTable`` described."""
    request = {"TableName": table["TableName"], "KeySchema": table["KeySchema"],
               "AttributeDefinitions": table["AttributeDefinitions"]}
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode")
    if billing == "PAY_PER_REQUEST":
        request["BillingMode"] = billing
    else:
        throughput = table.get("ProvisionedThroughput") or {}
        request["ProvisionedThroughput"] = {"ReadCapacityUnits": throughput.get("ReadCapacityUnits") or 1,
                                            "WriteCapacityUnits": throughput.get("WriteCapacityUnits") or 1}
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = [{key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
                   for index in table.get(kind) or []]
        if kind == "GlobalSecondaryIndexes" and "ProvisionedThroughput" in request:
            for index in indexes:
                index["ProvisionedThroughput"] = request["ProvisionedThroughput"]
        if indexes:
            request[kind] = indexes
    if table.get("StreamSpecification"):
        request["StreamSpecification"] = table["StreamSpecification"]
    return request
