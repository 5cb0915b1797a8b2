"""Chargers that tried to connect but are not registered (issue 22, item 8): an operator sees the id,
how often and from where it tried, and registers it in one click (``POST /v1/chargers``).

Bounded so that a stranger cannot fill the table: an id is kept ``RETENTION`` (TTL), a day takes at
most ``DAILY_CAP`` new ids (what comes after is counted nowhere, and said so in the log), ids are
checked like a charger's own (``csms.ocpp.connection.valid_charge_point_id``), and the handshake
lockout by source (``csms.ocpp.lockout``) refuses a source before it reaches this after a few tries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

RETENTION = timedelta(days=7)
DAILY_CAP = 1000


@dataclass(frozen=True)
class UnknownCharger:
    """``count`` attempts between ``first_seen`` and ``last_seen`` (UTC); ``source`` the latest
    source address."""

    charge_point_id: str
    count: int
    first_seen: datetime
    last_seen: datetime
    source: str | None = None

    def as_json(self) -> dict:
        from csms.timeutil import iso

        return {"id": self.charge_point_id, "count": self.count, "first_seen": iso(self.first_seen),
                "last_seen": iso(self.last_seen), "source": self.source}


def merged(rows: list[UnknownCharger]) -> list[UnknownCharger]:
    """One row per id from its rows of several days: counts added, the latest source, most recent first."""
    by_id: dict[str, UnknownCharger] = {}
    for row in rows:
        seen = by_id.get(row.charge_point_id)
        if seen is None:
            by_id[row.charge_point_id] = row
            continue
        latest = row if row.last_seen >= seen.last_seen else seen
        by_id[row.charge_point_id] = UnknownCharger(row.charge_point_id, seen.count + row.count,
                                                    min(seen.first_seen, row.first_seen), latest.last_seen,
                                                    latest.source)
    return sorted(by_id.values(), key=lambda r: r.last_seen, reverse=True)
