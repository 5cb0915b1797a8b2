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

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from csms.charging.signals import DemandEvent
from csms.charging.tariff import SLOT

__all__ = ["DemandEvent", "Plan", "PlanError", "Problem", "Vehicle", "fill", "plan", "smallest_feasible_cap_kw", "smooth",
           "solve_lp"]

UNMET_PENALTY = 1e4  # p/kWh: prices unmet energy in reported objectives (the LP itself is lexicographic)
EARLY_WEIGHT = 1e-6  # p/kWh per slot: among equal costs, earlier


class PlanError(ValueError):
    """Inputs the planner cannot use (names the vehicle or slot)."""


@dataclass(frozen=True)
class Vehicle:
    id: str
    plug_in: datetime
    departure: datetime
    energy_kwh: float
    max_kw: float
    # the driver's own carbon price minus the fleet's, in p/kWh per g/kWh (0: the fleet's price)
    carbon_delta: float = 0.0


@dataclass
class Problem:
    starts: list[datetime]  # slot starts, contiguous
    cost: np.ndarray  # p/kWh per slot (price + carbon price x intensity)
    vehicles: list[Vehicle]
    site_cap_kw: float | None = None
    events: list[DemandEvent] = field(default_factory=list)
    slot: timedelta = SLOT
    carbon: np.ndarray | None = None  # g/kWh per slot: needed when a vehicle has its own carbon price
    # Caps on a subset of the vehicles (a site's connection, a site's share of an event): (vehicle
    # indices, kW per slot) each. The exact fleet LP of several sites at once.
    group_caps: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def __post_init__(self):
        self.cost = np.asarray(self.cost, dtype=float)
        if len(self.starts) != len(self.cost):
            raise PlanError("one cost per slot is needed")
        if self.carbon is not None:
            self.carbon = np.asarray(self.carbon, dtype=float)
            if len(self.carbon) != len(self.cost):
                raise PlanError("one carbon intensity per slot is needed")
        elif any(v.carbon_delta for v in self.vehicles):
            raise PlanError("a vehicle with its own carbon price needs the carbon intensity per slot")
        n = len(self.starts)
        self.group_caps = [(np.asarray(m, int), np.broadcast_to(np.asarray(c, float), (n,)).copy())
                           for m, c in self.group_caps]
        for a, b in zip(self.starts, self.starts[1:]):
            if b - a != self.slot:
                raise PlanError(f"slots must be contiguous: {a.isoformat()} then {b.isoformat()}")
        for v in self.vehicles:
            if v.departure <= v.plug_in:
                raise PlanError(f"vehicle {v.id}: departure is not after plug-in")
            if v.energy_kwh < 0 or v.max_kw <= 0 or not math.isfinite(v.energy_kwh) or not math.isfinite(v.max_kw):
                raise PlanError(f"vehicle {v.id}: energy must be >= 0 and max power > 0")

    @property
    def dt(self) -> float:
        return self.slot.total_seconds() / 3600

    def caps(self) -> np.ndarray:
        """Aggregate power cap per slot (kW): the site cap and every event overlapping the slot."""
        caps = np.full(len(self.starts), np.inf if self.site_cap_kw is None else float(self.site_cap_kw))
        for event in self.events:
            for t, start in enumerate(self.starts):
                if start < event.end and event.start < start + self.slot:
                    caps[t] = min(caps[t], event.cap_kw)
        return caps

    def group_loads(self, rows: np.ndarray, cols: np.ndarray, power: np.ndarray) -> list[np.ndarray]:
        """Per group cap, the group's power per slot (kW) of a plan."""
        out = []
        for members, _ in self.group_caps:
            mask = np.isin(rows, members)
            load = np.zeros(len(self.starts))
            np.add.at(load, cols[mask], power[mask])
            out.append(load)
        return out

    def presence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sparse (vehicle index, slot index, share of the slot plugged in) for every pair > 0."""
        if not self.starts:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        t0, dt_s = self.starts[0], self.slot.total_seconds()
        n = len(self.starts)
        rows, cols, share = [], [], []
        for i, v in enumerate(self.vehicles):
            a = (v.plug_in - t0).total_seconds() / dt_s
            b = (v.departure - t0).total_seconds() / dt_s
            lo, hi = max(0, math.floor(a)), min(n, math.ceil(b))
            for t in range(lo, hi):
                f = min(b, t + 1) - max(a, t)
                if f > 1e-9:
                    rows.append(i)
                    cols.append(t)
                    share.append(f)
        return np.asarray(rows, int), np.asarray(cols, int), np.asarray(share, float)


@dataclass
class Plan:
    """``power[k]`` kW for pair k = (vehicle ``rows[k]``, slot ``cols[k]``), while plugged in."""

    problem: Problem
    rows: np.ndarray
    cols: np.ndarray
    share: np.ndarray
    power: np.ndarray
    method: str

    def energy_kwh(self) -> np.ndarray:
        out = np.zeros(len(self.problem.vehicles))
        np.add.at(out, self.rows, self.power * self.share * self.problem.dt)
        return out

    def cost(self, cost_per_kwh: np.ndarray | None = None) -> float:
        """Objective value in p (the costs per slot given, by default the planning cost)."""
        c = self.problem.cost if cost_per_kwh is None else np.asarray(cost_per_kwh, float)
        return float(np.sum(c[self.cols] * self.power * self.share * self.problem.dt))

    def slot_power(self) -> np.ndarray:
        out = np.zeros(len(self.problem.starts))
        np.add.at(out, self.cols, self.power)
        return out

    def unmet_kwh(self) -> np.ndarray:
        need = np.array([v.energy_kwh for v in self.problem.vehicles])
        return np.maximum(0.0, need - self.energy_kwh())

    def intervals(self, i: int) -> list[tuple[datetime, datetime, float]]:
        """Vehicle i's plan as (start, end, kW) intervals of constant power while plugged in."""
        v = self.problem.vehicles[i]
        out: list[tuple[datetime, datetime, float]] = []
        for k in np.flatnonzero(self.rows == i):
            t = self.cols[k]
            start = max(v.plug_in, self.problem.starts[t])
            end = min(v.departure, self.problem.starts[t] + self.problem.slot)
            kw = float(self.power[k])
            if out and out[-1][1] == start and abs(out[-1][2] - kw) < 1e-9:
                out[-1] = (out[-1][0], end, kw)
            else:
                out.append((start, end, kw))
        return out

    def switches(self, i: int, threshold_kw: float = 0.05) -> int:
        """On/off edges of vehicle i's plan (an off-to-on or on-to-off change)."""
        on = [kw > threshold_kw for _, _, kw in self.intervals(i)]
        return sum(1 for a, b in zip(on, on[1:]) if a != b)


def pair_cost(problem: Problem, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """p/kWh of each (vehicle, slot) pair: the fleet's cost, adjusted by a driver's own carbon price."""
    cost = problem.cost[cols]
    if problem.carbon is not None:
        delta = np.array([v.carbon_delta for v in problem.vehicles], dtype=float)
        cost = cost + delta[rows] * problem.carbon[cols]
    return cost


def _effective_cost(problem: Problem, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return pair_cost(problem, rows, cols) + EARLY_WEIGHT * cols


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


def _lp_matrices(problem: Problem):
    """The LP's pieces: variables p (one per pair, kW) then u (one per vehicle, unmet kWh)."""
    from scipy.sparse import coo_matrix, hstack, identity, vstack

    rows, cols, share = problem.presence()
    nv, npairs, dt = len(problem.vehicles), len(rows), problem.dt
    caps = problem.caps()
    capped = np.flatnonzero(np.isfinite(caps))
    a_eq = hstack([coo_matrix((share * dt, (rows, np.arange(npairs))), shape=(nv, npairs)), identity(nv)]).tocsr()
    b_eq = np.array([v.energy_kwh for v in problem.vehicles])
    a_ub = b_ub = None
    if len(capped):
        slot_row = {t: j for j, t in enumerate(capped)}
        mask = np.isin(cols, capped)
        ub_rows = np.array([slot_row[t] for t in cols[mask]], int)
        a_ub = hstack([coo_matrix((np.ones(mask.sum()), (ub_rows, np.flatnonzero(mask))), shape=(len(capped), npairs)),
                       coo_matrix((len(capped), nv))]).tocsr()
        b_ub = caps[capped]
    for members, group_cap in problem.group_caps:
        pairs = np.flatnonzero(np.isin(rows, members))
        group = coo_matrix((np.ones(len(pairs)), (cols[pairs], pairs)), shape=(len(problem.starts), npairs))
        block = hstack([group, coo_matrix((len(problem.starts), nv))]).tocsr()
        finite = np.flatnonzero(np.isfinite(group_cap))
        a_ub = block[finite] if a_ub is None else vstack([a_ub, block[finite]]).tocsr()
        b_ub = group_cap[finite] if b_ub is None else np.concatenate([b_ub, group_cap[finite]])
    bounds = np.zeros((npairs + nv, 2))
    bounds[:npairs, 1] = [problem.vehicles[r].max_kw for r in rows]
    bounds[npairs:, 1] = np.inf
    return rows, cols, share, a_eq, b_eq, a_ub, b_ub, bounds


# Stage 2 may leave this much more unmet energy than stage 1's optimum: the solver's tolerance
# (kWh per kWh of total need), far below what any meter resolves.
UNMET_TOLERANCE = 1e-9


def solve_lp(problem: Problem) -> Plan:
    """The whole fleet as a lexicographic LP (HiGHS). Exact; used when the independent plans break a cap.

    Energy owed to drivers comes first, cost second, with no weight between them that a cheap
    enough slot could outbid: stage 1 minimises the total unmet energy U* (kWh) under every cap;
    stage 2 minimises cost (plus the tiny earlier-is-better term) with the unmet energy held at
    U* (to ``UNMET_TOLERANCE`` of the total need). The usual case takes one solve: the cheapest plan
    with no unmet energy at all; only when that is infeasible (some need cannot be met under the
    caps) are the two stages solved. Raises PlanError when the solver fails."""
    from scipy.optimize import linprog
    from scipy.sparse import vstack, csr_matrix

    rows, cols, share, a_eq, b_eq, a_ub, b_ub, bounds = _lp_matrices(problem)
    nv, npairs, dt = len(problem.vehicles), len(rows), problem.dt
    c = np.concatenate([_effective_cost(problem, rows, cols) * share * dt, np.zeros(nv)])
    # The usual case first: every need met (u = 0) at least cost. Feasible means U* = 0, so this is
    # the lexicographic optimum in one solve; infeasible (status 2) means some energy cannot be met.
    met = bounds.copy()
    met[npairs:, 1] = 0.0
    second = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=met, method="highs")
    if second.status == 2:
        # Stage 1: as much energy as the caps allow.
        first = linprog(np.concatenate([np.zeros(npairs), np.ones(nv)]), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq,
                        bounds=bounds, method="highs")
        if first.status != 0:
            raise PlanError(f"the LP solver failed (energy stage): {first.message}")
        held = float(first.x[npairs:].sum()) + UNMET_TOLERANCE * max(1.0, float(b_eq.sum()))
        # Stage 2: the cheapest plan that delivers that energy.
        row = csr_matrix(np.concatenate([np.zeros(npairs), np.ones(nv)])[None, :])
        a2 = row if a_ub is None else vstack([a_ub, row]).tocsr()
        b2 = np.array([held]) if b_ub is None else np.concatenate([b_ub, [held]])
        second = linprog(c, A_ub=a2, b_ub=b2, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if second.status != 0:
        raise PlanError(f"the LP solver failed (cost stage): {second.message}")
    power = np.clip(second.x[:npairs], 0.0, None)
    return Plan(problem, rows, cols, share, power, "lp")


def smallest_feasible_cap_kw(problem: Problem) -> float:
    """The smallest constant site cap (kW) under which every vehicle can get its energy (an LP:
    minimise C subject to every need met, sum_v p[v,t] <= C in every slot and the problem's own
    caps). Used to test "a limit that can meet every need meets every need". Raises PlanError when
    some need cannot be met at any cap (a vehicle's own power or stay is too short)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, hstack, vstack

    rows, cols, share, a_eq, b_eq, a_ub, b_ub, bounds = _lp_matrices(problem)
    nv, npairs, n = len(problem.vehicles), len(rows), len(problem.starts)
    # variables: p (npairs), u (nv, fixed at 0), C
    a_eq = hstack([a_eq, coo_matrix((nv, 1))]).tocsr()
    cap_rows = hstack([coo_matrix((np.ones(npairs), (cols, np.arange(npairs))), shape=(n, npairs)),
                       coo_matrix((n, nv)), coo_matrix(-np.ones((n, 1)))])
    a = cap_rows if a_ub is None else vstack([hstack([a_ub, coo_matrix((a_ub.shape[0], 1))]), cap_rows])
    b = np.zeros(n) if b_ub is None else np.concatenate([b_ub, np.zeros(n)])
    bounds = np.vstack([bounds, [[0.0, np.inf]]])
    bounds[npairs:npairs + nv, 1] = 0.0
    c = np.zeros(npairs + nv + 1)
    c[-1] = 1.0
    result = linprog(c, A_ub=a.tocsr(), b_ub=b, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if result.status != 0:
        raise PlanError(f"no cap meets every need: {result.message}")
    return float(result.x[-1])


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


def smooth(result: Plan, *, min_on_slots: int = 1, max_windows: int | None = None) -> Plan:
    """Fewer, longer charging windows per vehicle, for hardware (contactors, EVs that dislike many
    restarts). Heuristic, per vehicle: while a vehicle has more windows than allowed, or a window
    shorter than ``min_on_slots``, the energy of its dearest-to-keep short window moves into the
    cheapest free room of its other windows (their neighbouring slots first), within its max power
    and every cap. Energy is never lost: a move that does not fit is not made."""
    problem = result.problem
    power = result.power.copy()
    caps = problem.caps()
    load = np.zeros(len(problem.starts))
    np.add.at(load, result.cols, power)
    dt = problem.dt
    for i, v in enumerate(problem.vehicles):
        ks = np.flatnonzero(result.rows == i)  # in slot order (presence is built in slot order)
        for _ in range(len(ks)):
            windows = _windows(power[ks] > 1e-6)
            too_many = max_windows is not None and len(windows) > max_windows
            short = [w for w in windows if w[1] - w[0] < min_on_slots]
            if not too_many and not (short and len(windows) > 1):
                break
            candidates = short if short and len(windows) > 1 else windows
            # the window whose energy is cheapest to move: smallest energy first
            energy = [float(np.sum(power[ks[a:b]] * result.share[ks[a:b]])) * dt for a, b in candidates]
            a, b = candidates[int(np.argmin(energy))]
            moved = _move(ks, a, b, power, result.share, result.cols, problem, caps, load, v.max_kw, dt,
                          pair_cost(problem, result.rows[ks], result.cols[ks]))
            if not moved:
                break
    return Plan(problem, result.rows, result.cols, result.share, power, result.method + "+smooth")


def _windows(on: np.ndarray) -> list[tuple[int, int]]:
    out, start = [], None
    for j, flag in enumerate(on):
        if flag and start is None:
            start = j
        elif not flag and start is not None:
            out.append((start, j))
            start = None
    if start is not None:
        out.append((start, len(on)))
    return out


def _move(ks, a, b, power, share, cols, problem, caps, load, max_kw, dt, costs) -> bool:
    """Move window [a, b) of this vehicle's pairs into room next to or inside its other windows."""
    energy = float(np.sum(power[ks[a:b]] * share[ks[a:b]])) * dt
    on = power[ks] > 1e-6
    on[a:b] = False
    if not on.any():
        return False
    # room: pairs already on (headroom to max power) and pairs adjacent to an on pair
    room_pairs = []
    for j in range(len(ks)):
        if a <= j < b:
            continue
        adjacent = on[j] or (j > 0 and on[j - 1]) or (j + 1 < len(ks) and on[j + 1])
        if adjacent:
            room_pairs.append(j)
    room_pairs.sort(key=lambda j: costs[j])  # this vehicle's cost of slot j (its own carbon price)
    plan_add = {}
    left = energy
    for j in room_pairs:
        k = ks[j]
        t = cols[k]
        headroom_kw = min(max_kw - power[k], caps[t] - load[t])
        if headroom_kw <= 1e-9:
            continue
        e = min(left, headroom_kw * share[k] * dt)
        plan_add[k] = e / (share[k] * dt)
        left -= e
        if left <= 1e-9:
            break
    if left > 1e-6:
        return False
    for j in range(a, b):
        k = ks[j]
        load[cols[k]] -= power[k]
        power[k] = 0.0
    for k, kw in plan_add.items():
        power[k] += kw
        load[cols[k]] += kw
    return True
