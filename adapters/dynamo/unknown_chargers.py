"""Unknown chargers (``csms.console.ports.UnknownChargerStore``, issue 22) in the console table.

Keys: ``pk = "unknown#<UTC day>"``, ``sk = <charge point id>``: ``count`` attempts that day, ``text``
the latest source, ``data`` JSON {first} (written once), ``last_at`` the latest attempt (UTC ISO), TTL ``csms.console.unknown.RETENTION``.
Bounded per day: the partition's counter item (``sk = "#count"``) admits ``DAILY_CAP`` new ids with a
conditional ADD. An attempt costs one UpdateItem for an id already seen that day, two (the counter,
the id) for a new one, nothing once the day's cap is reached and the id is new (the conditional
write fails: one write unit). Listing reads only the days it covers (a Query each).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import UpdateError

from adapters.dynamo.models import ConsoleModel
from csms.console.unknown import DAILY_CAP, RETENTION, UnknownCharger, merged
from csms.timeutil import iso, parse_ts, utcnow

COUNTER = "#count"


def _failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def _pk(at: datetime) -> str:
    return "unknown#" + at.astimezone(timezone.utc).strftime("%Y-%m-%d")


class DynamoUnknownChargers:
    """``UnknownChargerStore`` over ``ConsoleModel``. ``cap``: new ids a day."""

    def __init__(self, cap: int = DAILY_CAP):
        self.cap = cap

    def seen(self, charge_point_id: str, source: str | None, at: datetime) -> int:
        pk, stamp = _pk(at), iso(at)
        actions = [ConsoleModel.count.add(1), ConsoleModel.expires_at.set(at + RETENTION),
                   ConsoleModel.last_at.set(stamp), ConsoleModel.data.set(ConsoleModel.data | json.dumps({"first": stamp}))]
        if source:
            actions.append(ConsoleModel.text.set(source[:64]))
        item = ConsoleModel(pk, charge_point_id)
        try:  # an id already seen today: count it
            item.update(actions=actions, condition=ConsoleModel.sk.exists())  # ALL_NEW: item.count is the new count
            return int(item.count or 1)
        except UpdateError as exc:
            if not _failed(exc):
                raise
        try:  # a new id today: only while the day's cap admits it
            ConsoleModel(pk, COUNTER).update(actions=[ConsoleModel.count.add(1), ConsoleModel.expires_at.set(at + RETENTION)],
                                             condition=ConsoleModel.count.does_not_exist() | (ConsoleModel.count < self.cap))
        except UpdateError as exc:
            if _failed(exc):
                return 0
            raise
        item.update(actions=actions)
        return int(item.count or 1)

    def recent(self, since: datetime, limit: int) -> list[UnknownCharger]:
        rows = []
        day, until = utcnow().astimezone(timezone.utc).date() + timedelta(days=1), since.astimezone(timezone.utc).date()
        while day >= until:
            for item in ConsoleModel.query(f"unknown#{day.isoformat()}"):
                if item.sk == COUNTER:
                    continue
                first = parse_ts(json.loads(item.data or "{}").get("first") or item.last_at)
                last = parse_ts(item.last_at) if item.last_at else first
                rows.append(UnknownCharger(item.sk, int(item.count or 0), first, last, item.text))
            day -= timedelta(days=1)
        return [r for r in merged(rows) if r.last_seen >= since][:limit]

    def forget(self, charge_point_id: str) -> None:
        day = utcnow().astimezone(timezone.utc).date() + timedelta(days=1)
        for _ in range(RETENTION.days + 2):
            ConsoleModel(f"unknown#{day.isoformat()}", charge_point_id).delete()
            day -= timedelta(days=1)
