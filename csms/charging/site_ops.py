"""Sites and grid-demand event groups as operators set them (behind ``/v1/sites``, ``/v1/events``,
``csms site ...``, ``csms event ...`` and the web page's Sites view). Operators only; every input
rule is ``csms.charging.groups`` (checked once, there).

Ports: ``sites`` (``csms.charging.ports.SiteStore``), ``events`` (``TargetedEvents``), ``chargers``
(``get``: a charger must exist to be assigned), ``replan`` (``csms.charging.ports.Replan``) and
``clock`` (UTC), and ``fleet_size`` (the number of chargers, counted on the fleet index: a
fleet-wide event's group capacity; None: unknown, so the event's fallback allowances are 0 kW).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Protocol

from csms.charging.allowances import group_size
from csms.charging.defaults import DEFAULT_MAX_POWER_W
from csms.charging.groups import FLEET, SITES, EventTarget, GridEvent, GroupError, check_event, check_site
from csms.charging.ports import Replan, SiteStore, TargetedEvents
from csms.charging.sites import Site
from csms.operations import Conflict, Forbidden, Invalid, NotFound, Principal
from csms.timeutil import iso


class ChargerExists(Protocol):
    def get(self, charge_point_id: str) -> Any: ...


def site_json(site: Site, chargers: list[str] | None = None) -> dict[str, Any]:
    """A site as the API shows it (kW, A, V); ``connection_kw`` is the limit the planner holds."""
    out: dict[str, Any] = {"id": site.site_id, "name": site.name, "region": site.region, "limit_kw": site.limit_kw,
                           "phase_limit_a": site.phase_limit_a, "phases": site.phases, "voltage_v": site.voltage_v,
                           "connection_kw": site.connection_kw()}
    if chargers is not None:
        out["chargers"] = chargers
    return out


def event_json(e: GridEvent) -> dict[str, Any]:
    return {"id": e.event_id, "start": iso(e.start), "end": iso(e.end), "cap_kw": e.cap_kw,
            "reduction_kw": e.reduction_kw, "target": {"kind": e.target.kind, "ids": list(e.target.ids)},
            "cancelled": e.cancelled}


class SiteOperations:
    def __init__(self, *, sites: SiteStore, events: TargetedEvents, chargers: ChargerExists, replan: Replan,
                 clock: Callable[[], datetime], clear_default: Callable[[str], object] | None = None,
                 fleet_size: Callable[[], int] | None = None):
        self.sites, self.events, self.chargers, self.replan, self.clock = sites, events, chargers, replan, clock
        self.fleet_size = fleet_size
        # lifts the site's default limit from a charger that left it (a ClearChargingProfile in the platform)
        self.clear_default = clear_default

    def _left(self, charge_point_id: str) -> None:
        if self.clear_default is not None:
            try:
                self.clear_default(charge_point_id)
            except Exception:  # queued calls survive; a charger that refuses keeps a limit its plans override
                pass
        self._ask(charge_point_id)

    @staticmethod
    def _operator(who: Principal) -> None:
        if not who.operator:
            raise Forbidden("only operators manage sites and grid-demand events")

    def _ask(self, key: str) -> None:
        try:
            self.replan(key)
        except Exception:  # the scheduled run re-plans anyway
            pass

    # ------------------------------------------------------------ sites
    def list_sites(self, who: Principal) -> list[dict]:
        self._operator(who)
        return [site_json(s) for s in self.sites.listed()]

    def get_site(self, who: Principal, site_id: str) -> dict:
        self._operator(who)
        site = self.sites.get(site_id)
        if site is None:
            raise NotFound(f"no site {site_id}")
        return site_json(site, self.sites.members(site_id))

    def put_site(self, who: Principal, site_id: str, replace: bool = True, **fields: Any) -> tuple[dict, bool]:
        """Create or replace a site (``check_site``'s fields); (the site, created?). Its chargers are
        re-planned against the new limit. ``replace=False`` only creates: ``Conflict`` when the site
        exists (``POST /v1/sites``, ``csms site add`` without ``--replace``)."""
        self._operator(who)
        try:
            site = check_site(site_id, **fields)
        except GroupError as exc:
            raise Invalid(str(exc)) from exc
        created = self.sites.put(site, replace=replace)
        if not created and not replace:
            raise Conflict(f"site {site_id} already exists (to change it: open it on the web page, csms site add "
                           f"--replace, or PUT /v1/sites/{site_id})")
        members = self.sites.members(site_id)
        if members:
            self._ask(members[0])  # one request: the re-plan covers the whole site
        return site_json(site, members), created

    def delete_site(self, who: Principal, site_id: str) -> None:
        """Remove a site; its chargers are on no site any more and are re-planned on their own.
        ``Conflict`` while a grid-demand event that has not ended names the site (one Query of the
        events partition, as ``list_events``): the event would stay stored and hold a new site made
        with the same id later. Refused, not narrowed: an event is the operator's copy of a DNO's
        instruction, changed only by cancelling it (as an event naming an unknown site is refused,
        never stored). ``NotFound`` for an unknown site."""
        self._operator(who)
        holding = [e.event_id for e in self.events.grid_events(self.clock())
                   if not e.cancelled and e.target.kind == SITES and site_id in e.target.ids]
        if holding:
            one = len(holding) == 1
            raise Conflict(f"site {site_id} is targeted by grid-demand event {', '.join(holding)}: cancel "
                           f"{'it' if one else 'them'} first ({'; '.join(f'csms event cancel {i}' for i in holding)}), "
                           f"or remove the site after {'it ends' if one else 'they end'}")
        members = self.sites.members(site_id)
        if not self.sites.delete(site_id):
            raise NotFound(f"no site {site_id}")
        for charge_point_id in members:  # each charger is on its own again
            self._left(charge_point_id)

    def assign(self, who: Principal, site_id: str, charge_point_id: str) -> dict:
        """Put a charger on a site (off any other); both sites are re-planned."""
        self._operator(who)
        if self.chargers.get(charge_point_id) is None:
            raise NotFound(f"no charger {charge_point_id}")
        try:
            previous = self.sites.assign(site_id, charge_point_id)
        except LookupError as exc:
            raise NotFound(f"no site {site_id}") from exc
        if previous and previous != site_id:
            members = self.sites.members(previous)
            if members:
                self._ask(members[0])  # the site it left: its shares change
        self._ask(charge_point_id)
        return {"id": charge_point_id, "site": site_id, "previous_site": previous}

    def unassign(self, who: Principal, site_id: str, charge_point_id: str) -> None:
        self._operator(who)
        if self.sites.site_of(charge_point_id) is None or charge_point_id not in self.sites.members(site_id):
            raise NotFound(f"{charge_point_id} is not on site {site_id}")
        self.sites.unassign(charge_point_id)
        self._left(charge_point_id)

    # ------------------------------------------------------------ events
    def list_events(self, who: Principal) -> list[dict]:
        return [event_json(e) for e in self.events.grid_events(self.clock())]

    def create_event(self, who: Principal, start: datetime, end: datetime, *, cap_kw: float | None = None,
                     reduction_kw: float | None = None, target: EventTarget = EventTarget()) -> dict:
        """A grid-demand event (``check_event``); re-plans the fleet for a fleet-wide event, else each
        targeted site / charger (a region: the fleet run picks it up, see ``Replan``)."""
        self._operator(who)
        try:
            target = check_event(start, end, self.clock(), cap_kw=cap_kw, reduction_kw=reduction_kw, target=target)
        except GroupError as exc:
            raise Invalid(str(exc)) from exc
        self._check_targets_exist(target)
        capacity, chargers = self._group_size(target)
        event_id = self.events.add_targeted(start, end, cap_kw=cap_kw, reduction_kw=reduction_kw, target=target,
                                            group_capacity_kw=capacity, group_chargers=chargers)
        self._replan_target(target)
        return event_json(GridEvent(event_id, start, end, cap_kw, reduction_kw, target, False, capacity, chargers))

    def _group_size(self, target: EventTarget) -> tuple[float | None, int | None]:
        """The event group's capacity (kW) and chargers, once, at creation (``allowances.group_size``):
        a Query per site of the group (a region: its sites' Query first; the fleet: the sites' Query
        and the fleet index's count). Never on a per-message path."""
        max_kw = DEFAULT_MAX_POWER_W / 1000
        if target.kind == "chargers":
            own = {cp: self.sites.site_of(cp) for cp in target.ids}
            limited = {s.site_id: s for s in own.values() if s is not None and s.connection_kw() is not None}
            sizes = [(s.connection_kw(), len(self.sites.members(i))) for i, s in sorted(limited.items())]
            return group_size(sizes, sum(1 for s in own.values() if s is None or s.site_id not in limited), max_kw)
        if target.kind == FLEET:
            if self.fleet_size is None:
                return None, None
            sizes = [(s.connection_kw(), len(self.sites.members(s.site_id))) for s in self.sites.listed()
                     if s.connection_kw() is not None]
            return group_size(sizes, max(0, self.fleet_size() - sum(n for _, n in sizes)), max_kw)
        found = self.sites.in_region(target.ids[0]) if target.kind == "region" else \
            [s for s in (self.sites.get(i) for i in target.ids) if s is not None]
        return group_size([(s.connection_kw(), len(self.sites.members(s.site_id))) for s in found], 0, max_kw)

    def _check_targets_exist(self, target: EventTarget) -> None:
        """An event that names a site or charger the platform does not know, or a region no site is
        in, would cap nothing: refused (NotFound / Invalid) rather than stored. One read per id
        (at most ``csms.charging.groups`` MAX_IDS), one Query for a region."""
        if target.kind == "sites":
            missing = [i for i in target.ids if self.sites.get(i) is None]
            if missing:
                raise NotFound(f"no site {', '.join(missing)}")
        elif target.kind == "chargers":
            missing = [i for i in target.ids if self.chargers.get(i) is None]
            if missing:
                raise NotFound(f"no charger {', '.join(missing)}")
        elif target.kind == "region" and not self.sites.in_region(target.ids[0]):
            raise Invalid(f"no site is in region {target.ids[0]}: the event would cap nothing")

    def _replan_target(self, target: EventTarget) -> None:
        if target.kind == "chargers":
            for charge_point_id in target.ids:
                self._ask(charge_point_id)
        elif target.kind == "sites":
            for site_id in target.ids:
                members = self.sites.members(site_id)
                if members:
                    self._ask(members[0])
        else:  # the fleet, or a region: one fleet run plans every group
            self._ask("*")

    def cancel_event(self, who: Principal, event_id: str) -> None:
        self._operator(who)
        event = next((e for e in self.events.grid_events(self.clock()) if e.event_id == event_id), None)
        if event is None or not self.events.cancel(event_id):
            raise NotFound(f"no event {event_id}")
        self._replan_target(event.target if event.target.kind != FLEET else EventTarget())
