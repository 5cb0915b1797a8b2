"""``csms demo``: run the platform with a simulated fleet over one accelerated day and report."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from pathlib import Path

from csms_local.cli import UsageError, number

FIRST_DAY, LAST_DAY = date(2024, 6, 2), date(2024, 6, 29)  # the price window in data/


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="simulated fleet on real prices, carbon and plug-in sessions")
    parser.add_argument("--chargers", type=int, default=20)
    parser.add_argument("--day", default="2024-06-12", help=f"a day in {FIRST_DAY}..{LAST_DAY}")
    parser.add_argument("--speed", type=number, default=1000.0, help="simulated seconds per real second")
    parser.add_argument("--out-dir", default=".local/demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dumb", action="store_true", help="no smart charging: charge on plug-in (the baseline)")
    parser.set_defaults(func=run)


def run(args) -> int:
    try:
        day = date.fromisoformat(args.day)
    except ValueError as exc:
        raise UsageError(f"--day {args.day!r} is not a date (YYYY-MM-DD)") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise UsageError(f"--day must be between {FIRST_DAY} and {LAST_DAY} (the price data)")
    if not 1 <= args.chargers <= 200:
        raise UsageError("--chargers must be between 1 and 200")
    if not 10 <= args.speed <= 5000:
        raise UsageError("--speed must be between 10 and 5000")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from csms_local.demo import format_report, run_demo

    print(f"Starting the local platform and {args.chargers} simulated chargers for {day} "
          f"(one simulated day at x{args.speed:.0f}) ...", flush=True)
    report = asyncio.run(run_demo(args.chargers, day, args.speed, Path(args.out_dir), args.seed, smart=not args.dumb))
    print(format_report(report))
    print(f"Report: {Path(args.out_dir) / 'report.md'}")
    return 0
