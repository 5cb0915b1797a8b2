"""In-memory ``csms.charging.ports.AllowanceStore``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from csms.charging.allowances import Allowance


class MemoryAllowances:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[Allowance, datetime]] = {}

    def put_allowances(self, allowances: list[Allowance], until: datetime) -> None:
        for a in allowances:
            self.items[(a.unit, a.event_id)] = (a, until)

    def allowances(self, unit: str, event_ids: list[str]) -> dict[str, Allowance]:
        return {e: self.items[(unit, e)][0] for e in event_ids if (unit, e) in self.items}


if TYPE_CHECKING:
    from csms.charging.ports import AllowanceStore

    _store: AllowanceStore = MemoryAllowances()
