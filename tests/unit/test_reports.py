"""Session cost maths: energy spread across half-hour slots, unpriced energy, meter resets."""

from datetime import datetime, timedelta, timezone

import pytest

from csms.model import MeterSample, Session
from csms.views.reports import session_report, spread
from csms.charging.tariff import Signals

T0 = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)


def _signals(prices, carbon):
    starts = tuple(T0 + timedelta(minutes=30 * i) for i in range(len(prices)))
    return Signals(starts, tuple(prices), tuple(carbon), tuple(carbon))


def _session(stop_wh=None, stop_at=None):
    return Session("CP", 1, 1, "TAG", 0, T0, T0, stopped_at=stop_at, meter_stop_wh=stop_wh)


def _sample(minutes, wh, w=None):
    return MeterSample("CP", 1, T0 + timedelta(minutes=minutes), "mv", transaction_id=1, energy_wh=wh, power_w=w)


def test_spread_splits_at_slot_boundaries():
    parts = list(spread(T0 + timedelta(minutes=20), T0 + timedelta(minutes=80), 6000))
    assert parts == [(T0, 1000), (T0 + timedelta(minutes=30), 3000), (T0 + timedelta(minutes=60), 2000)]
    assert list(spread(T0, T0, 100)) == [] and list(spread(T0, T0 + timedelta(minutes=5), 0)) == []


def test_energy_outside_the_price_window_is_reported_unpriced():
    # 1 kWh in 18:00-18:30 (priced at 20p), 1 kWh in 18:30-19:00 (no price stored)
    report = session_report(_session(2000, T0 + timedelta(hours=1)), [_sample(30, 1000)], _signals([20.0], [100.0]))
    assert report.energy_kwh == 2.0 and report.unpriced_kwh == pytest.approx(1.0)
    assert report.cost_gbp == pytest.approx(0.20) and report.co2_kg == pytest.approx(0.1)
    assert report.savings_gbp is None  # a comparison with half the energy unpriced would mislead


def test_no_signals_at_all_gives_energy_without_cost():
    report = session_report(_session(3000, T0 + timedelta(hours=1)), [], None)
    assert report.energy_kwh == 3.0 and report.cost_gbp is None and report.co2_kg is None


def test_a_register_reading_that_goes_backwards_is_left_out():
    # A reading of 100 Wh between 2000 and 3000 (another meter, a reset) would count energy twice
    samples = [_sample(10, 2000), _sample(20, 100), _sample(30, 3000)]
    report = session_report(_session(3000, T0 + timedelta(minutes=30)), samples, _signals([10.0], [50.0]))
    assert report.energy_kwh == 3.0 and report.cost_gbp == pytest.approx(0.30)


def test_an_active_session_counts_up_to_its_latest_reading():
    report = session_report(_session(), [_sample(15, 1500, 6000)], _signals([10.0, 40.0], [0.0, 0.0]))
    assert report.energy_kwh == 1.5 and report.cost_gbp == pytest.approx(0.15)
    assert report.immediate_cost_gbp == pytest.approx(0.15)  # 1.5 kWh at 6 kW: 15 minutes, same slot
