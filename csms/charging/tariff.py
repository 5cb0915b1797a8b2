"""Half-hourly price and carbon-intensity series, and what energy at a given time costs.

CSV formats (see data/README.md): prices ``start_utc,price_p_per_kwh_inc_vat``;
carbon ``start_utc,forecast_gco2_per_kwh,actual_gco2_per_kwh``. Missing carbon slots
(the shared file has a 22-slot gap) are filled by linear interpolation between the
nearest known slots (the nearest one at the ends); the count filled is kept.
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from csms.timeutil import BadTimestamp, parse_ts

SLOT = timedelta(minutes=30)


def slot_start(at: datetime) -> datetime:
    """The start of the half-hour slot ``at`` falls in."""
    return at.replace(minute=0 if at.minute < 30 else 30, second=0, microsecond=0)


class SignalFileError(ValueError):
    """A price or carbon file that cannot be used; names the file and row."""


@dataclass(frozen=True)
class Signals:
    starts: tuple[datetime, ...]
    price_p_per_kwh: tuple[float, ...]
    carbon_g_per_kwh: tuple[float, ...]  # forecast (what a planner may know)
    carbon_actual_g_per_kwh: tuple[float, ...]  # actual where published, else the forecast (for scoring)
    filled_carbon_slots: int = 0

    def index(self, at: datetime) -> int:
        i = bisect.bisect_right(self.starts, at) - 1
        if i < 0 or at >= self.starts[-1] + SLOT:
            raise KeyError(f"{at.isoformat()} is outside the price window")
        return i

    def price_at(self, at: datetime) -> float:
        return self.price_p_per_kwh[self.index(at)]

    def carbon_at(self, at: datetime, actual: bool = True) -> float:
        series = self.carbon_actual_g_per_kwh if actual else self.carbon_g_per_kwh
        return series[self.index(at)]

    def window(self, start: datetime, end: datetime) -> "Signals":
        lo, hi = bisect.bisect_left(self.starts, start), bisect.bisect_left(self.starts, end)
        return Signals(self.starts[lo:hi], self.price_p_per_kwh[lo:hi], self.carbon_g_per_kwh[lo:hi],
                       self.carbon_actual_g_per_kwh[lo:hi], self.filled_carbon_slots)


def _rows(path: Path, required: list[str]):
    try:
        handle = path.open(newline="")
    except OSError as exc:
        raise SignalFileError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise SignalFileError(f"{path}: missing column(s) {', '.join(missing)}")
        for number, row in enumerate(reader, start=2):
            yield number, row


def _time(path: Path, number: int, value: str) -> datetime:
    try:
        return parse_ts(value)
    except BadTimestamp as exc:
        raise SignalFileError(f"{path}:{number}: unreadable time {value!r}") from exc


def _number(path: Path, number: int, value: str, column: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise SignalFileError(f"{path}:{number}: {column} {value!r} is not a number") from exc


def _prices(prices_csv: Path) -> dict[datetime, float]:
    prices: dict[datetime, float] = {}
    row_of: dict[datetime, int] = {}
    for number, row in _rows(prices_csv, ["start_utc", "price_p_per_kwh_inc_vat"]):
        at = _time(prices_csv, number, row["start_utc"])
        prices[at] = _number(prices_csv, number, row["price_p_per_kwh_inc_vat"], "price")
        row_of[at] = number
    if not prices:
        raise SignalFileError(f"{prices_csv}: no rows")
    starts = sorted(prices)
    for previous, current in zip(starts, starts[1:]):
        if current - previous != SLOT:
            raise SignalFileError(f"{prices_csv}:{row_of[current]}: prices jump from {previous.isoformat()} to "
                                  f"{current.isoformat()} (half-hourly slots without gaps are required)")
    return prices


def load_prices(prices_csv: str | Path) -> list[datetime]:
    """The price window's slot starts (validated as ``load`` does)."""
    return sorted(_prices(Path(prices_csv)))


def load(prices_csv: str | Path, carbon_csv: str | Path) -> Signals:
    prices_csv, carbon_csv = Path(prices_csv), Path(carbon_csv)
    prices = _prices(prices_csv)
    starts = sorted(prices)
    forecast: dict[datetime, float] = {}
    actual: dict[datetime, float] = {}
    for number, row in _rows(carbon_csv, ["start_utc", "forecast_gco2_per_kwh", "actual_gco2_per_kwh"]):
        at = _time(carbon_csv, number, row["start_utc"])
        if row["forecast_gco2_per_kwh"] not in ("", None):
            forecast[at] = _number(carbon_csv, number, row["forecast_gco2_per_kwh"], "forecast")
        if row["actual_gco2_per_kwh"] not in ("", None):
            actual[at] = _number(carbon_csv, number, row["actual_gco2_per_kwh"], "actual")
    if not forecast:
        raise SignalFileError(f"{carbon_csv}: no forecast values")
    known = sorted(forecast)
    filled = 0
    carbon: list[float] = []
    for at in starts:
        if at in forecast:
            carbon.append(forecast[at])
            continue
        filled += 1
        i = bisect.bisect_left(known, at)
        if i == 0:
            carbon.append(forecast[known[0]])
        elif i == len(known):
            carbon.append(forecast[known[-1]])
        else:
            before, after = known[i - 1], known[i]
            share = (at - before) / (after - before)
            carbon.append(forecast[before] + share * (forecast[after] - forecast[before]))
    scored = [actual.get(at, c) for at, c in zip(starts, carbon)]
    return Signals(tuple(starts), tuple(prices[s] for s in starts), tuple(carbon), tuple(scored), filled)


def replayed(signals: Signals, now: datetime, days: int = 2) -> Signals:
    """The recorded series replayed onto the days from ``now`` (UTC midnight on): day k of the
    replay takes day (k mod n) of the n whole recorded days, slot by slot. Used where no live
    feed is reachable (the local platform), so the scheduler always has a realistic day ahead."""
    slots_per_day = int(timedelta(days=1) / SLOT)
    first = 0
    while first < len(signals.starts) and (signals.starts[first].hour, signals.starts[first].minute) != (0, 0):
        first += 1
    recorded_days = (len(signals.starts) - first) // slots_per_day
    if recorded_days < 1:
        raise ValueError("a replay needs at least one whole recorded day")
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
    base = (day0.date() - signals.starts[first].date()).days
    starts, prices, forecast, actual = [], [], [], []
    for k in range(days * slots_per_day):
        day, slot = divmod(k, slots_per_day)
        source = first + ((base + day) % recorded_days) * slots_per_day + slot
        starts.append(day0 + k * SLOT)
        prices.append(signals.price_p_per_kwh[source])
        forecast.append(signals.carbon_g_per_kwh[source])
        actual.append(signals.carbon_actual_g_per_kwh[source])
    return Signals(tuple(starts), tuple(prices), tuple(forecast), tuple(actual), signals.filled_carbon_slots)
