"""Price and carbon-intensity feeds, parsed into half-hourly rows; grid-demand events.

Providers share one shape: ``rows(payload) -> list[SignalRow]``. Formats:

* Octopus Energy Agile unit rates (``GET /v1/products/{product}/electricity-tariffs/{tariff}/
  standard-unit-rates/``): ``{"results": [{"value_inc_vat": p/kWh, "valid_from": ISO, "valid_to": ISO}]}``;
  a rate longer than 30 minutes is split into half-hours.
* GB Carbon Intensity API (``GET /intensity/{from}/fw48h``): ``{"data": [{"from": ISO, "to": ISO,
  "intensity": {"forecast": g/kWh, "actual": g/kWh or null, "index": "..."}}]}``.
* CSV upload: the files ``csms.charging.tariff.load`` reads.

Merging (``merge``): a slot is usable when it has a price; carbon missing for a priced slot is
interpolated between the nearest known forecasts (the same rule as ``csms.charging.tariff``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Iterable, cast

from csms.charging.tariff import SLOT, Signals, slot_start
from csms.timeutil import BadTimestamp, parse_ts


class FeedError(ValueError):
    """A feed answer that cannot be used (names the feed and the item)."""


@dataclass(frozen=True)
class DemandEvent:
    """A grid-demand event: aggregate fleet power at most ``cap_kw`` from ``start`` to ``end``."""

    start: datetime
    end: datetime
    cap_kw: float


@dataclass(frozen=True)
class SignalRow:
    start: datetime
    price_p_per_kwh: float | None = None
    carbon_forecast: float | None = None
    carbon_actual: float | None = None


def _time(feed: str, i: int, value: Any) -> datetime:
    try:
        return parse_ts(str(value))
    except (BadTimestamp, ValueError) as exc:
        raise FeedError(f"{feed}: item {i}: unreadable time {value!r}") from exc


def _number(feed: str, i: int, value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FeedError(f"{feed}: item {i}: {name} {value!r} is not a number")
    return float(value)


def octopus_rows(payload: dict) -> list[SignalRow]:
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list):
        raise FeedError("octopus: no 'results' list")
    rows = []
    for i, item in enumerate(results):
        if not isinstance(item, dict):
            raise FeedError(f"octopus: item {i} is not an object")
        start = _time("octopus", i, item.get("valid_from"))
        end = _time("octopus", i, item["valid_to"]) if item.get("valid_to") else start + SLOT
        price = _number("octopus", i, item.get("value_inc_vat"), "value_inc_vat")
        if price is None:
            raise FeedError(f"octopus: item {i}: no value_inc_vat")
        at = start
        while at < end:
            rows.append(SignalRow(at, price_p_per_kwh=price))
            at += SLOT
    return rows


def carbon_intensity_rows(payload: dict) -> list[SignalRow]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise FeedError("carbon-intensity: no 'data' list")
    rows = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("intensity"), dict):
            raise FeedError(f"carbon-intensity: item {i} has no 'intensity'")
        intensity = item["intensity"]
        rows.append(SignalRow(_time("carbon-intensity", i, item.get("from")),
                              carbon_forecast=_number("carbon-intensity", i, intensity.get("forecast"), "forecast"),
                              carbon_actual=_number("carbon-intensity", i, intensity.get("actual"), "actual")))
    return rows


def combine(*feeds: Iterable[SignalRow]) -> list[SignalRow]:
    """Rows of several feeds merged per slot (later feeds fill what earlier ones left empty)."""
    by_start: dict[datetime, SignalRow] = {}
    for feed in feeds:
        for row in feed:
            old = by_start.get(row.start)
            if old is None:
                by_start[row.start] = row
            else:
                by_start[row.start] = replace(
                    old,
                    price_p_per_kwh=row.price_p_per_kwh if row.price_p_per_kwh is not None else old.price_p_per_kwh,
                    carbon_forecast=row.carbon_forecast if row.carbon_forecast is not None else old.carbon_forecast,
                    carbon_actual=row.carbon_actual if row.carbon_actual is not None else old.carbon_actual)
    return [by_start[s] for s in sorted(by_start)]


def to_signals(rows: list[SignalRow]) -> Signals | None:
    """The longest contiguous priced run from the first priced slot, carbon gaps interpolated.
    None when no slot has a price."""
    priced = [r for r in sorted(rows, key=lambda r: r.start) if r.price_p_per_kwh is not None]
    if not priced:
        return None
    run = [priced[0]]
    for row in priced[1:]:
        if row.start - run[-1].start != SLOT:
            break
        run.append(row)
    known = sorted((r.start, r.carbon_forecast) for r in rows if r.carbon_forecast is not None)
    times = [t for t, _ in known]
    filled, carbon = 0, cast("list[float]", [])
    for row in run:
        if row.carbon_forecast is not None:
            carbon.append(row.carbon_forecast)
            continue
        filled += 1
        if not known:
            carbon.append(0.0)  # no carbon data at all: price alone decides
            continue
        i = bisect.bisect_left(times, row.start)
        if i == 0:
            carbon.append(known[0][1])
        elif i == len(known):
            carbon.append(known[-1][1])
        else:
            (t0, c0), (t1, c1) = known[i - 1], known[i]
            carbon.append(c0 + (row.start - t0) / (t1 - t0) * (c1 - c0))
    actual = [r.carbon_actual if r.carbon_actual is not None else c for r, c in zip(run, carbon)]
    return Signals(tuple(r.start for r in run), tuple(cast(float, r.price_p_per_kwh) for r in run), tuple(carbon), tuple(actual),
                   filled)


def rows_from_signals(signals: Signals) -> list[SignalRow]:
    """A CSV upload (``csms.charging.tariff.load``) as rows to store."""
    return [SignalRow(s, p, f, a if a != f else None) for s, p, f, a in
            zip(signals.starts, signals.price_p_per_kwh, signals.carbon_g_per_kwh, signals.carbon_actual_g_per_kwh)]


def horizon(now: datetime, hours: int = 48) -> tuple[datetime, datetime]:
    start = slot_start(now)
    return start, start + timedelta(hours=hours)
