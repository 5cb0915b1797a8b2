"""Smart charging's inputs (``csms.charging.ports``): half-hourly price and carbon rows, and
grid-demand (DNO) events, per area."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterable

from pynamodb.exceptions import UpdateError

from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import GridEventModel, SignalModel
from csms.charging.signals import DemandEvent, SignalRow, to_signals
from csms.charging.tariff import Signals
from csms.timeutil import iso, parse_ts

SIGNAL_KEEP = timedelta(days=40)


class DynamoSignals:
    """Half-hourly price and carbon rows per area; the scheduler reads a window of them."""

    def __init__(self, area: str = "GB"):
        self.area = area

    def put(self, rows: Iterable[SignalRow], at: datetime) -> int:
        """Store rows; a row's empty fields keep what is stored (a price feed does not erase carbon)."""
        count = 0
        for row in rows:
            actions = [SignalModel.updated_at.set(at), SignalModel.expires_at.set(row.start + SIGNAL_KEEP)]
            if row.price_p_per_kwh is not None:
                actions.append(SignalModel.price.set(row.price_p_per_kwh))
            if row.carbon_forecast is not None:
                actions.append(SignalModel.carbon_forecast.set(row.carbon_forecast))
            if row.carbon_actual is not None:
                actions.append(SignalModel.carbon_actual.set(row.carbon_actual))
            SignalModel(self.area, iso(row.start)).update(actions=actions)
            count += 1
        return count

    def rows(self, start: datetime, end: datetime) -> list[SignalRow]:
        items = SignalModel.query(self.area, SignalModel.start.between(iso(start), iso(end)))
        return [SignalRow(parse_ts(i.start), i.price, i.carbon_forecast, i.carbon_actual) for i in items]

    def window(self, start: datetime, end: datetime) -> Signals | None:
        return to_signals(self.rows(start, end))


class DynamoEvents:
    """Grid-demand events per area."""

    def __init__(self, area: str = "GB"):
        self.area = area

    def add(self, start: datetime, end: datetime, cap_kw: float) -> str:
        """Stores the event as given: its checks are the domain's (``csms.charging.operations``)."""
        event_id = f"{start.astimezone(timezone.utc):%Y%m%dT%H%MZ}-{uuid.uuid4().hex[:8]}"  # URL-safe (the API's path), sorts by start
        GridEventModel(self.area, event_id, start=start, end=end, cap_kw=cap_kw,
                       expires_at=end + SIGNAL_KEEP).save()
        return event_id

    def cancel(self, event_id: str) -> bool:
        try:
            GridEventModel(self.area, event_id).update(actions=[GridEventModel.cancelled.set(True)],
                                                      condition=GridEventModel.event_id.exists())
            return True
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise

    def listed(self, now: datetime) -> list[tuple[str, DemandEvent, bool]]:
        """(id, event, cancelled) of every event that ends after ``now``, oldest first."""
        return [(i.event_id, DemandEvent(i.start, i.end, i.cap_kw), bool(i.cancelled))
                for i in GridEventModel.query(self.area) if i.end > now]

    def active(self, now: datetime) -> list[DemandEvent]:
        """Events not cancelled that end after ``now``."""
        return [DemandEvent(i.start, i.end, i.cap_kw) for i in GridEventModel.query(self.area)
                if not i.cancelled and i.end > now]
