"""The local platform's meter writer: the readings of every MeterValues waiting at one moment are
written in one BatchWriteItem (group commit), and each ``put`` still returns only once its own
readings are written, so the answer to the charger still follows a durable write.

Why: locally one process handles every charger, and its frame threads each paid a whole DynamoDB
request (botocore's serialisation, signing and HTTP; the embedded store's HTTP server, moto's
request parsing and a journal record) for one small item. A py-spy profile of ``bench_throughput``
at 100 chargers put ~70 % of the frame threads' samples under that one PutItem
(``docs/benchmarks.md``). A database does the same with its log: concurrent commits share one
flush (group commit, Gray & Reuter, *Transaction Processing*, 1993, §9.4.7).

No timer and no added wait: the first ``put`` that finds no batch in flight writes at once (with
what is queued); puts arriving meanwhile queue and go in the next batch, written by the first of
them whose own readings are still unwritten. Under light load every batch is one MeterValues and
costs what ``DynamoMeter`` costs; under load the batches grow (at most 25 items, DynamoDB's limit)
and the per-request cost is shared.

Semantics are ``DynamoMeter``'s (``csms.ocpp.ports.MeterRepository``): an unconditional write per
sample, the same key overwrites. Order is kept: batches are taken first come, first served, and a
batch never holds two writes of one key (the later one waits for the next batch), so the last
``put`` of a key wins, as with one PutItem after another. A failed batch raises its error in every
``put`` it held (the frame is then not answered as stored, as with a failed PutItem).

Not used in AWS: a Lambda invocation handles one message, there is nothing to group.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterable

from adapters.dynamo.meter import METER_RETENTION_DAYS, DynamoMeter, _sample_item
from adapters.dynamo.models import MeterSampleModel
from csms.model import MeterSample

BATCH_ITEMS = 25  # DynamoDB's BatchWriteItem limit


@dataclass
class _Put:
    """One caller's readings, and what became of them."""

    items: list[MeterSampleModel]
    keys: set[tuple[str, str]]
    done: bool = False
    error: BaseException | None = field(default=None)


def _key(item: MeterSampleModel) -> tuple[str, str]:
    return item.stream, item.sample_key


def _last_per_key(items: list[MeterSampleModel]) -> list[MeterSampleModel]:
    """The items with only the last of each key (what one PutItem after another would leave;
    BatchWriteItem refuses a request that names a key twice)."""
    latest = {_key(item): item for item in items}
    return list(latest.values())


class GroupCommitMeter(DynamoMeter):
    """``MeterRepository`` whose ``put`` blocks until its samples are written, sharing each
    BatchWriteItem (≤ 25 items) with the other puts waiting at that moment.

    ``batches`` and ``items_written`` count what was sent (tests and ``bench_throughput`` read them).
    Raises what the write raised (pynamodb's ``PutError`` after its retries of unprocessed items)."""

    def __init__(self, retention_days: int = METER_RETENTION_DAYS, batch_items: int = BATCH_ITEMS):
        super().__init__(retention_days)
        self.batch_items = batch_items
        self.batches = 0
        self.items_written = 0
        self._cond = threading.Condition()
        self._queue: list[_Put] = []
        self._writing = False

    def put(self, samples: Iterable[MeterSample]) -> None:
        items = _last_per_key([_sample_item(s, self.retention) for s in samples])
        if not items:
            return
        mine = _Put(items, {_key(item) for item in items})
        with self._cond:
            self._queue.append(mine)
            while not mine.done:
                if self._writing:
                    self._cond.wait()
                    continue
                batch = self._take()
                self._writing = True
                error: BaseException | None = None
                self._cond.release()
                try:
                    self._write([item for put in batch for item in put.items])
                except BaseException as failure:  # every put of the batch hears of it
                    error = failure
                finally:
                    self._cond.acquire()
                    self._writing = False
                    for put in batch:
                        put.done, put.error = True, error
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error

    def _take(self) -> list[_Put]:
        """The puts of the next batch, first come first served (under the lock): as many as fit in
        ``batch_items`` without naming a key twice; at least the first (which may be a MeterValues
        of more than 25 elements: ``_write`` sends it in requests of 25)."""
        batch: list[_Put] = []
        keys: set[tuple[str, str]] = set()
        count = 0
        for put in self._queue:
            if batch and (count + len(put.items) > self.batch_items or not keys.isdisjoint(put.keys)):
                break
            batch.append(put)
            keys |= put.keys
            count += len(put.items)
        del self._queue[:len(batch)]
        return batch

    def _write(self, items: list[MeterSampleModel]) -> None:
        super()._write(items)
        with self._cond:
            self.batches += 1
            self.items_written += len(items)
