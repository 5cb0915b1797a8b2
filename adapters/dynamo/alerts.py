"""Alerts and due checks (``csms.console.ports.AlertStore``, issue 22) in the console table.

Keys: an alert ``pk = "alerts#<UTC day>"``, ``sk = "<UTC time, µs>#<charger>#<kind>"``, ``data`` its
JSON, TTL ``csms.console.alerts.RETENTION`` (a listing reads only the days it covers: one Query
each); a due check ``pk = "due#<kind>#<charger>"``, ``sk = <connection id | transaction id>``, in the
sparse ``due-index`` (hash ``due_shard`` = ``indexes.shard_of(charger)``, range ``due_at``), deleted
once made, TTL a week after it was due. Alerts are rare (a day's partition takes far fewer writes
than a partition's 1,000 WCU/s); checks come with every disconnect and StartTransaction, spread over
16 shards like the other due indexes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from adapters.dynamo import indexes
from adapters.dynamo.models import ConsoleModel
from csms.console.alerts import RETENTION, Alert, DueCheck
from csms.ocpp.frame_log import stamp
from csms.timeutil import iso, parse_ts, utcnow

KEEP_CHECKS = timedelta(days=7)


def _day(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d")


def _days(since: datetime, until: datetime) -> list[str]:
    """The UTC days from ``until`` back to ``since`` (at most RETENTION's)."""
    since = max(since, until - RETENTION)
    days, day = [], until.astimezone(timezone.utc).date()
    while day >= since.astimezone(timezone.utc).date():
        days.append(day.isoformat())
        day -= timedelta(days=1)
    return days


class DynamoAlerts:
    """``AlertStore`` over ``ConsoleModel``."""

    def add(self, alert: Alert) -> None:
        ConsoleModel(f"alerts#{_day(alert.at)}", f"{stamp(alert.at)}#{alert.charge_point_id}#{alert.kind}",
                     data=json.dumps(alert.as_json()), expires_at=alert.at + RETENTION).save()

    def recent(self, since: datetime, limit: int, kind: str | None = None,
               charge_point_id: str | None = None) -> list[Alert]:
        filters = None
        if kind:
            filters = ConsoleModel.data.contains(json.dumps({"kind": kind})[1:-1])
        if charge_point_id:
            by_charger = ConsoleModel.data.contains(json.dumps({"charger": charge_point_id})[1:-1])
            filters = by_charger if filters is None else filters & by_charger
        out: list[Alert] = []
        # from tomorrow: a sweeper whose clock runs ahead of this one stamps into the next day
        for day in _days(since, utcnow() + timedelta(days=1)):
            for item in ConsoleModel.query(f"alerts#{day}", ConsoleModel.sk >= stamp(since), filter_condition=filters,
                                           scan_index_forward=False, limit=limit - len(out)):
                data = json.loads(item.data)
                out.append(Alert(data["kind"], data["charger"], parse_ts(data["at"]), data.get("detail") or {}))
            if len(out) >= limit:
                break
        return out

    def schedule(self, check: DueCheck) -> None:
        ConsoleModel(f"due#{check.kind}#{check.charge_point_id}", check.ref, due_shard=indexes.shard_of(check.charge_point_id),
                     due_at=iso(check.due_at), data=json.dumps({"since": iso(check.since)}),
                     expires_at=check.due_at + KEEP_CHECKS).save()

    def due(self, now: datetime) -> list[DueCheck]:
        checks = []
        for item in indexes.due_before(ConsoleModel.due_index, ConsoleModel.due_at, now):
            _, kind, charge_point_id = item.pk.split("#", 2)
            checks.append(DueCheck(kind, charge_point_id, item.sk, parse_ts(item.due_at),
                                   parse_ts(json.loads(item.data or "{}").get("since") or item.due_at)))
        return checks

    def done(self, check: DueCheck) -> None:
        ConsoleModel(f"due#{check.kind}#{check.charge_point_id}", check.ref).delete()
