"""Smart charging: plan each plugged-in vehicle's energy into the cheapest, cleanest
slots before its departure, and send a charging profile only when the plan changed.

Cost of a slot = price (p/kWh) + carbon price (GBP/t) x forecast intensity (g/kWh) / 10^4.
For one vehicle without a shared limit, filling the cheapest slots first at the
vehicle's maximum power is exactly optimal (the LP's greedy solution): that is what
``sort_and_fill`` does. A fleet under a shared cap needs an LP (``csms.charging.planner``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable

import numpy as np

from csms.charging.defaults import DEFAULT_CARBON_PRICE_GBP_PER_T, DEFAULT_MAX_POWER_W, whole_w
from csms.charging.ports import PlanSink
from csms.model import Preference
from csms.charging.planner import DemandEvent, Problem, Vehicle
from csms.charging.planner import fill, plan as fleet_plan
from csms.charging.tariff import SLOT, Signals, slot_start

log = logging.getLogger(__name__)

DEFAULT_STAY = timedelta(hours=8)
DEFAULT_ENERGY_KWH = 30.0
# Plans leave room for what the platform cannot see at once (meter values arrive every few
# minutes, profiles take a round trip, A limits round down): finish this early ...
FINISH_MARGIN = timedelta(minutes=30)
# ... and plan with this share of the vehicle's maximum power.
PLANNING_POWER_SHARE = 0.9


@dataclass(frozen=True)
class PlugIn:
    charge_point_id: str
    connector_id: int
    transaction_id: int
    plugged_at: datetime
    delivered_wh: float
    max_power_w: float
    preference: Preference = Preference()
    last_plan_hash: str | None = None
    capped: bool = False  # planned under a shared limit (site, event): its profile never above the plan


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime
    power_w: float


def slot_cost(price_p_per_kwh: float, carbon_g_per_kwh: float, carbon_price_gbp_per_t: float) -> float:
    """p/kWh: 1 GBP/t x 1 g/kWh = 10^-6 GBP/kWh = 10^-4 p/kWh."""
    return price_p_per_kwh + carbon_price_gbp_per_t * carbon_g_per_kwh / 1e4


def slot_grid(now: datetime, horizon: datetime, signals: Signals,
              carbon_price: float = DEFAULT_CARBON_PRICE_GBP_PER_T) -> tuple[list[datetime], np.ndarray, np.ndarray]:
    """The planning grid from the slot holding ``now`` to ``horizon``: slot starts (UTC), cost per slot
    (p/kWh, ``slot_cost``) and forecast intensity (gCO2/kWh). Time without signals (before or beyond
    the published window) costs more than every known slot (the dearest + 1 p/kWh) and has intensity
    0, so it is used after every known slot: the energy is planned even when the window ends before
    departure, and with no signals at all the vehicle simply charges now."""
    starts: list[datetime] = []
    at = slot_start(now)
    while at < horizon:
        starts.append(at)
        at += SLOT
    known: list[float | None] = []
    carbon: list[float] = []
    for start in starts:
        try:
            i = signals.index(start)
        except KeyError:
            known.append(None)
            carbon.append(0.0)
            continue
        known.append(slot_cost(signals.price_p_per_kwh[i], signals.carbon_g_per_kwh[i], carbon_price))
        carbon.append(signals.carbon_g_per_kwh[i])
    dearest = max((c for c in known if c is not None), default=0.0) + 1.0
    return starts, np.asarray([dearest if c is None else c for c in known], float), np.asarray(carbon, float)


def sort_and_fill(now: datetime, departure: datetime, energy_wh: float, max_power_w: float, signals: Signals,
                  carbon_price: float = DEFAULT_CARBON_PRICE_GBP_PER_T) -> list[Interval]:
    """Cheapest slots first at full power until the energy is planned (earlier slot on ties), for one
    vehicle plugged in from ``now`` to ``departure`` (W, Wh, UTC). Time outside the signal window comes
    after every known slot (``slot_grid``); when the energy does not fit, every slot is filled (as
    much as possible). Returns the plan as contiguous intervals from ``now`` to ``departure``, oldest
    first. The fill itself is ``csms.charging.planner.fill``, the one the fleet path and the backtest
    use; partial slots at ``now`` and ``departure`` count pro rata."""
    if energy_wh <= 0 or departure <= now or max_power_w <= 0:
        return []
    starts, costs, _ = slot_grid(now, departure, signals, carbon_price)
    problem = Problem(starts, costs, [Vehicle("vehicle", now, departure, energy_wh / 1000, max_power_w / 1000)])
    return [Interval(a, b, kw * 1000) for a, b, kw in fill(problem).intervals(0)]


def power_at(plan: list[Interval], at: datetime) -> float:
    """The plan's power (W) at ``at``: 0 outside its intervals."""
    return next((p.power_w for p in plan if p.start <= at < p.end), 0.0)


def periods(plan: list[Interval], now: datetime) -> list[tuple[int, float]]:
    """Profile periods (seconds from ``now``, W: ``whole_w``) for a plan that starts at ``now``."""
    return [(int((p.start - now).total_seconds()), whole_w(p.power_w)) for p in plan]


def plan_hash(plan: list[Interval]) -> str:
    """What identifies a plan for 'send only on change': power levels (to 1 kW) and their edges
    (to the minute), ignoring where the first interval starts (that is always 'now'). Small
    changes of a partly filled slot are not worth a charging profile."""
    if all(p.power_w <= 0 for p in plan):
        return "pause"  # a pause is the same plan whenever it is made
    text = json.dumps([[p.start.strftime("%Y%m%d%H%M") if i else "", p.end.strftime("%Y%m%d%H%M"),
                        round(p.power_w, -3)] for i, p in enumerate(plan)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class RunReport:
    planned: int = 0
    sent: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    group: str = ""  # what a re-plan planned: "charger:<id>", "site:<id>", "event:<id>", "fleet"
    coalesced: bool = False  # a run of the same group was under way: it plans this change too


@dataclass
class SmartScheduler:
    signals: Callable[[], Signals]
    sink: PlanSink
    clock: Callable[[], datetime]
    carbon_price: float = DEFAULT_CARBON_PRICE_GBP_PER_T
    default_stay: timedelta = DEFAULT_STAY
    default_energy_kwh: float = DEFAULT_ENERGY_KWH
    finish_margin: timedelta = FINISH_MARGIN
    power_share: float = PLANNING_POWER_SHARE
    site_cap_kw: float | None = None
    events: Callable[[], list[DemandEvent]] = list
    # Several sites planned together (an event group): each site's limit (kW) on its chargers (charge
    # point ids), on top of ``site_cap_kw`` and the events, which cap all the vehicles of the run.
    site_caps: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    # Sees every vehicle's plan of a run, sent or unchanged (the periodic run records each site's
    # planned load as its allowance of a large event: ``csms.charging.allowances``).
    observe: Callable[[PlugIn, list[Interval]], None] | None = None

    def _need(self, plug: PlugIn) -> tuple[datetime, datetime, float]:
        """(target, departure, remaining Wh) from the driver's preference or the defaults."""
        pref = plug.preference
        departure = pref.departure or plug.plugged_at + self.default_stay
        stay = departure - plug.plugged_at
        target = departure - min(self.finish_margin, stay / 5)
        needed_wh = (pref.energy_kwh if pref.energy_kwh is not None else self.default_energy_kwh) * 1000
        return target, departure, max(0.0, needed_wh - plug.delivered_wh)

    def plan(self, plug: PlugIn, now: datetime, signals: Signals) -> list[Interval]:
        pref = plug.preference
        target, departure, remaining = self._need(plug)
        if remaining <= 0:
            return []
        if pref.charge_now or target <= now:
            # Charge now: full power until the energy is in (past the target, until unplugged).
            end = now + timedelta(hours=remaining / plug.max_power_w)
            return [Interval(now, max(end, now + timedelta(minutes=1)), plug.max_power_w)]
        carbon_price = self.carbon_price if pref.carbon_price is None else pref.carbon_price
        plan = sort_and_fill(now, target, remaining, plug.max_power_w * self.power_share, signals, carbon_price)
        if plan and plan[-1].end < departure:
            # The margin before departure: full power if anything is still missing then.
            plan.append(Interval(plan[-1].end, departure, plug.max_power_w))
        return plan

    def fleet_plans(self, plugs: list[PlugIn], now: datetime, signals: Signals,
                    events: list[DemandEvent] | None = None) -> list[list[Interval]]:
        """Every vehicle planned together under the site cap and the grid-demand events (the exact
        fleet LP of ``csms.charging.planner``). Vehicles on "charge now" (or past their target) take full
        power first and the others share what is left; after its target a vehicle gets at most an
        equal share of the cap, so the safety net cannot break it either."""
        events = list(self.events()) if events is None else events
        cap_w = None if self.site_cap_kw is None else self.site_cap_kw * 1000
        steered: list[tuple[int, datetime, datetime, float]] = []
        fixed: list[int] = []
        plans: list[list[Interval]] = [[] for _ in plugs]
        for i, plug in enumerate(plugs):
            target, departure, remaining = self._need(plug)
            if remaining <= 0:
                plans[i] = []
            elif plug.preference.charge_now or target <= now:
                fixed.append(i)
            else:
                steered.append((i, target, departure, remaining))
        share_w = None if cap_w is None else cap_w / max(1, len(plugs))
        site_share = {}  # charge point id -> its equal share of its site's limit (W)
        for limit_kw, members in self.site_caps:
            on_site = sum(1 for p in plugs if p.charge_point_id in members)
            for cp in members:
                site_share[cp] = limit_kw * 1000 / max(1, on_site)

        def share_of(plug: PlugIn) -> float:
            shares = [x for x in (share_w, site_share.get(plug.charge_point_id)) if x is not None]
            return min([plug.max_power_w, *shares])
        def net_of(plug: PlugIn, start: datetime, end: datetime) -> float:
            """The safety net's power after a vehicle's target: its share, and an equal share of each
            event's cap over that time (else the net alone could break an event's cap)."""
            caps = [e.cap_kw * 1000 / max(1, len(plugs)) for e in events if e.start < end and start < e.end]
            return min([share_of(plug), *caps])
        for i in fixed:
            power = share_of(plugs[i])
            remaining = self._need(plugs[i])[2]
            plans[i] = [Interval(now, now + timedelta(hours=remaining / power), power)]
        if steered:
            horizon = max(t for _, t, _, _ in steered)
            starts, costs, carbon = slot_grid(now, horizon, signals, self.carbon_price)

            def carbon_delta(plug: PlugIn) -> float:  # a driver's own carbon price, in p/kWh per g/kWh
                own = plug.preference.carbon_price
                return 0.0 if own is None else (own - self.carbon_price) / 1e4
            # Power held outside the LP (charge-now vehicles; each steered vehicle's safety net after its
            # target) is taken off every cap it falls under, so the caps hold with it too.
            held = [(plans[i][0].start, plans[i][0].end, plans[i][0].power_w, plugs[i].charge_point_id) for i in fixed]
            held += [(target, departure, net_of(plugs[i], target, departure), plugs[i].charge_point_id)
                     for i, target, departure, _ in steered if target < departure]
            fixed_events = [DemandEvent(a, b, -w / 1000) for a, b, w, _ in held]
            problem = Problem(starts, np.asarray(costs, dtype=float), [
                Vehicle(str(i), now, target, remaining / 1000, plugs[i].max_power_w * self.power_share / 1000,
                        carbon_delta(plugs[i]))
                for i, target, _, remaining in steered], site_cap_kw=self.site_cap_kw,
                events=events + _reserve(fixed_events, self.site_cap_kw, events), carbon=np.asarray(carbon, dtype=float),
                group_caps=self._site_groups(plugs, steered, held, starts))
            result = fleet_plan(problem)
            for k, (i, target, departure, _) in enumerate(steered):
                intervals = [Interval(a, b, kw * 1000) for a, b, kw in result.intervals(k)]
                safety = net_of(plugs[i], target, departure)
                if target < departure:
                    intervals.append(Interval(target, departure, safety))
                plans[i] = intervals
        return plans

    def _site_groups(self, plugs: list[PlugIn], steered, held, starts: list[datetime]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``site_caps`` as the LP's group caps: (indices among the steered vehicles, kW per slot), each
        site's limit less the power its vehicles hold outside the LP (``held``: start, end, W, charge
        point id) in each slot."""
        out = []
        for limit_kw, members in self.site_caps:
            rows = [k for k, (i, _, _, _) in enumerate(steered) if plugs[i].charge_point_id in members]
            if not rows:
                continue
            cap = np.full(len(starts), float(limit_kw))
            for start, end, power_w, cp in held:
                if cp in members:
                    for t, at in enumerate(starts):
                        if at < end and start < at + SLOT:
                            cap[t] -= power_w / 1000
            out.append((np.asarray(rows, int), np.maximum(cap, 0.0)))
        return out

    def run(self, plugs: list[PlugIn]) -> RunReport:
        now, signals = self.clock(), self.signals()
        report = RunReport()
        fleet = None
        events = list(self.events())  # read once per run (a DynamoDB query in the platform)
        if self.site_cap_kw is not None or events or self.site_caps:
            try:
                fleet = self.fleet_plans(plugs, now, signals, events)
            except Exception:
                log.exception("fleet planning failed; nothing sent this run")
                report.skipped = [p.charge_point_id for p in plugs]
                return report
        changed: list[tuple[PlugIn, list[Interval], str]] = []
        for n, plug in enumerate(plugs):
            try:
                plan = fleet[n] if fleet is not None else self.plan(plug, now, signals)
            except Exception:
                log.exception("planning failed for %s/%s", plug.charge_point_id, plug.transaction_id)
                report.skipped.append(plug.charge_point_id)
                continue
            report.planned += 1
            if not plan:
                plan = [Interval(now, now + timedelta(minutes=1), 0.0)]  # nothing left to charge: pause
            if self.observe is not None:
                self.observe(plug, plan)
            digest = plan_hash(plan)
            if digest == plug.last_plan_hash:
                report.unchanged += 1
                continue
            changed.append((replace(plug, capped=True) if fleet is not None else plug, plan, digest))
        # Lowest power now first: the cuts go out before the raises, so vehicles sharing a limit do
        # not draw their new and old powers together for the time the sends take (a demo depot was
        # 2 kW over its limit while a raise was sent before a cut). Ties keep the plug order.
        for plug, plan, digest in sorted(changed, key=lambda c: power_at(c[1], now)):
            try:
                if self.sink.send(plug, plan, now):
                    # remembered only once queued: a run that dies here re-sends it next time
                    self.sink.saved(plug, plan, digest)
                    report.sent += 1
            except Exception:
                log.exception("sending the plan failed for %s/%s", plug.charge_point_id, plug.transaction_id)
                report.skipped.append(plug.charge_point_id)
        return report


def _reserve(fixed: list[DemandEvent], site_cap_kw: float | None, events: list[DemandEvent]) -> list[DemandEvent]:
    """What power held outside the LP takes off the caps, as demand events: within each held interval,
    the site cap (and each event overlapping it) minus every held power overlapping that interval
    (``f.cap_kw`` holds minus the held power)."""
    out = []
    for f in fixed:
        taken = sum(g.cap_kw for g in fixed if g.start < f.end and f.start < g.end)  # <= 0
        if site_cap_kw is not None:
            out.append(DemandEvent(f.start, f.end, max(0.0, site_cap_kw + taken)))
        for e in events:
            if e.start < f.end and f.start < e.end:
                out.append(DemandEvent(max(e.start, f.start), min(e.end, f.end), max(0.0, e.cap_kw + taken)))
    return out
