"""The frame log (``csms.ocpp.ports.FrameStore``, issue 22) in the console table.

Keys: ``pk = "log#<charge point id>"``, ``sk = "<UTC time, microseconds>#<seq>"`` (newest first by
a reverse Query of the charger's partition); ``text`` the frame, ``data`` JSON {direction,
connection_id}; TTL ``RETENTION`` after the frame. A frame costs one PutItem (~1 WCU up to 1 KB; a
32 KB frame 32); listing is a Query of one charger's partition (a search is a filter on it: it reads
that charger's frames, never the table). The switch is ``frame_log_until`` on the charger item,
read by the authorizer with the GetItem it makes anyway.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from pynamodb.exceptions import UpdateError

from adapters.dynamo import indexes
from adapters.dynamo.models import ChargerModel, ConsoleModel
from csms.ocpp.frame_log import RETENTION, LoggedFrame
from csms.ocpp.frame_log import stamp as _stamp
from csms.timeutil import iso

PREFIX = "log#"


def _frame(charge_point_id: str, item: ConsoleModel) -> LoggedFrame:
    data = json.loads(item.data or "{}")
    stamp, _, seq = item.sk.partition("#")
    at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return LoggedFrame(charge_point_id, at, data.get("direction", "?"), item.text or "", data.get("connection_id"), seq)


def _item(frame: LoggedFrame) -> ConsoleModel:
    return ConsoleModel(PREFIX + frame.charge_point_id, f"{_stamp(frame.at)}#{frame.seq}", text=frame.text,
                        data=json.dumps({"direction": frame.direction, "connection_id": frame.connection_id}),
                        expires_at=frame.at + RETENTION)


class DynamoFrameLog:
    """``FrameStore`` over ``ConsoleModel`` and the charger item's ``frame_log_until``."""

    def add(self, frame: LoggedFrame) -> None:
        _item(frame).save()

    def page(self, charge_point_id: str, limit: int, cursor: str | None = None, search: str | None = None,
             direction: str | None = None, after: datetime | None = None) -> tuple[list[LoggedFrame], str | None]:
        condition = ConsoleModel.sk > _stamp(after) + "#~" if after is not None else None  # "~" sorts after any seq
        filters = None
        if search:
            filters = ConsoleModel.text.contains(search)
        if direction:
            by_direction = ConsoleModel.data.contains(json.dumps({"direction": direction})[1:-1])
            filters = by_direction if filters is None else filters & by_direction

        def query(**kwargs):
            return ConsoleModel.query(PREFIX + charge_point_id, condition, filter_condition=filters,
                                      scan_index_forward=False, **kwargs)

        try:
            items, after_key = indexes.query_page(query, limit, cursor)
        except indexes.BadCursor as exc:
            raise ValueError(str(exc)) from exc
        return [_frame(charge_point_id, item) for item in items], after_key

    def switch(self, charge_point_id: str, until: datetime | None, now: datetime) -> bool:
        actions = [ChargerModel.frame_log_until.set(until) if until is not None else ChargerModel.frame_log_until.remove()]
        if until is not None:
            # the sweeper closes the current connection now (online-index); the next carries the switch
            actions.append(ChargerModel.close_at.set(iso(now)))
        try:
            ChargerModel(charge_point_id).update(actions=actions, condition=ChargerModel.charge_point_id.exists())
        except UpdateError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def switched_until(self, charge_point_id: str) -> datetime | None:
        try:
            item = ChargerModel.get(charge_point_id, attributes_to_get=["charge_point_id", "frame_log_until"])
        except ChargerModel.DoesNotExist:
            return None
        return item.frame_log_until
