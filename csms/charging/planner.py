"""Fleet charging plans: the cheapest, cleanest energy for every vehicle by its departure, under
per-vehicle power limits, a site power cap and grid-demand events.

The problem (powers in kW, slots of ``dt`` hours, ``f[v,t]`` = share of slot t that vehicle v is
plugged in, ``c[t]`` = price + carbon price x forecast intensity, p/kWh):

    lexicographically, first  minimise  sum_v u[v]                       (energy owed comes first)
                       then   minimise  sum_v,t c[t] f[v,t] dt p[v,t]  +  tiny sum_v,t t f[v,t] dt p[v,t]
                                        with sum_v u[v] held at its first-stage minimum
    subject to  sum_t f[v,t] dt p[v,t] + u[v] = E[v]      (energy by departure; u = unmet)
                sum_v p[v,t] <= cap[t]                    (site cap and demand events: instantaneous
                                                           power, so it holds within every slot)
                0 <= p[v,t] <= P[v],  u[v] >= 0

Two stages, not a penalty weight on u: no slot is cheap enough to buy savings with a driver's
energy. The tiny time cost makes it deliver early among equal costs ("as much as possible, as early
as possible"). Without a binding cap the vehicles are independent and the LP's optimum is, for each
vehicle, the cheapest slots filled first at full power: ``fill`` computes exactly that in
O(slots log slots), and it is the one fill of the project (the live per-vehicle plan calls it too).
When the independent plans break a cap, the whole fleet is solved as a two-stage LP with HiGHS
(scipy.optimize.linprog): an exact method, not a heuristic.

Hardware options (``min_on_slots``, ``max_windows``) are applied per vehicle afterwards by a
documented heuristic (``smooth``) that never breaks a cap or a vehicle's need it could meet; their
cost is reported by the backtest, not hidden.
"""

from __future__ import annotations

import numpy as np

from csms.charging.fleet_lp import smallest_feasible_cap_kw, solve_lp
from csms.charging.problem import (EARLY_WEIGHT, UNMET_PENALTY, DemandEvent, Plan, PlanError, Problem, Vehicle,
                                   pair_cost)
from csms.charging.smoothing import smooth

# The problem's types, the LP and the smoothing live in their own modules; their names are read
# from here by the scheduler, the sites, the backtest, the CLI and the tests.
__all__ = ["EARLY_WEIGHT", "UNMET_PENALTY", "DemandEvent", "Plan", "PlanError", "Problem", "Vehicle", "fill", "plan",
           "smallest_feasible_cap_kw", "smooth", "solve_lp"]


def fill(problem: Problem) -> Plan:
    """Each vehicle on its own: its cheapest slots first at full power (exact without a cap).

    The one sort-and-fill of the project: the live per-vehicle plan (``csms.charging.scheduler``),
    the fleet path and the backtest all call it. Slots are taken by (cost, start): the earlier slot
    wins an exact tie, never a slot that is dearer by any amount. A slot the vehicle is plugged in for
    only part of (``share``) holds that share of a full slot's energy. A need that does not fit takes
    every slot at full power (as much as possible). Returns the plan over the problem's pairs."""
    rows, cols, share = problem.presence()
    power = np.zeros(len(rows))
    dt = problem.dt
    cost = pair_cost(problem, rows, cols)
    order = np.lexsort((cols, cost, rows))  # by vehicle, then by cost, then earlier on ties
    boundaries = np.flatnonzero(np.diff(rows[order])) + 1
    for group in np.split(order, boundaries):
        if len(group) == 0:
            continue
        v = problem.vehicles[rows[group[0]]]
        left = v.energy_kwh
        for k in group:
            if left <= 1e-9:  # kWh (1 mWh): what is left is rounding
                break
            room = v.max_kw * share[k] * dt
            e = min(left, room)
            power[k] = v.max_kw if e >= room else e / (share[k] * dt)
            left -= e
    return Plan(problem, rows, cols, share, power, "fill")



def plan(problem: Problem, min_on_slots: int = 1, max_windows: int | None = None) -> Plan:
    """The optimal plan: per-vehicle fill when no cap binds, else the fleet LP; then the hardware
    options, if any."""
    result = fill(problem)
    caps = problem.caps()
    if np.any(result.slot_power() > caps + 1e-6) or any(
            np.any(load > cap + 1e-6) for load, (_, cap) in
            zip(problem.group_loads(result.rows, result.cols, result.power), problem.group_caps)):
        result = solve_lp(problem)
    if min_on_slots > 1 or max_windows is not None:
        result = smooth(result, min_on_slots=min_on_slots, max_windows=max_windows)
    return result

