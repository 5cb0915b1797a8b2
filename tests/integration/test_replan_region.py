"""A plug-in under a region-wide grid-demand event re-plans its own site against the site's allowance
of the event's cap (``csms.charging.allowances``), not the region: the DynamoDB requests of the
re-plan are the same for a region of 100 and of 2,000 chargers (counted at the botocore client),
and the event's cap holds over the whole region, with the periodic run's recorded allowances and
with the fallback before any (moto DynamoDB, the scheduler Lambda's handler)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from adapters.dynamo.models import GridItemModel
from csms.access import Principal
from csms.charging.allowances import load_kw, record_allowances, window_slots
from csms.charging.groups import EventTarget
from csms.charging.scheduler import Interval
from csms.charging.site_ops import SiteOperations
from csms.charging.sites import Site
from csms.timeutil import parse_ts, utcnow
from handlers import _runtime
from handlers import scheduler as scheduler_handler
from tests.integration.test_request_counts import _count, dynamodb_calls  # noqa: F401 (a fixture)
from tests.integration.test_scheduler_lambda import _plug_in, _store_day_around_now

OPERATOR = Principal("ops", operator=True)
SITE_KW = 11.0


def _region(rt, region: str, sites: int, chargers_per_site: int) -> None:
    """``sites`` sites of ``chargers_per_site`` chargers each in ``region`` (items written in batches:
    the same items ``DynamoSites.put`` / ``assign`` write)."""
    for n in range(sites):
        site = Site(f"{region}-S{n:04d}", SITE_KW, region=region)
        rt.sites.put(site)
    with GridItemModel.batch_write() as batch:
        for n in range(sites):
            for k in range(chargers_per_site):
                cp = f"{region}-S{n:04d}-C{k:02d}"
                batch.save(GridItemModel(f"cp#{cp}", "site", data=f"{region}-S{n:04d}"))
                batch.save(GridItemModel(f"site#{region}-S{n:04d}", cp))


def _event(rt, region: str, cap_kw: float, hours: float = 10.5):
    """A region event from now for ``hours``: past the vehicles' departure (``_plug_in``: 10 h), so
    it covers their full-power margin before departure too."""
    ops = SiteOperations(sites=rt.sites, events=rt.events, chargers=rt.chargers, replan=lambda key: None,
                         clock=utcnow)
    now = utcnow()
    created = ops.create_event(OPERATOR, now - timedelta(minutes=1), now + timedelta(hours=hours), cap_kw=cap_kw,
                               target=EventTarget("region", (region,)))
    return next(e for e in rt.events.grid_events(now) if e.event_id == created["id"])


def _charger_on(rt, site_id: str, name: str):
    from tests.integration.conftest import ChargerClient

    charger = ChargerClient(rt, name).register()
    rt.sites.assign(site_id, charger.id)
    return charger


def _plans(rt, chargers: list[str]) -> dict[str, list[Interval]]:
    out = {}
    for cp in chargers:
        for session in rt.sessions.active(cp):
            stored = json.loads(rt.sessions.plan_of(cp, session.transaction_id) or "[]")
            out[cp] = [Interval(parse_ts(a), parse_ts(b), w) for a, b, w in stored]
    return out


def _peak_kw(plans, start: datetime, end: datetime) -> float:
    """The highest power (kW) the plans draw together at any instant from ``start`` to ``end``."""
    edges = sorted({start, *(t for p in plans for i in p for t in (i.start, i.end) if start < t < end)})
    return max(sum(i.power_w for p in plans for i in p if i.start <= at < i.end) for at in edges) / 1000


def test_a_plug_in_under_a_region_event_costs_the_same_requests_for_100_and_2000_chargers(platform, dynamodb_calls):
    rt = _runtime.runtime()
    _store_day_around_now(rt)
    counts = {}
    for region, sites in (("small", 10), ("large", 200)):  # 10 chargers a site: 100 and 2,000 chargers
        _region(rt, region, sites, 10)
        event = _event(rt, region, cap_kw=40.0)
        assert event.group_chargers == sites * 10 and event.group_capacity_kw == sites * SITE_KW
        neighbour, charger = (_charger_on(rt, f"{region}-S0000", f"{region}-{n}") for n in ("N", "NEW"))
        _plug_in(neighbour)
        _plug_in(charger)
        dynamodb_calls.clear()
        result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": charger.id}, None)
        counts[region] = _count(dynamodb_calls)
        # the site's two vehicles, not the region's; and they share the site's fallback allowance
        assert result["planned"] == 2 and result["group"] == f"site:{region}-S0000", result
        fallback = 40.0 * SITE_KW / event.group_capacity_kw
        assert _peak_kw(_plans(rt, [neighbour.id, charger.id]).values(), utcnow(), event.end) <= fallback + 1e-3
    assert "Scan" not in dynamodb_calls
    assert counts["small"] == counts["large"], counts  # flat: the same reads and writes, whatever the region's size


def test_the_region_cap_holds_when_one_site_re_plans_inside_its_recorded_allowance(platform):
    rt = _runtime.runtime()
    _store_day_around_now(rt)
    cap = 12.0
    _region(rt, "east", 4, 0)
    chargers = {s: [_charger_on(rt, f"east-S{s:04d}", f"east-{s}-{k}") for k in range(2)] for s in range(4)}
    for pair in chargers.values():
        _plug_in(pair[0], energy_kwh=20.0)
    event = _event(rt, "east", cap_kw=cap)
    # The periodic run: the region planned as one (the exact LP under the cap), then each site's
    # allowance recorded (one unit whose share is the whole cap: every site of the region is in it).
    scheduler_handler.lambda_handler({}, None)
    now = utcnow()
    starts = window_slots(event, now)
    planned = {f"east-S{s:04d}": load_kw(_plans(rt, [c.id for c in pair]).values(), starts)
               for s, pair in chargers.items()}
    assert record_allowances(rt.allowances, event, now, [cap] * len(starts), planned,
                             {site: SITE_KW for site in planned}) == 4
    # A second vehicle plugs in at one site: that site alone is re-planned, inside its allowance.
    _plug_in(chargers[2][1], energy_kwh=20.0)
    result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": chargers[2][1].id}, None)
    assert result["planned"] == 2 and result["group"] == "site:east-S0002" and result["sent"] >= 1, result
    plans = _plans(rt, [c.id for pair in chargers.values() for c in pair])
    assert chargers[2][1].id in plans and sum(i.power_w for i in plans[chargers[2][1].id]) > 0
    for start in starts:  # the re-planned site + the three untouched sites' stored plans: never above the cap
        assert _peak_kw(plans.values(), max(start, now), start + timedelta(minutes=30)) <= cap + 1e-3, start


def test_a_plug_in_under_a_fleet_wide_event_plans_that_vehicle_alone_inside_its_fallback_share(platform):
    from tests.integration.conftest import ChargerClient

    rt = _runtime.runtime()
    _store_day_around_now(rt)
    ops = SiteOperations(sites=rt.sites, events=rt.events, chargers=rt.chargers, replan=lambda key: None,
                         clock=utcnow, fleet_size=lambda: 4)  # as the fleet index counts it
    now = utcnow()
    created = ops.create_event(OPERATOR, now - timedelta(minutes=1), now + timedelta(hours=8), cap_kw=8.0,
                               target=EventTarget())
    event = next(e for e in rt.events.grid_events(now) if e.event_id == created["id"])
    assert event.group_capacity_kw == 4 * 7.4
    charger = ChargerClient(rt, "LONE").register()
    _plug_in(charger, energy_kwh=20.0)
    result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": charger.id}, None)
    # not the fleet (before: the whole fleet's LP on every plug-in): that vehicle, under 8 kW x 7.4 / 29.6
    assert result["planned"] == 1 and result["group"] == "charger:LONE", result
    plan = _plans(rt, ["LONE"])["LONE"]
    assert sum(i.power_w for i in plan) > 0
    assert _peak_kw([plan], utcnow(), event.end) <= 2.0 + 1e-3
