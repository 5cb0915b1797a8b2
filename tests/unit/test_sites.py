"""Sites with their own limits, and an event across many sites coordinated by prices: every limit
held, every need met that can be, and the cost close to the exact LP of all the sites at once."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from csms.charging import backtest, planner, sites, tariff
from csms.charging.sites import Site
from csms.charging.tariff import SLOT

DATA = Path(__file__).resolve().parents[2] / "data"
T0 = datetime(2024, 6, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def fleet():
    """400 real ACN sessions re-timed onto two days of real GB prices, on sites of 1-50 chargers;
    sites of 3 or more chargers have a connection limit of 35 % of their chargers' power."""
    signals = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    window = signals.window(signals.starts[-96], signals.starts[-1] + SLOT)
    cost = np.array([p + 100 * c / 1e4 for p, c in zip(window.price_p_per_kwh, window.carbon_g_per_kwh)])
    rng = random.Random(3)
    vehicles = backtest.retime(rng.choices(backtest.load_acn_sessions(DATA / "ev_sessions_acn.csv"), k=400),
                               window.starts[0], window.starts[-1] + SLOT, rng)
    groups, i = [], 0
    while i < len(vehicles):
        size = rng.randint(1, 50)
        members = vehicles[i:i + size]
        groups.append((Site(f"site-{len(groups)}", None if size < 3 else round(size * 7.4 * 0.35, 1)), members))
        i += size
    return list(window.starts), cost, groups


def _site_loads(result):
    return [p.slot_power() for p in result.plans]


def test_each_site_keeps_its_own_limit_and_meets_every_need(fleet):
    starts, cost, groups = fleet
    result = sites.plan_sites(starts, cost, groups)
    assert any(p.method == "lp" for p in result.plans)  # some site limit binds
    for (site, _), load in zip(groups, _site_loads(result)):
        if site.limit_kw is not None:
            assert load.max() <= site.limit_kw + 1e-6
    assert result.unmet_kwh() == pytest.approx(0, abs=1e-6)


def test_an_event_across_sites_is_held_needs_met_and_cost_near_the_exact_lp(fleet):
    starts, cost, groups = fleet
    free = sites.plan_sites(starts, cost, groups).load()
    cap = np.full(len(starts), np.inf)
    cap[:] = 0.8 * free.max()  # the event binds: the free plans peak above it
    result = sites.coordinate(starts, cost, groups, cap)
    optimum = sites.exact(starts, cost, groups, cap)
    assert result.load().max() <= cap.max() + 1e-6  # the held cap is never exceeded
    for (site, _), load in zip(groups, _site_loads(result)):
        if site.limit_kw is not None:
            assert load.max() <= site.limit_kw + 1e-6
    assert optimum.unmet_kwh().sum() == pytest.approx(0, abs=1e-6)  # the cap can meet every need ...
    assert result.unmet_kwh() == pytest.approx(0, abs=1e-3)  # ... and the coordinated plans do
    gap = (result.cost() - optimum.cost()) / optimum.cost()
    assert 0 <= gap < 0.01


def test_a_site_limit_binds_only_its_own_chargers():
    a = [planner.Vehicle(f"a{i}", T0, T0 + 2 * SLOT, 3.7, 7.4) for i in range(2)]
    b = [planner.Vehicle(f"b{i}", T0, T0 + 2 * SLOT, 3.7, 7.4) for i in range(2)]
    starts = [T0, T0 + SLOT]
    result = sites.plan_sites(starts, np.array([1.0, 20.0]), [(Site("house", 7.4), a), (Site("depot"), b)])
    house, depot = _site_loads(result)
    assert house == pytest.approx([7.4, 7.4])  # the fuse spreads the house over both slots
    assert depot == pytest.approx([14.8, 0.0])  # the unlimited depot takes the cheap slot
