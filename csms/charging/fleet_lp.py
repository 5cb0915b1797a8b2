"""The whole fleet as a linear programme (HiGHS via scipy.optimize.linprog): the exact plan when the
vehicles' independent fills break a cap, and the smallest cap that meets every need. The problem's
formulation is in ``csms.charging.planner``'s docstring."""

from __future__ import annotations

import numpy as np

from csms.charging.problem import Plan, PlanError, Problem, effective_cost


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
    c = np.concatenate([effective_cost(problem, rows, cols) * share * dt, np.zeros(nv)])
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

