"""Smart-charging plans: cheapest and cleanest slots first, energy met by departure, sent only on change."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from csms.charging.scheduler import Interval, PlugIn, Preference, SmartScheduler, periods, slot_cost, sort_and_fill
from csms.charging.tariff import Signals

T0 = datetime(2024, 6, 12, 0, tzinfo=timezone.utc)


def _signals(prices, carbon=None):
    starts = tuple(T0 + timedelta(minutes=30 * i) for i in range(len(prices)))
    carbon = carbon or [100.0] * len(prices)
    return Signals(starts, tuple(prices), tuple(carbon), tuple(carbon))


def _energy(plan):
    return sum(p.power_w * (p.end - p.start).total_seconds() / 3600 for p in plan)


def test_fills_the_cheapest_slots_first_and_meets_the_energy():
    signals = _signals([30, 10, 20, 5, 40, 15])
    plan = sort_and_fill(T0, T0 + timedelta(hours=3), 7400, 7400, signals, carbon_price=0)
    assert _energy(plan) == pytest.approx(7400)
    charged = [p for p in plan if p.power_w > 0]
    assert [(p.start - T0) / timedelta(minutes=30) for p in charged] == [1, 3]  # 10p and 5p slots


def test_carbon_price_moves_charging_to_cleaner_slots():
    signals = _signals([10, 11], carbon=[300, 50])
    assert sort_and_fill(T0, T0 + timedelta(hours=1), 3000, 7400, signals, carbon_price=0)[0].power_w > 0
    plan = sort_and_fill(T0, T0 + timedelta(hours=1), 3000, 7400, signals, carbon_price=100)
    assert plan[0].power_w == 0 and plan[-1].power_w > 0  # 10 + 3 p > 11 + 0.5 p


def test_infeasible_need_gets_every_usable_slot():
    signals = _signals([10, 20])
    plan = sort_and_fill(T0, T0 + timedelta(hours=1), 50_000, 7000, signals)
    assert _energy(plan) == pytest.approx(7000) and all(p.power_w == 7000 for p in plan)


def test_partial_slots_at_plug_in_and_departure_count_pro_rata():
    signals = _signals([10, 10, 10])
    start, end = T0 + timedelta(minutes=20), T0 + timedelta(minutes=70)
    plan = sort_and_fill(start, end, 100_000, 6000, signals)
    assert plan[0].start == start and plan[-1].end == end
    assert _energy(plan) == pytest.approx(6000 * 50 / 60)


@settings(max_examples=60, deadline=None)
@given(prices=st.lists(st.floats(min_value=-10, max_value=50), min_size=2, max_size=12),
       energy=st.floats(min_value=0, max_value=60_000), power=st.floats(min_value=1000, max_value=22_000))
def test_single_vehicle_plan_equals_the_lp_optimum(prices, energy, power):
    signals = _signals(prices)
    departure = T0 + timedelta(minutes=30 * len(prices))
    plan = sort_and_fill(T0, departure, energy, power, signals, carbon_price=0)
    ours = 0.0
    for p in plan:  # price each slot an interval spans
        at = p.start
        while at < p.end:
            end = min(p.end, signals.starts[signals.index(at)] + timedelta(minutes=30))
            ours += p.power_w * (end - at).total_seconds() / 3600 * slot_cost(signals.price_at(at), 100, 0)
            at = end
    capacity = power * 0.5
    deliverable = min(energy, capacity * len(prices))
    lp = linprog(prices, A_eq=[[1.0] * len(prices)], b_eq=[deliverable], bounds=[(0, capacity)] * len(prices),
                 method="highs")
    assert lp.status == 0
    assert ours == pytest.approx(lp.fun, rel=1e-6, abs=1e-3)
    assert _energy(plan) == pytest.approx(deliverable, rel=1e-6, abs=1e-3)


def test_periods_start_at_zero_for_the_charging_profile():
    plan = [Interval(T0, T0 + timedelta(minutes=30), 0), Interval(T0 + timedelta(minutes=30), T0 + timedelta(hours=1), 7000)]
    assert periods(plan, T0) == [(0, 0), (1800, 7000)]


class _Sink:
    def __init__(self):
        self.sent, self.hashes = [], {}

    def send(self, plug, plan, now):
        self.sent.append((plug.transaction_id, plan))
        return True

    def saved(self, plug, plan, digest):
        self.hashes[plug.transaction_id] = digest


def test_profiles_are_sent_only_when_the_plan_changes():
    signals = _signals([30, 10, 20, 5, 40, 15] * 4)
    clock = itertools.count()
    sink = _Sink()
    scheduler = SmartScheduler(lambda: signals, sink, lambda: T0 + timedelta(minutes=next(clock)), carbon_price=0)
    plug = PlugIn("CP", 1, 7, T0, 0.0, 7400, Preference(T0 + timedelta(hours=6), 10))
    assert scheduler.run([plug]).sent == 1
    again = PlugIn("CP", 1, 7, T0, 0.0, 7400, Preference(T0 + timedelta(hours=6), 10), sink.hashes[7])
    assert scheduler.run([again]).unchanged == 1 and len(sink.sent) == 1
    changed = PlugIn("CP", 1, 7, T0, 0.0, 7400, Preference(T0 + timedelta(hours=2), 10), sink.hashes[7])
    assert scheduler.run([changed]).sent == 1 and len(sink.sent) == 2


def test_charge_now_overrides_the_plan():
    signals = _signals([30, 10] * 10)
    sink = _Sink()
    scheduler = SmartScheduler(lambda: signals, sink, lambda: T0)
    scheduler.run([PlugIn("CP", 1, 1, T0, 0.0, 7000, Preference(T0 + timedelta(hours=8), 7, charge_now=True))])
    (_, plan), = sink.sent
    assert plan[0].start == T0 and plan[0].power_w == 7000


def test_a_pause_is_the_same_plan_whenever_it_is_made():
    from csms.charging.scheduler import plan_hash

    first = [Interval(T0, T0 + timedelta(minutes=1), 0.0)]
    later = [Interval(T0 + timedelta(minutes=5), T0 + timedelta(minutes=6), 0.0)]
    charging = [Interval(T0, T0 + timedelta(minutes=1), 7000.0)]
    assert plan_hash(first) == plan_hash(later) != plan_hash(charging)


def test_without_signals_the_vehicle_charges_now_not_never():
    signals = _signals([10, 20])
    later = T0 + timedelta(days=3)  # the published window is long past
    plan = sort_and_fill(later, later + timedelta(hours=4), 10_000, 7000, signals)
    assert plan[0].start == later and plan[0].power_w == 7000
    assert _energy(plan) == pytest.approx(10_000)


def test_time_beyond_the_window_is_used_after_every_known_slot():
    signals = _signals([30, 10])  # one hour known, departure in three
    plan = sort_and_fill(T0, T0 + timedelta(hours=3), 12_000, 7000, signals, carbon_price=0)
    assert _energy(plan) == pytest.approx(12_000)
    def power_at(at):
        return next(p.power_w for p in plan if p.start <= at < p.end)

    assert power_at(T0 + timedelta(minutes=30)) == 7000  # the cheap known slot is full
    assert power_at(T0) == 7000  # then the dearer known one
    known_end = T0 + timedelta(hours=1)
    after = sum(p.power_w * max(0.0, (p.end - max(p.start, known_end)).total_seconds()) / 3600 for p in plan)
    assert after == pytest.approx(5000)  # the rest, right after the window


def _load_at(plans, at):
    return sum(p.power_w for plan in plans for p in plan if p.start <= at < p.end)


def test_a_site_cap_is_shared_and_never_exceeded_while_needs_are_met():
    from csms.charging.planner import DemandEvent

    signals = _signals([30, 30, 5, 5, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30])
    sink = _Sink()
    scheduler = SmartScheduler(lambda: signals, sink, lambda: T0, carbon_price=0, site_cap_kw=11.0,
                               events=lambda: [DemandEvent(T0 + timedelta(hours=2), T0 + timedelta(hours=3), 4.0)])
    plugs = [PlugIn(f"CP{i}", 1, i, T0, 0.0, 7400, Preference(T0 + timedelta(hours=8), 6)) for i in range(3)]
    report = scheduler.run(plugs)
    assert report.sent == 3
    plans = [plan for _, plan in sink.sent]
    target = T0 + timedelta(hours=8) - timedelta(minutes=30)
    at = T0
    while at < T0 + timedelta(hours=8):
        cap = 4000 if T0 + timedelta(hours=2) <= at < T0 + timedelta(hours=3) else 11000
        assert _load_at(plans, at) <= cap + 1e-6, at
        at += timedelta(minutes=5)
    for plan in plans:  # each vehicle's 6 kWh planned before its target
        assert sum(p.power_w * (min(p.end, target) - p.start).total_seconds() / 3600
                   for p in plan if p.start < target) == pytest.approx(6000, rel=1e-6)
    # The cheap hour is used up to the cap.
    assert _load_at(plans, T0 + timedelta(hours=1)) == pytest.approx(11000)


def test_charge_now_vehicles_come_off_the_cap_first():
    signals = _signals([30] * 16)
    sink = _Sink()
    scheduler = SmartScheduler(lambda: signals, sink, lambda: T0, site_cap_kw=10.0)
    urgent = PlugIn("A", 1, 1, T0, 0.0, 7000, Preference(T0 + timedelta(hours=8), 7, charge_now=True))
    normal = PlugIn("B", 1, 2, T0, 0.0, 7000, Preference(T0 + timedelta(hours=8), 7))
    scheduler.run([urgent, normal])
    plans = [plan for _, plan in sink.sent]
    assert plans[0][0].power_w == 5000  # an equal share of the cap
    assert _load_at(plans, T0) <= 10000 + 1e-6


def test_a_drivers_own_carbon_price_steers_their_vehicle_alone_and_in_the_fleet():
    # Slot 0: 10p, 300 g/kWh; slot 1: 11p, 50 g/kWh. At the platform's 0 GBP/t slot 0 is cheaper;
    # at a driver's 100 GBP/t slot 1 is (10 + 3 p > 11 + 0.5 p).
    signals = _signals([10, 11, 50, 50, 50, 50, 50, 50], carbon=[300, 50, 100, 100, 100, 100, 100, 100])
    departure = T0 + timedelta(hours=4)
    green = Preference(departure, 3, carbon_price=100)
    plain = Preference(departure, 3)
    alone = SmartScheduler(lambda: signals, _Sink(), lambda: T0, carbon_price=0)
    first = lambda plan: next(p.start for p in plan if p.power_w > 0)  # noqa: E731
    assert first(alone.plan(PlugIn("A", 1, 1, T0, 0.0, 7400, plain), T0, signals)) == T0
    assert first(alone.plan(PlugIn("B", 1, 2, T0, 0.0, 7400, green), T0, signals)) == T0 + timedelta(minutes=30)
    # In the fleet LP (a site cap that does not bind), each gets the slot its own price prefers
    fleet = SmartScheduler(lambda: signals, _Sink(), lambda: T0, carbon_price=0, site_cap_kw=50.0)
    plans = fleet.fleet_plans([PlugIn("A", 1, 1, T0, 0.0, 7400, plain), PlugIn("B", 1, 2, T0, 0.0, 7400, green)],
                              T0, signals)
    assert first(plans[0]) == T0 and first(plans[1]) == T0 + timedelta(minutes=30)


def _previous_live_fill(now, departure, energy_wh, max_power_w, signals, carbon_price):
    """The live path's own sort-and-fill before it became ``planner.fill`` (kept as the oracle)."""
    from csms.charging.tariff import SLOT

    pieces, unknown, at = [], [], now
    while at < departure:
        try:
            i = signals.index(at)
        except KeyError:
            end = min(departure, at + SLOT)
            unknown.append((at, end))
            at = end
            continue
        end = min(departure, signals.starts[i] + SLOT)
        pieces.append((slot_cost(signals.price_p_per_kwh[i], signals.carbon_g_per_kwh[i], carbon_price), at, end))
        at = end
    dearest = max((p[0] for p in pieces), default=0.0) + 1.0
    pieces += [(dearest, s, e) for s, e in unknown]
    chosen, left = {}, energy_wh
    for cost, start, end in sorted(pieces, key=lambda p: (p[0], p[1])):
        if left <= 1e-6:
            break
        hours = (end - start).total_seconds() / 3600
        wh = min(left, max_power_w * hours)
        chosen[start] = wh / hours
        left -= wh
    return [(s, e, chosen.get(s, 0.0)) for _, s, e in sorted(pieces, key=lambda p: p[1])]


def _power_at(plan, at):
    return next(p.power_w for p in plan if p.start <= at < p.end)


@settings(max_examples=80, deadline=None)
@given(prices=st.lists(st.integers(-5, 40), min_size=2, max_size=12), start_min=st.integers(0, 300),
       stay_min=st.integers(1, 900), energy=st.floats(0, 80_000), power=st.sampled_from([3700.0, 7400.0, 11_000.0]),
       carbon_price=st.sampled_from([0.0, 100.0]))
def test_the_live_plan_is_the_fleet_fill_and_keeps_the_previous_live_behaviour(prices, start_min, stay_min, energy,
                                                                               power, carbon_price):
    """One fill algorithm: the live per-vehicle plan is ``planner.fill`` (what the fleet path and the
    backtest run), and it plans what the previous live sort-and-fill planned, interval by interval:
    partial slots at plug-in and departure, integer prices (exact ties: the earlier slot), time
    beyond the signal window after every known slot."""
    signals = _signals([float(p) for p in prices], carbon=[float(100 + 37 * (i % 3)) for i in range(len(prices))])
    now = T0 + timedelta(minutes=start_min % (30 * len(prices)))  # inside the window (it may end before departure)
    departure = now + timedelta(minutes=stay_min)
    plan = sort_and_fill(now, departure, energy, power, signals, carbon_price)
    reference = _previous_live_fill(now, departure, energy, power, signals, carbon_price)
    if energy <= 0:
        assert plan == []
        return
    assert plan[0].start == now and plan[-1].end == departure
    assert all(a.end == b.start for a, b in zip(plan, plan[1:]))  # contiguous
    for start, end, watts in reference:
        assert _power_at(plan, start) == pytest.approx(watts, rel=1e-9, abs=1e-6)
        assert _power_at(plan, end - timedelta(seconds=1)) == pytest.approx(watts, rel=1e-9, abs=1e-6)


def test_a_run_sends_its_cuts_before_its_raises():
    # site limit 7.4 kW: a vehicle that has its energy is cut to 0, one with a near departure charges
    # now; whatever the plug order, the cut goes out first, so the two never draw together meanwhile
    signals = _signals([30, 10] * 10)
    sink = _Sink()
    scheduler = SmartScheduler(lambda: signals, sink, lambda: T0, carbon_price=0, site_cap_kw=7.4)
    charging = PlugIn("CP1", 1, 1, T0, 0.0, 7400, Preference(T0 + timedelta(hours=2), 10))
    full = PlugIn("CP2", 1, 2, T0, 20_000.0, 7400, Preference(T0 + timedelta(hours=8), 10))
    assert scheduler.run([charging, full]).sent == 2
    order = [(tx, next((p.power_w for p in plan if p.start <= T0 < p.end), 0.0)) for tx, plan in sink.sent]
    assert [tx for tx, _ in order] == [2, 1] and order[0][1] == 0 and order[1][1] > 0
