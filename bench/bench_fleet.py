"""The periodic run at fleet scale, per shard: sites of 1-50 chargers with their own limits and one
region-wide grid-demand event, planned as the fan-out would (each shard on its own).

    .venv/bin/python -m bench.bench_fleet [--fleets 100000,1000000] [--shard-vehicles 5000]
                                         [--samples 2] [--exact]

Vehicles are real ACN-Data sessions (time of day, stay, kWh) re-timed onto two days of real GB
prices and carbon (as ``bench_planner``). Sites have 1-50 chargers (uniform); sites of 3 or more
chargers have a connection limit of 35 % of their chargers' power (it binds at the evening peak).
The event caps the whole region at 70 % of its unmanaged peak from 16:00 to 20:00 on the first day.

Two stages per run, each a map over shards:
1. every shard plans its sites on their own (exact: fill, or the site's two-stage LP) and reports
   its load per slot; the event's cap is split between shards in proportion to that load;
2. every shard plans its sites against its share: by default as one LP of the shard (its sites'
   limits and its share of the event; ``sites.exact``), or (``--method prices``) by per-slot
   prices across its sites, each site re-solved (``sites.coordinate``).
Shares add up to the cap, so the region's cap holds whatever each shard does inside its share.

The machine is shared: shards are sampled (``--samples`` per fleet size, different seeds) and the
whole run is modelled from the slowest sample: shards / concurrency waves x per-shard time, plus the
sender draining the changed profiles (see ``--send-concurrency`` and ``--send-ms``).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from csms.charging import sites, tariff
from csms.charging.backtest import load_acn_sessions, retime

DATA = Path(__file__).resolve().parent.parent / "data"
SITE_LIMIT_SHARE = 0.35
EVENT_SHARE = 0.7


def window_and_costs(carbon_price: float = 100.0):
    signals = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    window = signals.window(signals.starts[-96], signals.starts[-1] + tariff.SLOT)
    cost = np.array([p + carbon_price * c / 1e4 for p, c in zip(window.price_p_per_kwh, window.carbon_g_per_kwh)])
    return list(window.starts), cost


def shard(n: int, seed: int, starts):
    """About ``n`` vehicles on whole sites (one session per charger in the window)."""
    rng = random.Random(seed)
    acn = load_acn_sessions(DATA / "ev_sessions_acn.csv")
    groups, total = [], 0
    while total < n:
        size = rng.randint(1, 50)
        vehicles = retime(rng.choices(acn, k=size), starts[0], starts[-1] + tariff.SLOT, rng)
        if not vehicles:
            continue
        limit = None if size < 3 else round(size * 7.4 * SITE_LIMIT_SHARE, 1)
        groups.append((sites.Site(f"s{seed}-{len(groups)}", limit), vehicles))
        total += len(vehicles)
    return groups, total


def event_mask(starts):
    return np.array([s.hour >= 16 and s.hour < 20 and s.date() == starts[0].date() for s in starts])


def run_shard(n: int, seed: int, starts, cost, exact: bool, method: str = "lp") -> dict:
    groups, vehicles = shard(n, seed, starts)
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    free = sites.plan_sites(starts, cost, groups)  # stage 1
    t1 = time.perf_counter()
    load = free.load()
    # The region's cap is EVENT_SHARE of its unmanaged (stage-1) peak in the window; a shard's share
    # is the cap split in proportion to the shards' stage-1 load. Sampled shards are alike, so the
    # share is modelled from this shard alone: EVENT_SHARE of its own peak in the window.
    mask = event_mask(starts)
    share = np.where(mask, EVENT_SHARE * float(load[mask].max(initial=0.0)), np.inf)
    if method == "prices":
        planned = sites.coordinate(starts, cost, groups, share)  # stage 2: per-slot prices across sites
        plans, iterations = planned.plans, planned.iterations
        total_load, unmet, plan_cost = planned.load(), planned.unmet_kwh(), planned.cost()
    else:
        lp = sites.exact(starts, cost, groups, share)  # stage 2: the shard's sites and share as one LP
        iterations = 0
        loads = lp.problem.group_loads(lp.rows, lp.cols, lp.power)
        plans = None
        total_load, unmet, plan_cost = lp.slot_power(), float(lp.unmet_kwh().sum()), lp.cost()
    t2, c2 = time.perf_counter(), time.process_time()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    limited = [s for s, _ in groups if s.limit_kw is not None]
    if plans is not None:
        site_loads = [(s, p.slot_power()) for (s, _), p in zip(groups, plans) if s.limit_kw is not None]
    else:
        site_loads = list(zip(limited, loads))  # exact(): one group per limited site, then the event's
    over_site = sum(1 for s, load in site_loads if load.max(initial=0.0) > s.limit_kw + 1e-6)
    over_event = float(np.max(np.where(mask, total_load - share, -np.inf)))
    out = {"sites": len(groups), "vehicles": vehicles, "stage1_s": t1 - t0, "stage2_s": t2 - t1, "cpu_s": c2 - c0,
           "peak_mib": peak / 2**20, "iterations": iterations, "unmet_kwh": unmet,
           "sites_over_limit": over_site, "event_over_kw": max(0.0, over_event),
           "binding_sites": sum(1 for p in free.plans if p.method == "lp"), "cost": plan_cost,
           "free_unmet_kwh": free.unmet_kwh()}
    if exact:
        t3 = time.perf_counter()
        optimum = sites.exact(starts, cost, groups, share)
        out["exact_s"] = time.perf_counter() - t3
        out["gap_pct"] = 100 * (plan_cost - optimum.cost()) / optimum.cost()
        out["exact_unmet_kwh"] = float(optimum.unmet_kwh().sum())
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", default="100000,1000000")
    parser.add_argument("--shard-vehicles", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=50, help="planner shards at once (reserved concurrency)")
    parser.add_argument("--send-concurrency", type=int, default=100, help="sender functions at once")
    parser.add_argument("--send-ms", type=float, default=60.0, help="one profile: reads, writes and the post")
    parser.add_argument("--method", choices=("lp", "prices"), default="lp",
                        help="stage 2 in a shard: its sites and event share as one LP, or per-slot prices across sites")
    parser.add_argument("--exact", action="store_true", help="also solve each sampled shard as one exact LP (the gap)")
    args = parser.parse_args(argv)
    starts, cost = window_and_costs()
    samples = [run_shard(args.shard_vehicles, seed, starts, cost, args.exact, args.method) for seed in range(1, args.samples + 1)]
    print("| sample shard | sites (binding) | vehicles | stage 1 s | stage 2 s | CPU s (both) | peak MiB | price iterations | "
          "unmet kWh (sites alone) | sites over limit | event over kW | gap to exact LP % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(samples, 1):
        gap = (f"{r['gap_pct']:.3f} (exact: {r['exact_s']:.0f} s, unmet {r['exact_unmet_kwh']:.3f} kWh)"
               if "gap_pct" in r else "not run")
        print(f"| {i} | {r['sites']} ({r['binding_sites']}) | {r['vehicles']:,} | {r['stage1_s']:.1f} | "
              f"{r['stage2_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_mib']:.0f} | {r['iterations']} | "
              f"{r['unmet_kwh']:.3f} ({r['free_unmet_kwh']:.3f}) | "
              f"{r['sites_over_limit']} | {r['event_over_kw']:.3f} | {gap} |", flush=True)
    slow1 = max(r["stage1_s"] for r in samples)
    slow2 = max(r["stage2_s"] for r in samples)
    per_vehicle_profiles = 1.0  # the first run sends every vehicle a profile; later runs only changed plans
    print()
    print("| fleet (vehicles) | shards | waves at concurrency | planning s (modelled) | profiles (first run) | "
          "sender s (modelled) | whole run s (modelled) |")
    print("|---|---|---|---|---|---|---|")
    for fleet in [int(x) for x in args.fleets.split(",")]:
        shards = math.ceil(fleet / args.shard_vehicles)
        waves = math.ceil(shards / args.concurrency)
        planning = waves * (slow1 + slow2)
        profiles = int(fleet * per_vehicle_profiles)
        sender = profiles * args.send_ms / 1000 / args.send_concurrency
        print(f"| {fleet:,} | {shards} | {waves} | {planning:.0f} | {profiles:,} | {sender:.0f} | {planning + sender:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
