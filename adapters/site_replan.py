"""Re-plan only what changed (issue 16): a plug-in, unplug or preference change at one charger plans
that vehicle alone when no shared limit binds, its site when the site's limit does, or its event
group (``csms.charging.groups.group_of``); the periodic run plans each site and event group on its
own instead of one fleet LP.

Bursts are coalesced per group with a claim in the store (``SiteStore.claim_replan``): the first
request of a burst plans the group; a request arriving while that run is under way only marks the
claim, and the run plans once more when it ends (``release_replan``), reading every change. A burst
of plug-ins on one site costs two runs, not one per plug-in. The claim's lease (``CLAIM_LEASE``)
frees a group whose run died. The cost of a re-plan depends on the group's size, never the fleet's.

Under a large event (a region or the fleet, or a list of more than 5,000 chargers:
``csms.charging.allowances.is_large``) a plug-in does not re-plan the event's group: it plans the
charger's site (its vehicle alone on no site) against the site's allowance of each covering event's
cap (``replan_unit``): the periodic run's recorded allowance, else the fallback share by capacity.
The event's cap holds; the new vehicle may fall short inside the event window until the next
periodic run (<= 15 min) re-balances the sites.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Callable

from csms.charging.allowances import RUN_UNIT, is_large, unit_capacity_kw, unit_caps, unit_of
from csms.charging.groups import FLEET, Group, GridEvent, SiteLookup, group_of
from csms.charging.sites import Site
from csms.charging.scheduler import PlugIn, RunReport, SmartScheduler
from csms.charging.tariff import Signals

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)  # the scheduler's timeout (120 s): a claim outlives no run
MAX_ROUNDS = 5  # runs of one group per request: a burst longer than this is left to the periodic run


def lookup(sites, known: dict | None = None) -> SiteLookup:
    """The store's reads, memoised for one run (a site is read once however many plugs it has);
    ``known``: chargers' sites read already (``SiteStore.sites_of``)."""
    site_of, site, members, region = dict(known or {}), {}, {}, {}

    def memo(cache, read):
        def get(key):
            if key not in cache:
                cache[key] = read(key)
            return cache[key]
        return get
    return SiteLookup(memo(site_of, sites.site_of), memo(site, sites.get), memo(members, sites.members),
                      memo(region, sites.in_region))


def active_events(runtime, now: datetime) -> list[GridEvent]:
    return [e for e in runtime.events.grid_events(now) if not e.cancelled]


def _merge(into: RunReport, report: RunReport) -> RunReport:
    into.planned += report.planned
    into.sent += report.sent
    into.unchanged += report.unchanged
    into.skipped += report.skipped
    return into


def plan_group(group: Group, plugs: list[PlugIn], scheduler: Callable[..., SmartScheduler],
               max_power_kw: float) -> RunReport:
    """One group's vehicles planned together: a site alone under its limit, or an event group under
    its events' caps and every site's own limit."""
    if not group.binds:
        return scheduler().run(plugs)
    limited = [(float(s.connection_kw()), frozenset(members)) for s, members in group.sites.values()  # type: ignore[arg-type]
               if s.connection_kw() is not None]
    demand = group.demand_events(max_power_kw)
    if not demand and len(limited) == 1:  # one site: its limit is the run's cap (the exact site LP)
        run = scheduler(site_cap_kw=limited[0][0], events=list)
    else:
        run = scheduler(site_cap_kw=None, events=lambda: demand, site_caps=limited)
    report = run.run(plugs)
    report.group = group.key
    return report


# A charger on a limited site gets a TxDefaultProfile of its equal share of the site's limit, so a
# vehicle that plugs in draws no more than that before its own plan (a TxProfile, which takes
# precedence, OCPP 1.6 section 3.13.2) arrives: the limit holds in the seconds a re-plan takes too.
# A share below what an EV can take (6 A x 230 V x 3 phases) is 0: the vehicle waits for its plan.
MIN_SHARE_W = 6 * 230.0 * 3


def default_share_w(limit_kw: float, chargers: int) -> float:
    """A site charger's default limit (W): its equal share of ``limit_kw``, or 0 below ``MIN_SHARE_W``."""
    share = limit_kw * 1000 / max(1, chargers)
    return share if share >= MIN_SHARE_W else 0.0


def site_defaults(runtime, group: Group) -> int:
    """Send each charger of the group's limited sites its default share where it changed (one Query
    per site for what was sent before; a SetChargingProfile only on change). Returns profiles queued."""
    sent = 0
    for site, _ in group.sites.values():
        limit = site.connection_kw()
        if limit is None:
            continue
        marks = runtime.sites.defaults(site.site_id)
        watts = default_share_w(limit, len(marks))
        for cp, mark in marks.items():
            if mark == f"{watts:.0f}":
                continue
            try:
                if runtime.commander.set_limit(cp, [(0, watts)], connector_id=0, origin="site", capped=True) is not None:
                    runtime.sites.mark_default(site.site_id, cp, f"{watts:.0f}")
                    sent += 1
            except Exception:  # the next run tries again
                log.exception("site default for %s failed", cp)
    return sent


def replan_group(runtime, charge_point_id: str, clock: Callable[[], datetime],
                 scheduler: Callable[..., SmartScheduler], plugged: Callable[[list], list[PlugIn]],
                 max_power_kw: float) -> RunReport | None:
    """The re-plan after a change at ``charge_point_id``. (None would mean "plan the whole fleet":
    since a fleet-wide event is large and re-planned by unit, no event leads there any more.)
    Reads: the events (1 Query), the charger's site (2), and for a limited site or event group its
    chargers (1 Query per site), their active sessions (1 Query each) and each session's meter and
    preference; under a large event the site's allowances (1 BatchGetItem) instead of the group's
    sites; writes: the claim (1-3)."""
    now = clock()
    events = active_events(runtime, now)
    seen = lookup(runtime.sites)
    site = seen.site_of(charge_point_id)
    covering = [e for e in events if e.covers(charge_point_id, site)]
    if any(is_large(e) for e in covering):
        return replan_unit(runtime, charge_point_id, site, covering, now, scheduler, plugged, max_power_kw)
    group = group_of(charge_point_id, events, seen)
    if group.key == FLEET:
        return None
    if not group.binds:  # sort-and-fill per vehicle is exact: that vehicle alone
        report = scheduler().run(plugged(runtime.sessions.active(charge_point_id)))
        report.group = group.key
        return report
    return _claimed(runtime, group, lambda: plan_group(
        group, plugged([s for cp in group.chargers for s in runtime.sessions.active(cp)]), scheduler, max_power_kw), now)


def _claimed(runtime, group: Group, plan: Callable[[], RunReport], now: datetime) -> RunReport:
    """Plan ``group`` under its burst claim: planned again while requests came in during the run."""
    if not runtime.sites.claim_replan(group.key, now + CLAIM_LEASE, now):
        return RunReport(group=group.key, coalesced=True)
    total = RunReport(group=group.key)
    for _ in range(MAX_ROUNDS):
        try:
            _merge(total, plan())
            site_defaults(runtime, group)
        except Exception:
            runtime.sites.release_replan(group.key)
            raise
        if not runtime.sites.release_replan(group.key):
            break
    total.group = group.key
    return total


def replan_unit(runtime, charge_point_id: str, site: Site | None, covering: list[GridEvent], now: datetime,
                scheduler: Callable[..., SmartScheduler], plugged: Callable[[list], list[PlugIn]],
                max_power_kw: float) -> RunReport:
    """A change under a large event (``allowances.is_large``): the charger's site (under its own limit)
    or, on no site, its vehicle alone, planned against the unit's allowance of each covering event
    per slot (``allowances.unit_caps``: recorded by the periodic run, else the fallback share of the
    cap by capacity). A small event covering the charger too is held at the site by its fallback
    share as well (conservative at this site; its own group's re-plans do not see this one). Reads:
    the site's chargers (1 Query), the allowances and the events' run marks (2 BatchGetItems), each charger's active sessions
    and each session's meter and preference: none depends on the event's group or the fleet."""
    if site is not None and site.connection_kw() is None:
        site = None  # no limit couples its chargers: the vehicle alone is the unit (as the periodic run records it)
    members = runtime.sites.members(site.site_id) if site is not None else []
    if charge_point_id not in members:
        members = sorted([*members, charge_point_id])
    limit = site.connection_kw() if site is not None else None
    unit = unit_of(charge_point_id, site.site_id if site is not None else None)
    ids = [e.event_id for e in covering]
    recorded = runtime.allowances.allowances(unit, ids)
    marks = runtime.allowances.allowances(RUN_UNIT, ids)  # which run split each cap last (run_mark)
    caps = unit_caps(covering, recorded, unit_capacity_kw(limit, len(members), max_power_kw), now, marks)
    key = f"site:{site.site_id}" if site is not None else f"charger:{charge_point_id}"

    def plan() -> RunReport:
        report = scheduler(site_cap_kw=limit, events=lambda: caps).run(
            plugged([s for cp in members for s in runtime.sessions.active(cp)]))
        report.group = key
        return report
    if site is None:
        return plan()
    return _claimed(runtime, Group(key, members, {site.site_id: (site, members)}, covering), plan, now)


def plan_by_group(runtime, plugs: list[PlugIn], now: datetime, scheduler: Callable[..., SmartScheduler],
                  max_power_kw: float) -> RunReport | None:
    """The periodic run without a fleet-wide limit: every site and event group planned on its own,
    every other vehicle alone. None when a fleet-wide event binds (the caller plans the fleet)."""
    events = active_events(runtime, now)
    if any(e.target.kind == FLEET for e in events):
        return None
    seen = lookup(runtime.sites, runtime.sites.sites_of([p.charge_point_id for p in plugs]))
    groups: dict[str, Group] = {}
    members: dict[str, list[PlugIn]] = defaultdict(list)
    for plug in plugs:
        group = group_of(plug.charge_point_id, events, seen)
        groups.setdefault(group.key, group)
        members[group.key if group.binds else ""].append(plug)
    report = RunReport(group="fleet")
    for key, grouped in members.items():
        try:
            _merge(report, scheduler().run(grouped) if not key else
                   plan_group(groups[key], grouped, scheduler, max_power_kw))
            if key:
                site_defaults(runtime, groups[key])
        except Exception:
            log.exception("planning group %s failed", key or "unlimited")
            report.skipped += [p.charge_point_id for p in grouped]
    report.group = "fleet"
    return report


__all__ = ["CLAIM_LEASE", "Signals", "active_events", "lookup", "plan_by_group", "plan_group", "replan_group"]
