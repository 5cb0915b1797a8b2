"""What a session cost: energy from the meter register, cost at the price in force, CO2 at the
grid's actual intensity, and the saving against charging at once on plug-in.

Pure: the caller passes the session, its meter samples and the half-hourly signals.

* Energy between two register readings is taken as drawn evenly between them and split across
  the half-hour slots it spans; each part costs that slot's price and emits that slot's actual
  carbon intensity (the forecast where no actual was published). Energy in a slot without a
  price is reported as ``unpriced_kwh`` (cost and CO2 then cover the priced part only).
* The plug-in counterfactual draws the same energy from the start of the session at the
  session's highest measured power (or ``DEFAULT_POWER_W``) without a pause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from csms.charging.defaults import DEFAULT_MAX_POWER_W
from csms.model import MeterSample, Session
from csms.charging.tariff import SLOT, Signals, slot_start

DEFAULT_POWER_W = DEFAULT_MAX_POWER_W


@dataclass(frozen=True)
class TimelinePoint:
    at: datetime
    energy_wh: float | None  # register reading (relative to the session's start)
    power_w: float | None


@dataclass(frozen=True)
class SessionReport:
    energy_kwh: float
    cost_gbp: float | None  # None: no price known for any of the energy
    co2_kg: float | None
    unpriced_kwh: float
    immediate_cost_gbp: float | None
    immediate_co2_kg: float | None
    savings_gbp: float | None
    timeline: list[TimelinePoint] = field(default_factory=list)


def _register_points(session: Session, samples: list[MeterSample]) -> list[tuple[datetime, float]]:
    """(time, register Wh) in time order, from the start reading to the stop reading; a reading
    below an earlier one (a meter reset, a reading from another meter) is left out."""
    points = [(session.started_at, float(session.meter_start_wh))]
    for s in sorted(samples, key=lambda x: x.timestamp):
        if s.energy_wh is not None and session.started_at < s.timestamp and (
                session.stopped_at is None or s.timestamp < session.stopped_at):
            points.append((s.timestamp, s.energy_wh))
    if session.stopped_at is not None and session.meter_stop_wh is not None:
        points.append((session.stopped_at, float(session.meter_stop_wh)))
    kept = [points[0]]
    for at, wh in points[1:]:
        if wh >= kept[-1][1] and at > kept[-1][0]:
            kept.append((at, wh))
    return kept


def spread(start: datetime, end: datetime, wh: float):
    """Yield (slot start, Wh) for energy drawn evenly over [start, end]."""
    total = (end - start).total_seconds()
    if wh <= 0 or total <= 0:
        return
    at = start
    while at < end:
        slot = slot_start(at)
        upto = min(end, slot + SLOT)
        yield slot, wh * (upto - at).total_seconds() / total
        at = upto


def _price(signals: Signals | None, slot: datetime) -> tuple[float, float] | None:
    if signals is None or not signals.starts:
        return None
    try:
        return signals.price_at(slot), signals.carbon_at(slot, actual=True)
    except KeyError:
        return None


def _cost(parts, signals: Signals | None) -> tuple[float, float, float]:
    """(pence, grams, unpriced Wh) of (slot, Wh) parts."""
    pence = grams = unpriced = 0.0
    for slot, wh in parts:
        known = _price(signals, slot)
        if known is None:
            unpriced += wh
            continue
        pence += wh / 1000 * known[0]
        grams += wh / 1000 * known[1]
    return pence, grams, unpriced


def session_report(session: Session, samples: list[MeterSample], signals: Signals | None) -> SessionReport:
    points = _register_points(session, samples)
    parts = []
    for (t0, e0), (t1, e1) in zip(points, points[1:]):
        parts.extend(spread(t0, t1, e1 - e0))
    energy_wh = points[-1][1] - points[0][1]
    pence, grams, unpriced = _cost(parts, signals)
    priced = energy_wh - unpriced > 1e-9
    powers = [s.power_w for s in samples if s.power_w is not None and s.power_w > 0]
    power = max(powers) if powers else (session.max_power_w or DEFAULT_POWER_W)
    immediate = list(spread(session.started_at, session.started_at + timedelta(hours=energy_wh / power), energy_wh))
    i_pence, i_grams, i_unpriced = _cost(immediate, signals)
    both_priced = priced and unpriced < 1e-6 and i_unpriced < 1e-6
    start_wh = float(session.meter_start_wh)
    timeline = [
        TimelinePoint(s.timestamp, None if s.energy_wh is None else s.energy_wh - start_wh, s.power_w)
        for s in sorted(samples, key=lambda x: x.timestamp)
    ]
    return SessionReport(
        energy_kwh=round(energy_wh / 1000, 6),
        cost_gbp=round(pence / 100, 4) if priced else None,
        co2_kg=round(grams / 1000, 4) if priced else None,
        unpriced_kwh=round(unpriced / 1000, 6),
        immediate_cost_gbp=round(i_pence / 100, 4) if both_priced else None,
        immediate_co2_kg=round(i_grams / 1000, 4) if both_priced else None,
        savings_gbp=round((i_pence - pence) / 100, 4) if both_priced else None,
        timeline=timeline,
    )
