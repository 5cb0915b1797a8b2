"""The local platform's frame log writer: frames go to the console table in BatchWriteItem
requests from one background thread, instead of one PutItem on the charger's answer path.

Why: locally the frame log is always on (``csms.ocpp.frame_log``), so a MeterValues cost three
DynamoDB round trips before its answer (the frame in, the reading, the frame out) where AWS pays
one; a py-spy profile of the 300-charger bench put ~30 % of the platform's GIL time into those
two frame PutItems, against 19 % for the reading's own (docs/benchmarks.md). Batched, the same
items cost 1/25 of a request each.

The trade-off, stated: a frame is written after the charger has its answer, at most one batch
round trip later (the writer takes whatever is waiting whenever it is free: no timer). A SIGKILL
of the platform loses the frames still waiting (milliseconds' worth); it never loses what was
acknowledged to a charger, which is written by the handlers before the answer as before
(docs/reliability.md). Reads through :meth:`BatchedFrameLog.page` first wait for the frames
queued before them, so the API and ``csms log`` see every frame already answered. Not used in
AWS: a Lambda is frozen after it returns, so a frame switched on there is written before the
answer (``DynamoFrameLog``).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from adapters.dynamo.frame_log import DynamoFrameLog, _item
from adapters.dynamo.models import ConsoleModel
from csms.ocpp.frame_log import LoggedFrame

log = logging.getLogger(__name__)

MAX_PENDING = 50_000  # frames waiting (~25 MB at most): beyond, new frames are dropped and counted, never waited for
FLUSH_WAIT_S = 10.0  # the longest a read waits for the frames queued before it


class BatchedFrameLog(DynamoFrameLog):
    """``FrameStore`` (``csms.ocpp.ports``) whose ``add`` queues and returns at once; one daemon
    thread, started on the first frame, writes what is queued in BatchWriteItem requests of 25
    (pynamodb's ``batch_write``, which retries unprocessed items). ``dropped``: frames not logged
    because ``MAX_PENDING`` were waiting. ``close()`` writes what is queued and stops the thread."""

    def __init__(self) -> None:
        self._pending: list[LoggedFrame] = []
        self._queued = 0  # frames ever queued
        self._done = 0  # frames ever written (or given up on)
        self._closed = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self.dropped = 0

    def add(self, frame: LoggedFrame) -> None:
        with self._cond:
            closed = self._closed
            if not closed:
                self._enqueue(frame)
        if closed:  # a frame answered while the platform stops: written at once, as DynamoFrameLog does
            super().add(frame)

    def _enqueue(self, frame: LoggedFrame) -> None:  # under self._cond
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("frame log behind: %d frames not logged so far", self.dropped)
            return
        self._pending.append(frame)
        self._queued += 1
        if self._thread is None:
            self._thread = threading.Thread(target=self._write, name="frame-log", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def flush(self, timeout_s: float = FLUSH_WAIT_S) -> bool:
        """Wait until every frame queued before this call is written; False on timeout."""
        with self._cond:
            target = self._queued
            return self._cond.wait_for(lambda: self._done >= target, timeout_s)

    def close(self, timeout_s: float = FLUSH_WAIT_S) -> None:
        """Write what is queued, then stop the writer (the platform's graceful stop)."""
        self.flush(timeout_s)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def page(self, charge_point_id: str, limit: int, cursor: str | None = None, search: str | None = None,
             direction: str | None = None, after: datetime | None = None) -> tuple[list[LoggedFrame], str | None]:
        self.flush()
        return super().page(charge_point_id, limit, cursor, search, direction, after)

    def _write(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            try:
                with ConsoleModel.batch_write() as writer:
                    for frame in batch:
                        writer.save(_item(frame))
            except Exception:  # the log must never stop: these frames are lost, later ones are written
                log.exception("frame log: %d frames not written", len(batch))
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()
