"""The planner on history: what smart charging would have cost against charging on plug-in.

Sessions CSV: ``session_id,plug_in_utc,departure_utc,energy_kwh,max_power_kw`` (ISO 8601 UTC).
Plans use the forecast carbon intensity (what a planner knows in advance); results are scored with
the actual intensity where published, else the forecast. Missing carbon slots are interpolated
(``csms.charging.tariff``); prices must be gap-free. Sessions are clipped to the price window; a session
entirely outside it is skipped and counted.
"""

from __future__ import annotations
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from csms.charging import planner
from csms.charging import sites as site_planning
from csms.charging.backtest_files import (SESSION_COLUMNS, AcnSession, InputError, load_acn_sessions, load_session_sites,
                                          load_sessions, load_sites, retime, write_plan, write_sessions)
from csms.charging.backtest_files import iso_seconds as _iso
from csms.charging.defaults import DEFAULT_CARBON_PRICE_GBP_PER_T
from csms.charging import tariff

# The files' readers and writers live in backtest_files; the CLI, the benches and the tests read them from here.
__all__ = ["SESSION_COLUMNS", "AcnSession", "InputError", "Scored", "immediate", "load_acn_sessions", "load_session_sites",
           "load_sessions", "load_sites", "resample", "retime", "run", "score", "smallest_feasible_limit_kw",
           "write_plan", "write_sessions"]


def resample(signals: tariff.Signals, slot_minutes: int) -> tuple[list[datetime], np.ndarray, np.ndarray, np.ndarray]:
    """Slots of ``slot_minutes`` (a divisor or a multiple of 30): a half-hour's values repeated, or
    the mean of the half-hours in a longer slot. Returns starts, price, forecast, actual."""
    price = np.array(signals.price_p_per_kwh)
    forecast, actual = np.array(signals.carbon_g_per_kwh), np.array(signals.carbon_actual_g_per_kwh)
    if slot_minutes <= 0 or (30 % slot_minutes and slot_minutes % 30):
        raise InputError(f"--slot-minutes {slot_minutes}: use a divisor or a multiple of 30")
    if slot_minutes <= 30:
        k = 30 // slot_minutes
        starts = [s + timedelta(minutes=slot_minutes * j) for s in signals.starts for j in range(k)]
        return starts, np.repeat(price, k), np.repeat(forecast, k), np.repeat(actual, k)
    k = slot_minutes // 30
    n = len(price) // k * k
    if n == 0:
        raise InputError(f"--slot-minutes {slot_minutes}: longer than the price window")
    starts = list(signals.starts[:n:k])
    mean = lambda a: a[:n].reshape(-1, k).mean(axis=1)  # noqa: E731
    return starts, mean(price), mean(forecast), mean(actual)


@dataclass
class Scored:
    energy_kwh: float
    cost_gbp: float
    co2_kg: float
    met: int
    switches: int
    peak_kw: float

    def as_dict(self) -> dict:
        return {"energy_kwh": round(self.energy_kwh, 2), "cost_gbp": round(self.cost_gbp, 2),
                "co2_kg": round(self.co2_kg, 2), "sessions_meeting_need": self.met, "on_off_switches": self.switches,
                "peak_kw": round(self.peak_kw, 1)}


def score(plan: planner.Plan, price: np.ndarray, carbon_actual: np.ndarray, tolerance_kwh: float = 0.01) -> Scored:
    p = plan.problem
    energy = plan.power * plan.share * p.dt
    need = np.array([v.energy_kwh for v in p.vehicles])
    got = plan.energy_kwh()
    return Scored(float(energy.sum()), float(np.sum(energy * price[plan.cols]) / 100),
                  float(np.sum(energy * carbon_actual[plan.cols]) / 1000), int(np.sum(got >= need - tolerance_kwh)),
                  sum(plan.switches(i) for i in range(len(p.vehicles))), float(plan.slot_power().max(initial=0.0)))


def immediate(problem: planner.Problem) -> planner.Plan:
    """Charging on plug-in: full power until the energy is in (no cap: that is what dumb charging does)."""
    rows, cols, share = problem.presence()
    power = np.zeros(len(rows))
    left = np.array([v.energy_kwh for v in problem.vehicles], float)
    for k in range(len(rows)):  # pairs are in slot order per vehicle
        v = problem.vehicles[rows[k]]
        room = v.max_kw * share[k] * problem.dt
        e = min(left[rows[k]], room)
        if e > 0:
            power[k] = e / (share[k] * problem.dt)
            left[rows[k]] -= e
    return planner.Plan(problem, rows, cols, share, power, "immediate")


def _problem(vehicles: list[planner.Vehicle], signals: tariff.Signals, carbon_price: float, site_limit_kw: float | None,
             slot_minutes: int, events: list[planner.DemandEvent] | None):
    """The planning problem of a backtest: sessions clipped to the price window (energy capped by what
    fits), cost = price + carbon price x forecast. Returns (problem, sessions skipped, price, actual)."""
    starts, price, forecast, actual = resample(signals, slot_minutes)
    slot = timedelta(minutes=slot_minutes)
    window_start, window_end = starts[0], starts[-1] + slot
    kept, skipped = [], 0
    for v in vehicles:
        a, b = max(v.plug_in, window_start), min(v.departure, window_end)
        if b <= a:
            skipped += 1
            continue
        if (a, b) != (v.plug_in, v.departure):
            v = planner.Vehicle(v.id, a, b, min(v.energy_kwh, v.max_kw * (b - a).total_seconds() / 3600), v.max_kw)
        kept.append(v)
    if not kept:
        raise InputError("no session overlaps the price window "
                         f"{_iso(window_start)} .. {_iso(window_end)}")
    cost = price + carbon_price * forecast / 1e4
    problem = planner.Problem(starts, cost, kept, site_cap_kw=site_limit_kw, events=events or [], slot=slot)
    return problem, skipped, price, actual


def smallest_feasible_limit_kw(vehicles: list[planner.Vehicle], signals: tariff.Signals, *,
                               carbon_price: float = DEFAULT_CARBON_PRICE_GBP_PER_T, slot_minutes: int = 30) -> float:
    """The smallest site limit (kW) under which every session of this backtest can get its energy
    (``planner.smallest_feasible_cap_kw`` on the same problem ``run`` plans)."""
    problem, _, _, _ = _problem(vehicles, signals, carbon_price, None, slot_minutes, None)
    return planner.smallest_feasible_cap_kw(problem)


def run(vehicles: list[planner.Vehicle], signals: tariff.Signals, *, carbon_price: float = DEFAULT_CARBON_PRICE_GBP_PER_T,
        site_limit_kw: float | None = None, slot_minutes: int = 30, min_on_minutes: int = 0,
        max_windows: int | None = None, events: list[planner.DemandEvent] | None = None,
        sites: dict[str, site_planning.Site] | None = None, site_of: dict[str, str] | None = None,
        exact_up_to: int = 20_000) -> tuple[dict, planner.Plan]:
    """Plan the sessions and score them against charging on plug-in. With ``sites`` (and each
    session's site in ``site_of``), every site is planned on its own under its limit and ``events``
    cap all the sites together, coordinated by ``csms.charging.sites.coordinate``; the gap is then
    measured against the exact LP of all sites at once (up to ``exact_up_to`` sessions).
    Raises InputError for unusable inputs."""
    problem, skipped, price, actual = _problem(vehicles, signals, carbon_price, site_limit_kw, slot_minutes, events)
    groups = None
    if sites is not None:
        problem, groups = _by_site(problem, sites, site_of or {})
    kept = problem.vehicles
    window_start, window_end = problem.starts[0], problem.starts[-1] + problem.slot
    min_on_slots = max(1, math.ceil(min_on_minutes / slot_minutes)) if min_on_minutes else 1
    started = time.perf_counter()
    if groups is not None:
        plan = _plan_sites(problem, groups)
    else:
        plan = planner.plan(problem, min_on_slots=min_on_slots, max_windows=max_windows)
    solve_s = time.perf_counter() - started
    if groups is not None and len(kept) > exact_up_to:
        optimum = None
    else:
        optimum = plan if plan.method == "lp" else planner.solve_lp(problem)
    objective = lambda p: p.cost() + planner.UNMET_PENALTY * float(p.unmet_kwh().sum())  # noqa: E731
    gap = None if optimum is None else (objective(plan) - objective(optimum)) / max(abs(objective(optimum)), 1e-9)
    smart, dumb = score(plan, price, actual), score(immediate(problem), price, actual)
    result = {
        "sessions": len(kept), "skipped_outside_window": skipped,
        "window": [_iso(window_start), _iso(window_end)], "slot_minutes": slot_minutes,
        "carbon_price_gbp_per_tonne": carbon_price, "site_limit_kw": site_limit_kw,
        "filled_carbon_slots": signals.filled_carbon_slots,
        "plan": smart.as_dict(), "immediate": dumb.as_dict(),
        "savings": {"cost_gbp": round(dumb.cost_gbp - smart.cost_gbp, 2),
                    "cost_pct": round(100 * (dumb.cost_gbp - smart.cost_gbp) / dumb.cost_gbp, 1) if dumb.cost_gbp else 0.0,
                    "co2_kg": round(dumb.co2_kg - smart.co2_kg, 2),
                    "co2_pct": round(100 * (dumb.co2_kg - smart.co2_kg) / dumb.co2_kg, 1) if dumb.co2_kg else 0.0},
        "method": plan.method, "gap_to_lp_optimum_pct": None if gap is None else round(100 * gap, 4),
        "solve_seconds": round(solve_s, 3),
    }
    if groups is not None:
        loads = problem.group_loads(plan.rows, plan.cols, plan.power)
        over = [site.site_id for (site, _), load in zip(groups, loads)
                if site.limit_kw is not None and load.max(initial=0.0) > site.limit_kw + 1e-6]
        caps = problem.caps()
        result["sites"] = {"count": len(groups), "with_limit": sum(1 for s, _ in groups if s.limit_kw is not None),
                           "over_limit": over,
                           "event_cap_held": bool(np.all(plan.slot_power() <= caps + 1e-6)),
                           "unmet_kwh": round(float(plan.unmet_kwh().sum()), 3),
                           "lp_unmet_kwh": None if optimum is None else round(float(optimum.unmet_kwh().sum()), 3),
                           "lp_cost_gbp": None if optimum is None else round(optimum.cost(price) / 100, 2)}
    return result, plan


def _by_site(problem: planner.Problem, sites: dict[str, site_planning.Site], site_of: dict[str, str]):
    """The problem's vehicles grouped by site (site order), each site's limit as a group cap."""
    members: dict[str, list[planner.Vehicle]] = {}
    for v in problem.vehicles:
        site_id = site_of.get(v.id, "")
        if site_id not in sites:
            raise InputError(f"session {v.id}: site {site_id!r} is not in the sites file")
        members.setdefault(site_id, []).append(v)
    groups = [(sites[k], vs) for k, vs in members.items()]
    ordered: list[planner.Vehicle] = []
    group_caps = []
    for site, vs in groups:
        if site.limit_kw is not None:
            group_caps.append((np.arange(len(ordered), len(ordered) + len(vs)), np.full(len(problem.starts), site.limit_kw)))
        ordered.extend(vs)
    combined = planner.Problem(problem.starts, problem.cost, ordered, site_cap_kw=problem.site_cap_kw,
                               events=problem.events, slot=problem.slot, group_caps=group_caps)
    return combined, groups


def _plan_sites(problem: planner.Problem, groups) -> planner.Plan:
    """Every site exactly on its own; the events (a cap on all sites) coordinated by prices. One Plan."""
    caps = problem.caps()
    if np.all(np.isinf(caps)):
        result = site_planning.plan_sites(problem.starts, problem.cost, groups, slot=problem.slot)
        method = "sites"
    else:
        result = site_planning.coordinate(problem.starts, problem.cost, groups, caps, slot=problem.slot)
        method = "sites+event"
    rows, cols, share, power, offset = [], [], [], [], 0
    for part in result.plans:
        rows.append(part.rows + offset)
        cols.append(part.cols)
        share.append(part.share)
        power.append(part.power)
        offset += len(part.problem.vehicles)
    cat = np.concatenate
    return planner.Plan(problem, cat(rows), cat(cols), cat(share), cat(power), method)
