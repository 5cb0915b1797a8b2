"""Sites and grid-demand event groups as data (issue 16): the input rules, which chargers a change
re-plans together, and the operators' operations, on the in-memory fakes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from csms.charging.groups import (CHARGERS, FLEET, REGION, SITES, EventTarget, GridEvent, GroupError, SiteLookup,
                                  check_event, check_site, group_of)
from csms.charging.sites import Site
from csms.operations import Forbidden, Invalid, NotFound, Principal
from csms.charging.site_ops import SiteOperations
from tests.fakes import MemoryChargers, MemoryGridEvents, MemorySites

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
OPERATOR, DRIVER = Principal("op", operator=True), Principal("d1")


def test_a_site_limit_is_positive_and_in_sane_units():
    assert check_site("depot", limit_kw=50).connection_kw() == 50
    # a 100 A three-phase fuse at 230 V holds 69 kW; the smaller of the two limits is held
    assert check_site("house", phase_limit_a=100).connection_kw() == pytest.approx(69.0)
    assert check_site("both", limit_kw=40, phase_limit_a=100).connection_kw() == 40
    assert check_site("free").connection_kw() is None
    for bad in (dict(limit_kw=0), dict(limit_kw=-5), dict(limit_kw=float("nan")), dict(limit_kw=1e9),
                dict(phase_limit_a=0), dict(phases=2, phase_limit_a=32), dict(voltage_v=11_000), dict(limit_kw=True)):
        with pytest.raises(GroupError):
            check_site("s1", **bad)
    for bad_id in ("", "a b", "-x", "x" * 65, "a/b"):
        with pytest.raises(GroupError):
            check_site(bad_id, limit_kw=10)


def test_an_event_has_a_cap_or_a_reduction_and_a_target_it_can_name():
    start, end = NOW, NOW + timedelta(hours=2)
    assert check_event(start, end, NOW, cap_kw=0).kind == FLEET
    assert check_event(start, end, NOW, reduction_kw=20, target=EventTarget(SITES, ("b", "a", "a"))).ids == ("a", "b")
    for kwargs in (dict(), dict(cap_kw=10, reduction_kw=5), dict(cap_kw=-1),
                   dict(reduction_kw=5),  # a fleet-wide reduction has no capacity to reduce
                   dict(cap_kw=10, target=EventTarget(FLEET, ("x",))), dict(cap_kw=10, target=EventTarget(SITES)),
                   dict(cap_kw=10, target=EventTarget(REGION, ("a", "b"))),
                   dict(cap_kw=10, target=EventTarget("postcode", ("x",))),
                   dict(cap_kw=10, target=EventTarget(CHARGERS, tuple(f"c{i}" for i in range(501))))):
        with pytest.raises(GroupError):
            check_event(start, end, NOW, **kwargs)
    with pytest.raises(GroupError):
        check_event(NOW - timedelta(hours=3), NOW - timedelta(hours=1), NOW, cap_kw=5)
    with pytest.raises(GroupError):
        check_event(NOW, NOW + timedelta(days=8), NOW, cap_kw=5)


def _lookup(store: MemorySites) -> SiteLookup:
    return SiteLookup(store.site_of, store.get, store.members, store.in_region)


@pytest.fixture
def fleet():
    """Two limited sites in region north (A, B), one unlimited site (C), one charger on no site (LONE)."""
    store = MemorySites()
    for site in (Site("A", 20.0, "north"), Site("B", 30.0, "north"), Site("C", None, "south")):
        store.put(site)
    for cp, site_id in (("A1", "A"), ("A2", "A"), ("B1", "B"), ("C1", "C"), ("C2", "C")):
        store.assign(site_id, cp)
    return store


def test_a_change_re_plans_its_charger_alone_its_site_or_its_event_group(fleet):
    lookup = _lookup(fleet)
    alone = group_of("C1", [], lookup)  # an unlimited site: nothing binds, sort-and-fill alone
    assert (alone.key, alone.chargers, alone.binds) == ("charger:C1", ["C1"], False)
    assert group_of("LONE", [], lookup).chargers == ["LONE"]
    site = group_of("A1", [], lookup)  # a limited site: the site, not the fleet
    assert (site.key, site.chargers, site.binds) == ("site:A", ["A1", "A2"], True)
    region = GridEvent("e1", NOW, NOW + timedelta(hours=1), cap_kw=25.0, target=EventTarget(REGION, ("north",)))
    group = group_of("B1", [region], lookup)  # the event couples every site of its region
    assert group.chargers == ["A1", "A2", "B1"] and set(group.sites) == {"A", "B"} and group.key == "event:e1"
    assert group_of("C1", [region], lookup).chargers == ["C1"]  # an event elsewhere changes nothing here
    listed = GridEvent("e2", NOW, NOW + timedelta(hours=1), reduction_kw=10.0,
                       target=EventTarget(CHARGERS, ("A1", "LONE")))
    group = group_of("LONE", [listed], lookup)  # a listed charger brings its limited site along
    assert group.chargers == ["A1", "A2", "LONE"]
    # its capacity: site A's 20 kW plus LONE's 7.4 kW; the reduction takes 10 kW off it
    assert group.demand_events(7.4)[0].cap_kw == pytest.approx(17.4)
    cancelled = GridEvent("e3", NOW, NOW + timedelta(hours=1), cap_kw=1.0, cancelled=True)
    assert group_of("C1", [cancelled], lookup).key == "charger:C1"
    assert group_of("C1", [GridEvent("e4", NOW, NOW + timedelta(hours=1), cap_kw=1.0)], lookup).key == "fleet"


def test_a_burst_is_claimed_once_until_its_run(fleet):
    until = NOW + timedelta(seconds=5)
    assert fleet.claim_replan("site:A", until, NOW)
    assert not fleet.claim_replan("site:A", until + timedelta(seconds=1), NOW + timedelta(seconds=1))
    assert fleet.claim_replan("site:B", until, NOW)  # another site is its own burst
    assert fleet.claim_replan("site:A", until + timedelta(seconds=5), until)  # after the run: a new burst


@pytest.fixture
def ops():
    chargers = MemoryChargers()
    for cp in ("CP1", "CP2"):
        chargers.register(cp, "hash", NOW)
    asked: list[str] = []
    sites = SiteOperations(sites=MemorySites(), events=MemoryGridEvents(), chargers=chargers, replan=asked.append,
                           clock=lambda: NOW)
    return sites, asked


def test_operators_set_sites_assign_chargers_and_target_events(ops):
    sites, asked = ops
    site, created = sites.put_site(OPERATOR, "depot", limit_kw=22, region="north", name="Depot")
    assert created and site["connection_kw"] == 22
    assert sites.assign(OPERATOR, "depot", "CP1")["previous_site"] is None
    assert asked == ["CP1"]
    assert sites.get_site(OPERATOR, "depot")["chargers"] == ["CP1"]
    _, created = sites.put_site(OPERATOR, "depot", limit_kw=11, region="north")
    assert not created and asked[-1] == "CP1"  # a new limit re-plans the site
    event = sites.create_event(OPERATOR, NOW, NOW + timedelta(hours=1), reduction_kw=5,
                               target=EventTarget(SITES, ("depot",)))
    assert event["target"] == {"kind": "sites", "ids": ["depot"]}
    assert [e["id"] for e in sites.list_events(OPERATOR)] == [event["id"]]
    sites.cancel_event(OPERATOR, event["id"])
    assert sites.list_events(OPERATOR)[0]["cancelled"]
    sites.unassign(OPERATOR, "depot", "CP1")
    assert sites.get_site(OPERATOR, "depot")["chargers"] == []
    sites.delete_site(OPERATOR, "depot")
    assert sites.list_sites(OPERATOR) == []


def test_bad_site_input_and_unknown_names_get_one_clear_refusal(ops):
    sites, _ = ops
    with pytest.raises(Invalid, match="limit_kw"):
        sites.put_site(OPERATOR, "depot", limit_kw=-1)
    with pytest.raises(Forbidden):
        sites.put_site(DRIVER, "depot", limit_kw=10)
    sites.put_site(OPERATOR, "depot", limit_kw=10)
    with pytest.raises(NotFound, match="no charger"):
        sites.assign(OPERATOR, "depot", "NOPE")
    with pytest.raises(NotFound, match="no site"):
        sites.assign(OPERATOR, "elsewhere", "CP1")
    with pytest.raises(NotFound):
        sites.unassign(OPERATOR, "depot", "CP2")
    with pytest.raises(Invalid, match="cap_kw or reduction_kw"):
        sites.create_event(OPERATOR, NOW, NOW + timedelta(hours=1))
    with pytest.raises(NotFound):
        sites.cancel_event(OPERATOR, "nope")
    assert sites.list_sites(OPERATOR)[0]["limit_kw"] == 10  # nothing changed by the refusals


def test_an_event_group_holds_every_site_limit_and_the_event_cap_and_meets_every_need():
    """Two sites under one event, planned together (``SmartScheduler.site_caps``): each site's limit
    and the event's cap hold at every moment, a vehicle charging regardless included, and every need
    that the limits can meet is met before its target."""
    from csms.charging.planner import DemandEvent
    from csms.charging.scheduler import PlugIn, Preference, SmartScheduler
    from tests.unit.test_scheduler import T0, _Sink, _load_at, _signals

    signals = _signals([30, 30, 5, 5, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30])
    sink = _Sink()
    event = DemandEvent(T0 + timedelta(hours=2), T0 + timedelta(hours=3), 6.0)
    sites = [(8.0, frozenset({"A0", "A1"})), (10.0, frozenset({"B0", "B1", "B2"}))]
    scheduler = SmartScheduler(lambda: signals, sink, lambda: T0, carbon_price=0, events=lambda: [event], site_caps=sites)
    departure = T0 + timedelta(hours=8)
    plugs = [PlugIn(cp, 1, n, T0, 0.0, 7400, Preference(departure, 6, charge_now=(cp == "B2")))
             for n, cp in enumerate(["A0", "A1", "B0", "B1", "B2"])]
    assert scheduler.run(plugs).sent == 5
    plans = {plugs[tx].charge_point_id: plan for tx, plan in sink.sent}
    at = T0
    while at < departure:
        for limit, members in sites:
            assert _load_at([plans[cp] for cp in members], at) <= limit * 1000 + 1e-6, (at, members)
        if event.start <= at < event.end:
            assert _load_at(list(plans.values()), at) <= 6000 + 1e-6, at
        at += timedelta(minutes=5)
    target = departure - timedelta(minutes=30)
    for cp in ("A0", "A1", "B0", "B1"):  # each steered vehicle's 6 kWh before its target
        assert sum(p.power_w * (min(p.end, target) - p.start).total_seconds() / 3600
                   for p in plans[cp] if p.start < target) == pytest.approx(6000, rel=1e-6), cp
    assert plans["B2"][0].power_w == pytest.approx(10000 / 3)  # charge now: its equal share of its site


def test_an_event_naming_an_unknown_site_charger_or_an_empty_region_is_refused(ops):
    # found probing as a new user: such an event was stored and capped nothing
    from csms.access import Invalid, NotFound

    sites, _ = ops
    sites.put_site(OPERATOR, "depot", limit_kw=22, region="north")
    window = (NOW, NOW + timedelta(hours=1))
    with pytest.raises(NotFound, match="NOPE"):
        sites.create_event(OPERATOR, *window, cap_kw=5, target=EventTarget(SITES, ("depot", "NOPE")))
    with pytest.raises(NotFound, match="CP-NOPE"):
        sites.create_event(OPERATOR, *window, cap_kw=5, target=EventTarget("chargers", ("CP-NOPE",)))
    with pytest.raises(Invalid, match="region GB"):
        sites.create_event(OPERATOR, *window, cap_kw=5, target=EventTarget("region", ("GB",)))
    assert sites.list_events(OPERATOR) == []
    sites.create_event(OPERATOR, *window, cap_kw=5, target=EventTarget("region", ("north",)))
    assert len(sites.list_events(OPERATOR)) == 1
