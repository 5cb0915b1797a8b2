"""Which sessions a driver may see: those that started while the charger was linked to them.

Re-linking a charger to another driver showed the new driver the previous driver's sessions,
idTags included (issue 21). Each link is kept as a period ``[linked_at, unlinked_at)`` (UTC);
a driver sees a session only when its ``started_at`` falls in one of *their* periods of that
charger. Operators see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LinkPeriod:
    driver: str
    start: datetime
    end: datetime | None = None  # None: still linked

    def covers(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


def visible_to(driver: str, periods: list[LinkPeriod], started_at: datetime) -> bool:
    """Whether ``driver`` may see a session that started at ``started_at`` (UTC) on a charger
    whose links were ``periods`` (``csms.views.ports.DriverLinks``)."""
    return any(p.driver == driver and p.covers(started_at) for p in periods)
