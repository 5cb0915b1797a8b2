"""Hardware options on a plan: fewer, longer charging windows per vehicle (a documented heuristic,
never breaking a cap or a need it could meet; its cost is reported by the backtest)."""

from __future__ import annotations

import numpy as np

from csms.charging.problem import Plan, pair_cost


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
