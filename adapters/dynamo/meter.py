"""Meter samples (``csms.ocpp.ports.MeterRepository``): every meterValue element, normalised, one
stream per connector; a resent message overwrites itself. MeterValues = 1 PutItem."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Iterable

from adapters.dynamo.models import MeterSampleModel
from csms.model import MeterSample, Reading
from csms.timeutil import iso

METER_RETENTION_DAYS = 396  # 13 months in DynamoDB (then only in the S3 archive); Settings can change it


def _stream(charge_point_id: str, connector_id: int) -> str:
    return f"{charge_point_id}#{connector_id}"


def _sample_item(s: MeterSample, retention: timedelta = timedelta(days=METER_RETENTION_DAYS)) -> MeterSampleModel:
    readings = [[r.measurand, r.value, r.unit, r.phase, r.context, r.location] for r in s.readings]
    return MeterSampleModel(
        _stream(s.charge_point_id, s.connector_id),
        f"{iso(s.timestamp)}#{s.source}",
        transaction_id=s.transaction_id,
        power_w=s.power_w,
        energy_wh=s.energy_wh,
        readings=json.dumps(readings, separators=(",", ":")),
        received_at=s.received_at,
        # TTL from the sample's own time, so a late-delivered old sample does not outlive its peers
        expires_at=max(s.timestamp, s.received_at or s.timestamp) + retention,
    )


def _sample_from(item: MeterSampleModel) -> MeterSample:
    cp, _, connector = item.stream.rpartition("#")
    stamp, _, source = item.sample_key.partition("#")
    readings = tuple(Reading(m, v, u, ph, c, loc) for m, v, u, ph, c, loc in json.loads(item.readings))
    return MeterSample(
        charge_point_id=cp,
        connector_id=int(connector),
        timestamp=datetime.fromisoformat(stamp.replace("Z", "+00:00")),
        source=source,
        readings=readings,
        transaction_id=int(item.transaction_id) if item.transaction_id is not None else None,
        power_w=float(item.power_w) if item.power_w is not None else None,
        energy_wh=float(item.energy_wh) if item.energy_wh is not None else None,
        received_at=item.received_at,
    )


class DynamoMeter:
    def __init__(self, retention_days: int = METER_RETENTION_DAYS):
        self.retention = timedelta(days=retention_days)

    def put(self, samples: Iterable[MeterSample]) -> None:
        self._write([_sample_item(s, self.retention) for s in samples])

    def _write(self, items: list[MeterSampleModel]) -> None:
        """One PutItem for one item, BatchWriteItem requests of 25 for more (pynamodb retries
        unprocessed items, then raises ``PutError``)."""
        if len(items) == 1:
            items[0].save()
        elif items:
            with MeterSampleModel.batch_write() as batch:
                for item in items:
                    batch.save(item)

    def between(self, charge_point_id: str, connector_id: int, start: datetime, end: datetime | None) -> list[MeterSample]:
        upper = iso(end) + "#~" if end is not None else "~"
        return [
            _sample_from(i)
            for i in MeterSampleModel.query(
                _stream(charge_point_id, connector_id),
                MeterSampleModel.sample_key.between(iso(start), upper),
                consistent_read=True,
            )
        ]

    def for_transaction(self, charge_point_id: str, connector_id: int, transaction_id: int,
                        start: datetime | None = None, stop: datetime | None = None) -> list[MeterSample]:
        """The transaction's samples. With ``start`` (and ``stop``; None = still open) only that key
        range of the connector's stream is read: a session view costs its own samples, not the
        connector's whole history."""
        lower = iso(start) if start is not None else "0"  # every ISO key sorts after "0"
        upper = iso(stop) + "#~" if stop is not None else "~"
        return [
            _sample_from(i)
            for i in MeterSampleModel.query(
                _stream(charge_point_id, connector_id),
                MeterSampleModel.sample_key.between(lower, upper),
                filter_condition=MeterSampleModel.transaction_id == transaction_id,
            )
        ]

    def latest(self, charge_point_id: str, connector_id: int) -> MeterSample | None:
        for item in MeterSampleModel.query(_stream(charge_point_id, connector_id), scan_index_forward=False, limit=1):
            return _sample_from(item)
        return None
