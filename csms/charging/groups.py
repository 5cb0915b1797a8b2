"""Sites and grid-demand event groups as data: the input rules (checked once, here), which event
covers which charger, and which chargers a re-plan must plan together.

A charger belongs to at most one site (``csms.charging.sites.Site``: its connection limit). A
grid-demand (DNO) event targets the whole fleet, a region (every site whose ``region`` matches), a
list of sites or a list of chargers, and either caps their power (``cap_kw``) or reduces it by
``reduction_kw`` below the group's capacity (the sum of its sites' connection limits; a charger on
no limited site counts its maximum power).

The re-plan rule (issue 16): a plug-in, unplug or preference change plans

* that vehicle alone when no shared limit binds its charger (sort-and-fill per vehicle is exact);
* its site when the site has a limit and no event covers the charger (the site's LP, exact);
* every charger of the events covering it, with their sites' limits, when an event does.

The cost of such a re-plan depends on the site's or the event's size, never the fleet's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable

from csms.charging.signals import DemandEvent
from csms.charging.sites import Site

FLEET, REGION, SITES, CHARGERS = "fleet", "region", "sites", "chargers"
TARGET_KINDS = (FLEET, REGION, SITES, CHARGERS)
MAX_TARGETS = 500  # ids in one event's list (larger groups: a region)
MAX_SITE_KW = 100_000.0  # 100 MW: beyond any distribution connection
MAX_PHASE_A = 5_000.0
VOLTAGES_V = (100.0, 480.0)  # phase-to-neutral voltages a site may declare
MAX_EVENT = timedelta(days=7)
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class GroupError(ValueError):
    """Site or event input that cannot be used; the message names the field."""


@dataclass(frozen=True)
class EventTarget:
    """What an event covers: ``kind`` one of ``TARGET_KINDS``; ``ids`` the region (one), the site
    ids or the charge point ids (none for the fleet)."""

    kind: str = FLEET
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class GridEvent:
    """A grid-demand (DNO) event: from ``start`` to ``end`` (UTC) the power of ``target`` is at most
    ``cap_kw`` (kW), or ``reduction_kw`` below the group's capacity. Exactly one of the two is set.
    ``group_capacity_kw`` / ``group_chargers``: the group's capacity (kW, ``Group.capacity_kw``) and
    charger count, computed once when the event is created (None: unknown, an event stored before);
    a large event's fallback allowances (``csms.charging.allowances``) share its cap by them."""

    event_id: str
    start: datetime
    end: datetime
    cap_kw: float | None = None
    reduction_kw: float | None = None
    target: EventTarget = EventTarget()
    cancelled: bool = False
    group_capacity_kw: float | None = None
    group_chargers: int | None = None

    def covers(self, charge_point_id: str, site: Site | None) -> bool:
        """Whether the event limits this charger (on ``site``, or on none)."""
        kind, ids = self.target.kind, self.target.ids
        if kind == FLEET:
            return True
        if kind == CHARGERS:
            return charge_point_id in ids
        if site is None:
            return False
        return site.site_id in ids if kind == SITES else site.region in ids

    def demand(self, capacity_kw: float) -> DemandEvent:
        """The planner's cap (kW) for a group of ``capacity_kw``: the cap, or the capacity minus the
        reduction (never below 0)."""
        cap = self.cap_kw if self.cap_kw is not None else max(0.0, capacity_kw - (self.reduction_kw or 0.0))
        return DemandEvent(self.start, self.end, float(cap))


def _positive(name: str, value: float | None, upper: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GroupError(f"{name} must be a number")
    if not 0 < value <= upper:
        raise GroupError(f"{name} must be > 0 and at most {upper:g}")
    return float(value)


def check_id(kind: str, value: str) -> str:
    """A site, region or charger id as stored and put in URLs: 1-64 of ``A-Z a-z 0-9 . _ -``."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise GroupError(f"{kind} id {value!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def check_site(site_id: str, *, limit_kw: float | None = None, region: str = "", name: str = "",
               phase_limit_a: float | None = None, phases: int = 3, voltage_v: float = 230.0) -> Site:
    """A site from operator input. Limits: ``limit_kw`` in (0, 100,000] kW; ``phase_limit_a`` in
    (0, 5,000] A on 1 or 3 phases at 100-480 V phase to neutral; a site without either has no limit.
    Raises GroupError naming the field."""
    check_id("site", site_id)
    if region:
        check_id("region", region)
    if not isinstance(name, str) or len(name) > 80 or any(ord(c) < 32 for c in name):
        raise GroupError("name: at most 80 printable characters")
    if phases not in (1, 3):
        raise GroupError("phases must be 1 or 3")
    if isinstance(voltage_v, bool) or not isinstance(voltage_v, (int, float)) or \
            not VOLTAGES_V[0] <= voltage_v <= VOLTAGES_V[1]:
        raise GroupError(f"voltage_v must be {VOLTAGES_V[0]:g}-{VOLTAGES_V[1]:g} V (phase to neutral)")
    return Site(site_id, _positive("limit_kw", limit_kw, MAX_SITE_KW), region, name,
                _positive("phase_limit_a", phase_limit_a, MAX_PHASE_A), phases, float(voltage_v))


def check_event(start: datetime, end: datetime, now: datetime, *, cap_kw: float | None = None,
                reduction_kw: float | None = None, target: EventTarget = EventTarget()) -> EventTarget:
    """The rules of an event from operator input (raises GroupError): end after start and after now,
    at most 7 days; exactly one of ``cap_kw`` (>= 0 kW) and ``reduction_kw`` (> 0 kW); a target of a
    known kind with 1-500 valid ids (one for a region, none for the fleet). Returns the target with
    its ids de-duplicated and sorted."""
    if end <= start:
        raise GroupError("end must be after start")
    if end <= now:
        raise GroupError("the event has already ended")
    if end - start > MAX_EVENT:
        raise GroupError("an event lasts at most 7 days")
    if (cap_kw is None) == (reduction_kw is None):
        raise GroupError("give either cap_kw or reduction_kw")
    if cap_kw is not None and (not isinstance(cap_kw, (int, float)) or not math.isfinite(cap_kw) or cap_kw < 0):
        raise GroupError("cap_kw must be >= 0")
    _positive("reduction_kw", reduction_kw, 1_000_000.0)
    if target.kind not in TARGET_KINDS:
        raise GroupError(f"target kind must be one of {', '.join(TARGET_KINDS)}")
    ids = tuple(sorted(set(target.ids)))
    if target.kind == FLEET:
        if ids:
            raise GroupError("a fleet-wide event lists no ids")
        if reduction_kw is not None:
            raise GroupError("a fleet-wide event needs cap_kw (a reduction needs a region, sites or chargers)")
    elif not ids:
        raise GroupError(f"a {target.kind} event needs at least one id")
    elif target.kind == REGION and len(ids) != 1:
        raise GroupError("a region event names one region")
    elif len(ids) > MAX_TARGETS:
        raise GroupError(f"at most {MAX_TARGETS} ids per event (use a region)")
    for i in ids:
        check_id({REGION: "region", SITES: "site", CHARGERS: "charger"}[target.kind], i)
    return EventTarget(target.kind, ids)


@dataclass
class Group:
    """Chargers planned together: ``chargers`` (charge point ids), the sites among them with their
    limits (``sites``: site id -> (Site, its chargers in the group)), and the events covering the
    group (``events``). ``key`` names it (``site:<id>``, ``event:<id>+...``, ``charger:<id>``) for
    coalescing bursts."""

    key: str
    chargers: list[str]
    sites: dict[str, tuple[Site, list[str]]] = field(default_factory=dict)
    events: list[GridEvent] = field(default_factory=list)

    @property
    def binds(self) -> bool:
        """A shared limit applies: the group must be planned together (else per vehicle)."""
        return bool(self.events) or any(s.connection_kw() is not None for s, _ in self.sites.values())

    def capacity_kw(self, max_power_kw: float) -> float:
        """The group's capacity for a reduction event: its sites' connection limits, plus
        ``max_power_kw`` per charger on no limited site."""
        limited = {cp for s, members in self.sites.values() if s.connection_kw() is not None for cp in members}
        return (sum(float(s.connection_kw() or 0.0) for s, _ in self.sites.values())
                + max_power_kw * sum(1 for cp in self.chargers if cp not in limited))

    def demand_events(self, max_power_kw: float) -> list[DemandEvent]:
        """The events as the planner's caps on the whole group."""
        return [e.demand(self.capacity_kw(max_power_kw)) for e in self.events]


class SiteLookup:
    """What ``group_of`` reads (a port's methods, passed in): the site of a charger, a site by id,
    a site's chargers, a region's sites."""

    def __init__(self, site_of: Callable[[str], Site | None], site: Callable[[str], Site | None],
                 members: Callable[[str], list[str]], in_region: Callable[[str], list[Site]]):
        self.site_of, self.site, self.members, self.in_region = site_of, site, members, in_region


def group_of(charge_point_id: str, events: Iterable[GridEvent], lookup: SiteLookup) -> Group:
    """The chargers a change at ``charge_point_id`` re-plans (see the module text). A fleet-wide event
    makes the group the whole fleet: returned as ``key == "fleet"`` with no chargers listed (the
    caller plans every active session). Reads: the charger's site; for an event, its sites' members."""
    site = lookup.site_of(charge_point_id)
    covering = [e for e in events if not e.cancelled and e.covers(charge_point_id, site)]
    if any(e.target.kind == FLEET for e in covering):
        return Group("fleet", [], events=covering)
    if not covering:
        if site is None or site.connection_kw() is None:
            return Group(f"charger:{charge_point_id}", [charge_point_id])
        members = lookup.members(site.site_id)
        return Group(f"site:{site.site_id}", _with(members, charge_point_id), {site.site_id: (site, members)})
    sites: dict[str, Site] = {}
    chargers: set[str] = {charge_point_id}
    for event in covering:
        if event.target.kind == REGION:
            sites.update((s.site_id, s) for s in lookup.in_region(event.target.ids[0]))
        elif event.target.kind == SITES:
            for site_id in event.target.ids:
                found = lookup.site(site_id)
                if found is not None:
                    sites[site_id] = found
        else:  # a charger list: each listed charger's own site (its limit couples its neighbours) comes too
            chargers.update(event.target.ids)
            for listed in event.target.ids:
                own = site if listed == charge_point_id else lookup.site_of(listed)
                if own is not None and own.connection_kw() is not None:
                    sites[own.site_id] = own
    if site is not None:
        sites[site.site_id] = site
    by_site: dict[str, tuple[Site, list[str]]] = {}
    for site_id, s in sorted(sites.items()):
        members = lookup.members(site_id)
        by_site[site_id] = (s, members)
        chargers.update(members)
    key = "event:" + "+".join(sorted(e.event_id for e in covering))
    return Group(key, sorted(chargers), by_site, covering)


def _with(members: list[str], charge_point_id: str) -> list[str]:
    return members if charge_point_id in members else sorted([*members, charge_point_id])


def coalesce_key(group: Group) -> str:
    """Where a burst's claim lives: the site (or event group, or charger) being re-planned."""
    return group.key
