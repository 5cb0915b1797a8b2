"""The periodic run's ledger for grid-demand events (``csms.charging.ports.RunLedger``,
``csms.charging.event_shares``) in the events table (``RunLedgerModel``), read by key only:

| item | area | event_id | holds |
|---|---|---|---|
| the run's counter | ``run#<run time>`` | ``counter`` | ``expected``, ``done`` (tasks), ``stage2`` (queued) |
| a task's stage-1 record | ``run#<run time>`` | ``task#<task id>`` | ``data``: per class of covered vehicles, the source, each event's load per slot (kW) and capacity (kW) |
| a unit's members | ``run#<run time>`` | ``members#<task id>#<class>`` | ``data``: the covered sessions (``<charge point id>#<transaction id>``) or limited sites of that task and class |

A task's record and its count are one TransactWriteItems (the record is conditional on not
existing), so a task delivered twice is counted once. Every item expires after a day (TTL).
"""

from __future__ import annotations

import json
from datetime import timedelta

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import RunLedgerModel
from csms.charging.event_shares import Tally
from csms.timeutil import parse_ts, utcnow

KEEP = timedelta(days=1)
COUNTER = "counter"


def _area(run: str) -> str:
    return f"run#{run}"


def _expires(run: str):
    try:
        return parse_ts(run) + KEEP
    except ValueError:
        return utcnow() + KEEP


class DynamoRunLedger:
    """``csms.charging.ports.RunLedger`` on DynamoDB."""

    def _conn(self):
        return RunLedgerModel._get_connection().connection

    def open(self, run: str, tasks: int) -> None:
        try:
            RunLedgerModel(_area(run), COUNTER, expected=tasks, done=0, expires_at=_expires(run)).save(
                condition=RunLedgerModel.area.does_not_exist())
        except PutError as exc:  # opened already (the same run dispatched twice): keep its count
            if not conditional_failed(exc):
                raise

    def expect(self, run: str, more: int = 1) -> None:
        RunLedgerModel(_area(run), COUNTER).update(actions=[RunLedgerModel.expected.add(more)])

    def record(self, run: str, task: str, units: dict, members: dict[str, list[str]]) -> Tally:
        with RunLedgerModel.batch_write() as batch:  # idempotent: a repeat writes the same
            for cls, ids in members.items():
                batch.save(RunLedgerModel(_area(run), f"members#{task}#{cls}", data=json.dumps(ids),
                                          expires_at=_expires(run)))
        try:
            with TransactWrite(connection=self._conn()) as tx:
                tx.save(RunLedgerModel(_area(run), f"task#{task}", data=json.dumps(units), expires_at=_expires(run)),
                        condition=RunLedgerModel.area.does_not_exist())
                tx.update(RunLedgerModel(_area(run), COUNTER), actions=[RunLedgerModel.done.add(1)])
        except TransactWriteError as exc:  # counted before (the task delivered again): count nothing
            codes = [r.code for r in exc.cancellation_reasons if r is not None]
            if "ConditionalCheckFailed" not in codes:
                raise
        return self.tally(run)

    def tally(self, run: str) -> Tally:
        item = RunLedgerModel.get(_area(run), COUNTER, consistent_read=True)
        return Tally(int(item.expected or 0), int(item.done or 0))

    def records(self, run: str) -> dict[str, dict]:
        return {i.event_id[len("task#"):]: json.loads(i.data or "{}")
                for i in RunLedgerModel.query(_area(run), RunLedgerModel.event_id.startswith("task#"),
                                              consistent_read=True)}

    def members(self, run: str, task: str, cls: str) -> list[str]:
        for item in RunLedgerModel.query(_area(run), RunLedgerModel.event_id == f"members#{task}#{cls}",
                                         consistent_read=True):
            return json.loads(item.data or "[]")
        return []

    def claim_stage2(self, run: str) -> bool:
        try:
            RunLedgerModel(_area(run), COUNTER).update(actions=[RunLedgerModel.stage2.set(True)],
                                                       condition=RunLedgerModel.stage2.does_not_exist())
            return True
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise

    def release_stage2(self, run: str) -> None:
        RunLedgerModel(_area(run), COUNTER).update(actions=[RunLedgerModel.stage2.remove()])
