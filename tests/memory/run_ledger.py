"""``csms.charging.ports.RunLedger`` in memory (``adapters.dynamo.run_ledger`` on DynamoDB)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from csms.charging.event_shares import Tally


class MemoryRunLedger:
    """The same contract as the DynamoDB ledger; ``writes`` counts its writes (one per call)."""

    def __init__(self) -> None:
        self.counters: dict[str, dict] = {}
        self.tasks: dict[tuple[str, str], dict] = {}
        self.member_lists: dict[tuple[str, str, str], list[str]] = {}
        self.writes = 0

    def open(self, run: str, tasks: int) -> None:
        self.writes += 1
        self.counters.setdefault(run, {"expected": tasks, "done": 0, "stage2": False})

    def expect(self, run: str, more: int = 1) -> None:
        self.writes += 1
        self.counters[run]["expected"] += more

    def record(self, run: str, task: str, units: dict, members: dict[str, list[str]]) -> Tally:
        self.writes += 1
        for cls, ids in members.items():
            self.member_lists[(run, task, cls)] = list(ids)
        if (run, task) not in self.tasks:
            self.tasks[(run, task)] = json.loads(json.dumps(units))  # as stored: plain JSON
            self.counters[run]["done"] += 1
        return self.tally(run)

    def tally(self, run: str) -> Tally:
        counter = self.counters[run]
        return Tally(counter["expected"], counter["done"])

    def records(self, run: str) -> dict[str, dict]:
        return {task: units for (r, task), units in self.tasks.items() if r == run}

    def members(self, run: str, task: str, cls: str) -> list[str]:
        return list(self.member_lists.get((run, task, cls), []))

    def claim_stage2(self, run: str) -> bool:
        if self.counters[run]["stage2"]:
            return False
        self.counters[run]["stage2"] = True
        return True

    def release_stage2(self, run: str) -> None:
        self.counters[run]["stage2"] = False


if TYPE_CHECKING:  # mypy: the fake satisfies its port
    from csms.charging.ports import RunLedger

    _ledger: RunLedger = MemoryRunLedger()
