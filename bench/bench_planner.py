"""Planner scale: N vehicles x 96 half-hour slots (two days of real GB prices and carbon), with
and without a site cap; solve time, peak memory, and the gap to the fleet LP's optimum.

    .venv/bin/python -m bench.bench_planner [--sizes 1000,10000] [--cap-share 0.3]
    .venv/bin/python -m bench.bench_planner --fleets 100000,1000000 [--samples 2]   (sharded: bench_fleet)

Vehicles are real ACN-Data plug-in sessions (time of day, stay, kWh) re-timed onto the window.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import numpy as np

from csms.charging import planner
from csms.charging import tariff
from csms.charging.backtest import load_acn_sessions, retime

DATA = Path(__file__).resolve().parent.parent / "data"


def build(n: int, seed: int, carbon_price: float):
    signals = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    window = signals.window(signals.starts[-96], signals.starts[-1] + tariff.SLOT)
    costs = [p + carbon_price * c / 1e4 for p, c in zip(window.price_p_per_kwh, window.carbon_g_per_kwh)]
    sessions = load_acn_sessions(DATA / "ev_sessions_acn.csv")
    rng = random.Random(seed)
    vehicles = retime(rng.choices(sessions, k=n), window.starts[0], window.starts[-1] + tariff.SLOT, rng)
    return window, costs, vehicles


def run(n: int, cap_share: float | None, seed: int = 1, carbon_price: float = 100.0) -> dict:
    window, costs, vehicles = build(n, seed, carbon_price)
    uncapped = planner.fill(planner.Problem(list(window.starts), costs, vehicles))
    cap = None if cap_share is None else cap_share * float(uncapped.slot_power().max())
    problem = planner.Problem(list(window.starts), costs, vehicles, site_cap_kw=cap)
    tracemalloc.start()
    started = time.perf_counter()
    plan = planner.plan(problem)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    objective = plan.cost() + planner.UNMET_PENALTY * plan.unmet_kwh().sum()
    lp = planner.solve_lp(problem) if plan.method == "fill" else plan  # the LP optimum, for the gap
    lp_objective = lp.cost() + planner.UNMET_PENALTY * lp.unmet_kwh().sum()
    gap = (objective - lp_objective) / abs(lp_objective) if lp_objective else 0.0
    return {"vehicles": n, "pairs": len(plan.rows), "cap_kw": None if cap is None else round(cap, 1),
            "method": plan.method, "seconds": round(elapsed, 2), "peak_mib": round(peak / 2**20, 1),
            "gap_pct": round(100 * gap, 4), "max_load_kw": round(float(plan.slot_power().max()), 1),
            "unmet_kwh": round(float(plan.unmet_kwh().sum()), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--cap-share", type=float, default=0.3, help="site cap as a share of the uncapped peak")
    parser.add_argument("--fleets", default=None, help="fleet sizes for the sharded periodic run (bench_fleet)")
    parser.add_argument("--samples", type=int, default=2, help="with --fleets: sampled shards")
    args = parser.parse_args(argv)
    if args.fleets:
        from bench import bench_fleet

        return bench_fleet.main(["--fleets", args.fleets, "--samples", str(args.samples)])
    print("| vehicles | (vehicle, slot) pairs | site cap kW | method | solve s | peak MiB | gap to LP % | max load kW | unmet kWh |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.sizes.split(",")]:
        for share in (None, args.cap_share):
            r = run(n, share)
            print(f"| {r['vehicles']} | {r['pairs']} | {r['cap_kw'] or 'none'} | {r['method']} | {r['seconds']} | "
                  f"{r['peak_mib']} | {r['gap_pct']} | {r['max_load_kw']} | {r['unmet_kwh']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
