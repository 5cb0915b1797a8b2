"""Sites' allowances of a large grid-demand event's cap (``csms.charging.allowances``): they never add
up to more than the cap, recorded or fallback; and an event's group capacity is counted once, when
an operator creates it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from csms.access import Principal
from csms.charging.allowances import (LARGE_GROUP_CHARGERS, fallback_kw, is_large, load_kw, record_allowances,
                                      split_share, unit_caps, unrecorded_reserve_kw, window_slots)
from csms.charging.groups import EventTarget, GridEvent
from csms.charging.scheduler import Interval
from csms.charging.site_ops import SiteOperations
from csms.charging.sites import Site
from tests.fakes import MemoryAllowances, MemoryChargers, MemoryGridEvents, MemorySites

T0 = datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc)
HALF = timedelta(minutes=30)


def _event(kind="region", ids=("north",), cap_kw=30.0, reduction_kw=None, capacity=120.0, chargers=40, hours=2):
    return GridEvent("E1", T0, T0 + timedelta(hours=hours), cap_kw, reduction_kw, EventTarget(kind, ids), False,
                     capacity, chargers)


def test_region_and_fleet_events_are_large_and_lists_are_large_only_above_the_bound():
    assert is_large(_event()) and is_large(_event("fleet", ()))
    assert not is_large(_event("sites", ("A", "B"), chargers=LARGE_GROUP_CHARGERS))
    assert is_large(_event("sites", ("A", "B"), chargers=LARGE_GROUP_CHARGERS + 1))
    assert not is_large(_event("chargers", ("CP1",), chargers=None))


def test_the_fallback_shares_the_cap_by_capacity_and_a_reduction_by_the_stored_capacity():
    assert fallback_kw(_event(), 30.0) == pytest.approx(7.5)  # 30 kW x 30 / 120
    assert fallback_kw(_event(cap_kw=None, reduction_kw=40.0), 30.0) == pytest.approx(20.0)  # (120-40) x 30/120
    assert fallback_kw(_event(capacity=None), 30.0) == 0.0  # an event stored before: nothing until a run records
    assert sum(fallback_kw(_event(), c) for c in (30.0, 30.0, 44.0, 16.0)) == pytest.approx(30.0)


def test_a_unit_share_split_among_its_sites_never_exceeds_the_share():
    share = [10.0, 10.0, 4.0, 0.0]
    planned = {"A": [2.0, 8.0, 4.0, 1.0], "B": [1.0, 6.0, 4.0, 0.0]}  # slot 1 and 2: over the share
    split = split_share(share, planned, {"A": 22.0, "B": 11.0, "C": 11.0})
    for t, s in enumerate(share):
        assert sum(split[site][t] for site in split) <= s + 1e-9
    assert split["A"][0] == pytest.approx(2.0 + 7.0 / 2) and split["C"][0] == pytest.approx(7.0 / 4)  # planned + part
    assert split["A"][2] == pytest.approx(2.0) and split["B"][2] == pytest.approx(2.0)  # scaled to the share
    assert all(v == 0 for site in split for v in [split[site][3]])


def test_recorded_allowances_are_what_a_site_is_re_planned_under_and_the_fallback_otherwise():
    event = _event()
    store = MemoryAllowances()
    now = T0 + timedelta(minutes=10)
    starts = window_slots(event, now)
    assert starts == [T0 + k * HALF for k in range(4)]
    with pytest.raises(ValueError):
        record_allowances(store, event, now, [20.0], {}, {"A": 11.0})
    written = record_allowances(store, event, now, [20.0] * 4, {"A": [5.0, 5.0, 0.0, 0.0]}, {"A": 10.0, "B": 30.0})
    assert written == 2 and store.items[("A", "E1")][1] == event.end  # kept until the event ends
    recorded = store.allowances("A", ["E1"])
    caps = unit_caps([event], recorded, 10.0, now)
    assert [(c.start, c.cap_kw) for c in caps] == [(T0, 8.75), (T0 + HALF, 8.75), (T0 + 2 * HALF, 5.0),
                                                   (T0 + 3 * HALF, 5.0)]
    fallback = unit_caps([event], store.allowances("C", ["E1"]), 30.0, now)
    assert [(c.start, c.end, c.cap_kw) for c in fallback] == [(T0, event.end, 7.5)]
    # what the periodic run keeps back for the sites no unit recorded: their fallbacks
    assert unrecorded_reserve_kw(event, 40.0) == pytest.approx(30.0 * 80 / 120)


def test_a_site_load_is_its_highest_instant_in_each_slot():
    plans = [[Interval(T0, T0 + timedelta(minutes=45), 7000.0)], [Interval(T0 + timedelta(minutes=15), T0 + HALF, 3000.0)]]
    assert load_kw(plans, [T0, T0 + HALF, T0 + 2 * HALF]) == [10.0, 7.0, 0.0]


def test_an_event_stores_its_group_capacity_and_chargers_when_created():
    sites, events, chargers = MemorySites(), MemoryGridEvents(), MemoryChargers()
    sites.put(Site("A", 22.0, region="north"))
    sites.put(Site("B", None, region="north"))
    sites.put(Site("C", 11.0, region="south"))
    for cp, site in (("A1", "A"), ("A2", "A"), ("B1", "B"), ("B2", "B"), ("C1", "C")):
        chargers.register(cp, "h", T0)
        sites.assign(site, cp)
    chargers.register("LONE", "h", T0)
    ops = SiteOperations(sites=sites, events=events, chargers=chargers, replan=lambda key: None,
                         clock=lambda: T0, fleet_size=lambda: 6)
    ops_unknown_fleet = SiteOperations(sites=sites, events=events, chargers=chargers, replan=lambda key: None,
                                       clock=lambda: T0)
    who = Principal("ops", operator=True)
    end = T0 + timedelta(hours=1)
    region = ops.create_event(who, T0, end, cap_kw=10.0, target=EventTarget("region", ("north",)))
    fleet = ops.create_event(who, T0, end, cap_kw=10.0, target=EventTarget())
    listed = ops.create_event(who, T0, end, reduction_kw=5.0, target=EventTarget("chargers", ("A1", "LONE")))
    unknown = ops_unknown_fleet.create_event(who, T0, end, cap_kw=10.0, target=EventTarget())
    stored = {e.event_id: (e.group_capacity_kw, e.group_chargers) for e in events.grid_events(T0)}
    assert stored[region["id"]] == (22.0 + 2 * 7.4, 4)  # A's limit + B's two chargers at 7.4 kW
    assert stored[fleet["id"]] == pytest.approx((22.0 + 11.0 + 3 * 7.4, 6))  # limited sites + 3 others (B1, B2, LONE)
    assert stored[listed["id"]] == pytest.approx((22.0 + 7.4, 3))  # A1's site comes whole, LONE alone
    assert stored[unknown["id"]] == (None, None)


def test_once_a_run_has_split_the_cap_only_that_runs_allowances_count_and_a_unit_it_did_not_record_gets_none():
    from csms.charging.allowances import RUN_UNIT, run_mark

    event = _event()
    store = MemoryAllowances()
    now = T0 + timedelta(minutes=10)
    record_allowances(store, event, now, [20.0] * 4, {"A": [5.0] * 4}, {"A": 10.0, "B": 10.0}, run="run-1")
    store.put_allowances([run_mark(event, "run-1")], event.end)
    marks = store.allowances(RUN_UNIT, ["E1"])
    kw = [c.cap_kw for c in unit_caps([event], store.allowances("A", ["E1"]), 10.0, now, marks)]
    assert kw == [12.5] * 4  # the run's own allowance: 5 planned + half the 10 unused
    # a unit the run did not record: the run gave the whole cap away, so no fallback (7.5 kW before)
    assert fallback_kw(event, 30.0) == 7.5
    assert [c.cap_kw for c in unit_caps([event], store.allowances("C", ["E1"]), 30.0, now, marks)] == [0.0]
    # the next run splits the cap again without A (no vehicle there then): A's older allowance no longer counts
    store.put_allowances([run_mark(event, "run-2")], event.end)
    marks = store.allowances(RUN_UNIT, ["E1"])
    assert [c.cap_kw for c in unit_caps([event], store.allowances("A", ["E1"]), 10.0, now, marks)] == [0.0]
