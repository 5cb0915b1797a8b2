"""Units' allowances of large grid-demand events (``csms.charging.ports.AllowanceStore``,
``csms.charging.allowances``) in the events table (``GridItemModel``), read by key only:

| item | area | event_id | holds |
|---|---|---|---|
| allowance | ``allowance#<unit>`` (a site id, or ``cp:<id>``) | event id | ``data``: ``{"from": first slot (UTC ISO), "kw": [kW per 30-min slot], "run": the periodic run that recorded it}``; ``expires_at``: the event's end (TTL) |
| run mark | ``allowance#~run`` | event id | ``data``: ``{"run": the last periodic run that split the event's cap}`` (``csms.charging.allowances.run_mark``) |

A plug-in's re-plan reads its unit's allowances of every covering large event in one BatchGetItem
(0.5 RU each, eventually consistent: an allowance a few seconds old is still inside the cap, since
the periodic run writes the whole event window every run). The periodic run writes one item per
site and event (a 7-day event's 336 slots: ~2 KB, 2 WU) in BatchWriteItems of 25.
"""

from __future__ import annotations

import json
from datetime import datetime

from adapters.dynamo.models import GridItemModel
from csms.charging.allowances import Allowance
from csms.charging.tariff import SLOT
from csms.timeutil import iso, parse_ts

AREA = "allowance#"


def _item(allowance: Allowance, until: datetime) -> GridItemModel:
    data = json.dumps({"from": iso(allowance.starts[0]) if allowance.starts else None, "kw": list(allowance.kw),
                       "run": allowance.run})
    return GridItemModel(AREA + allowance.unit, allowance.event_id, data=data, expires_at=until)


def _allowance(item: GridItemModel) -> Allowance:
    data = json.loads(item.data or "{}")
    first = parse_ts(data["from"]) if data.get("from") else None
    kw = tuple(float(k) for k in data.get("kw", ()))
    starts = tuple(first + n * SLOT for n in range(len(kw))) if first is not None else ()
    return Allowance(item.event_id, item.area[len(AREA):], starts, kw if starts else (), str(data.get("run") or ""))


class DynamoAllowances:
    """``csms.charging.ports.AllowanceStore`` on DynamoDB."""

    def put_allowances(self, allowances: list[Allowance], until: datetime) -> None:
        with GridItemModel.batch_write() as batch:
            for allowance in allowances:
                batch.save(_item(allowance, until))

    def allowances(self, unit: str, event_ids: list[str]) -> dict[str, Allowance]:
        keys = [(AREA + unit, e) for e in sorted(set(event_ids))]
        return {i.event_id: _allowance(i) for i in GridItemModel.batch_get(keys, consistent_read=False)} if keys else {}


def fleet_chargers() -> int:
    """Every registered charger, counted on the keys-only fleet index (``Select=COUNT`` Queries, ~1 MB
    of keys each: ~20 for 1,000,000 chargers). Only when an operator creates a fleet-wide event."""
    from adapters.dynamo import indexes
    from adapters.dynamo.models import ChargerModel

    return ChargerModel.fleet_index.count(indexes.FLEET)
