"""Sites with their own connection limits, and grid-demand events that span many sites.

A site is a set of chargers behind one connection (a house fuse, a depot's supply) with a limit in
kW. Each site is planned exactly on its own (``planner.plan``: per-vehicle fill when its limit does
not bind, else its two-stage LP). An event that caps the power of many sites at once is coordinated
without one giant LP, by price decomposition (dual decomposition of the coupling constraint, e.g.
Boyd et al., "Notes on Decomposition Methods", Stanford EE364b, 2007):

1. a price ``lam[t]`` (p/kWh) on the event's capacity in each slot is added to every site's cost, each
   site is re-planned against it, and the price of each slot is moved by bisection: up while the sites
   together break the event's cap in that slot, down while they leave room at a positive price;
2. the held cap is then made exact: each site gets, per slot, its load at the final prices scaled to
   the cap where the sites together still exceed it, and is re-planned exactly (true cost) inside
   that share. So the event's cap is never exceeded, whatever the prices converged to;
3. energy first: capacity left unused goes to the sites still short of energy, in proportion to what
   they miss, and they are re-planned (rounds; the room lets a site move its other vehicles out of
   the slots its short vehicles need).

``coordinate`` returns the plans, the iterations and, when asked, the gap to the exact LP of all the
sites and the event at once (``exact``), which fits for up to some tens of thousands of vehicles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from csms.charging import planner
from csms.charging.tariff import SLOT


@dataclass(frozen=True)
class Site:
    """A connection point: ``limit_kw`` on the sum of its chargers' power (None: no limit), and
    optionally a per-phase limit ``phase_limit_a`` (A on each of ``phases`` phases at ``voltage_v``
    V phase to neutral, e.g. a 100 A three-phase house fuse). ``region`` groups sites for grid-demand
    events (a DNO area). Checked once by ``csms.charging.groups.check_site``."""

    site_id: str
    limit_kw: float | None = None
    region: str = ""
    name: str = ""
    phase_limit_a: float | None = None
    phases: int = 3
    voltage_v: float = 230.0

    def connection_kw(self) -> float | None:
        """The limit the planner holds (kW): the smaller of ``limit_kw`` and the per-phase limit over
        all phases (phases x A x V / 1000). The planner does not know which phase a single-phase
        charger is on, so a per-phase limit is held as balanced load (None: no limit)."""
        limits = [float(self.limit_kw)] if self.limit_kw is not None else []
        if self.phase_limit_a is not None:
            limits.append(self.phases * self.phase_limit_a * self.voltage_v / 1000)
        return min(limits) if limits else None


@dataclass
class SitePlans:
    """Plans per site (same order as the sites given) and what coordinating them took."""

    plans: list[planner.Plan]
    iterations: int = 0
    prices: np.ndarray = field(default_factory=lambda: np.zeros(0))  # p/kWh per slot on the event's capacity

    def load(self) -> np.ndarray:
        """Power of all the sites together per slot (kW)."""
        return np.sum([p.slot_power() for p in self.plans], axis=0) if self.plans else np.zeros(0)

    def cost(self) -> float:
        """p, at the true cost per slot (without the coordination prices)."""
        return float(sum(p.cost() for p in self.plans))

    def unmet_kwh(self) -> float:
        return float(sum(p.unmet_kwh().sum() for p in self.plans))

    def delivered_kwh(self) -> float:
        return float(sum(p.energy_kwh().sum() for p in self.plans))


def _site_problem(starts, cost, site: Site, vehicles, slot, slot_cap=None) -> planner.Problem:
    problem = planner.Problem(starts, cost, vehicles, site_cap_kw=site.connection_kw(), slot=slot)
    if slot_cap is not None:
        problem.group_caps = [(np.arange(len(vehicles)), np.asarray(slot_cap, float))]
    return problem


def plan_sites(starts: list[datetime], cost: np.ndarray, sites: list[tuple[Site, list[planner.Vehicle]]],
               slot: timedelta = SLOT) -> SitePlans:
    """Each site on its own, exactly (no event couples them)."""
    return SitePlans([planner.plan(_site_problem(starts, cost, s, v, slot)) for s, v in sites])


def coordinate(starts: list[datetime], cost: np.ndarray, sites: list[tuple[Site, list[planner.Vehicle]]],
               event_cap_kw: np.ndarray, *, slot: timedelta = SLOT, iterations: int = 25,
               repair_rounds: int = 20) -> SitePlans:
    """Every site planned against one event's cap per slot (kW, ``inf`` outside the event) by
    per-slot price bisection, then the cap made exact by per-site shares (see the module text).
    Raises PlanError (from the planner) on unusable inputs."""
    cost = np.asarray(cost, float)
    cap = np.asarray(event_cap_kw, float)
    n = len(starts)
    if len(cap) != n:
        raise planner.PlanError("one event cap per slot is needed")
    capped = np.isfinite(cap)
    lam = np.zeros(n)
    lo, hi = np.zeros(n), np.full(n, np.inf)
    step = float(np.ptp(cost)) + 1.0  # a price this high moves any energy out of a slot
    plans = [planner.plan(_site_problem(starts, cost, s, v, slot)) for s, v in sites]
    # a price on capped slots changes only the sites with a vehicle plugged in during one of them
    touched = [j for j, p in enumerate(plans) if np.any(capped[p.cols])]
    done = 0
    for done in range(1, iterations + 1):
        load = np.sum([p.slot_power() for p in plans], axis=0)
        over = capped & (load > cap + 1e-6)
        slack = capped & (load < cap - 1e-6) & (lam > 0)
        if not over.any() and not slack.any():
            break
        lo[over] = lam[over]
        lam[over] = np.where(np.isfinite(hi[over]), (lam[over] + hi[over]) / 2, lam[over] + step)
        hi[slack] = lam[slack]
        lam[slack] = (lo[slack] + lam[slack]) / 2
        for j in touched:
            site, vehicles = sites[j]
            plans[j] = planner.plan(_site_problem(starts, cost + lam, site, vehicles, slot))
    load = np.sum([p.slot_power() for p in plans], axis=0) if plans else np.zeros(n)
    scale = np.where(capped & (load > cap), cap / np.maximum(load, 1e-12), 1.0)
    shares = [np.where(capped, p.slot_power() * scale, np.inf) for p in plans]
    final = [planner.plan(_site_problem(starts, cost, s, v, slot, share)) for (s, v), share in zip(sites, shares)]
    for _ in range(repair_rounds):
        # Energy first: capacity the sites leave unused goes to the sites still short, in proportion
        # to what they miss, and only they are re-planned. Shares never add up to more than the cap.
        unmet = np.array([p.unmet_kwh().sum() for p in final])
        if unmet.sum() <= 1e-6 * max(1, sum(len(p.problem.vehicles) for p in final)):
            break
        used = np.sum([p.slot_power() for p in final], axis=0)
        free = np.where(capped, np.maximum(0.0, cap - used), 0.0)
        if free.sum() <= 1e-9:
            break
        for k in (int(x) for x in np.flatnonzero(unmet > 1e-9)):
            shares[k] = np.where(capped, final[k].slot_power() + free * unmet[k] / unmet.sum(), np.inf)
            site, vehicles = sites[k]
            final[k] = planner.plan(_site_problem(starts, cost, site, vehicles, slot, shares[k]))
    return SitePlans(final, done, lam)


def exact(starts: list[datetime], cost: np.ndarray, sites: list[tuple[Site, list[planner.Vehicle]]],
          event_cap_kw: np.ndarray, slot: timedelta = SLOT) -> planner.Plan:
    """All the sites and the event as one two-stage LP (the reference ``coordinate`` is measured against)."""
    vehicles: list[planner.Vehicle] = []
    groups = []
    for site, vs in sites:
        members = np.arange(len(vehicles), len(vehicles) + len(vs))
        vehicles.extend(vs)
        limit = site.connection_kw()
        if limit is not None:
            groups.append((members, np.full(len(starts), float(limit))))
    groups.append((np.arange(len(vehicles)), np.asarray(event_cap_kw, float)))
    return planner.solve_lp(planner.Problem(starts, cost, vehicles, slot=slot, group_caps=groups))
