"""``csms backtest``: the planner on history against charging on plug-in; and ``csms retime-acn``,
which turns ACN-Data sessions into a sessions file on a price window."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

from csms.charging.defaults import DEFAULT_CARBON_PRICE_GBP_PER_T
from csms_local.cli import UsageError, number


def register(subparsers) -> None:
    parser = subparsers.add_parser("backtest", help="what smart charging would have saved on historical sessions")
    parser.add_argument("--sessions", required=True, help="CSV: session_id,plug_in_utc,departure_utc,energy_kwh,max_power_kw")
    parser.add_argument("--prices", required=True, help="CSV: start_utc,price_p_per_kwh_inc_vat")
    parser.add_argument("--carbon", required=True, help="CSV: start_utc,forecast_gco2_per_kwh,actual_gco2_per_kwh")
    parser.add_argument("--carbon-price", type=number, default=DEFAULT_CARBON_PRICE_GBP_PER_T, metavar="GBP_PER_TONNE")
    parser.add_argument("--site-limit-kw", type=number, default=None, metavar="KW",
                        help="a cap on all the sessions together (with --sites: on all the sites together)")
    parser.add_argument("--sites", default=None, metavar="SITES.csv",
                        help="CSV: site_id,limit_kw; the sessions file then needs a site_id column")
    parser.add_argument("--event-cap-kw", type=number, default=None, metavar="KW",
                        help="a grid-demand event: all sessions (all sites) at most KW ...")
    parser.add_argument("--event-start", default=None, metavar="ISO", help="... from this time (default: window start)")
    parser.add_argument("--event-end", default=None, metavar="ISO", help="... to this time (default: window end)")
    parser.add_argument("--slot-minutes", type=int, default=30)
    parser.add_argument("--min-on-minutes", type=int, default=0, help="hardware: shortest charging window")
    parser.add_argument("--max-windows", type=int, default=None, help="hardware: most charging windows per session")
    parser.add_argument("--out", required=True, metavar="PLAN.csv")
    parser.set_defaults(func=run)

    retime = subparsers.add_parser("retime-acn", help="ACN-Data sessions re-timed onto a price window (a sessions CSV)")
    retime.add_argument("acn", help="ACN-Data CSV (session_id,site,connection_utc,disconnect_utc,kwh_delivered,...)")
    retime.add_argument("--prices", required=True, help="the price CSV whose window the sessions move onto")
    retime.add_argument("--count", type=int, default=None, help="how many sessions (default: all)")
    retime.add_argument("--max-power-kw", type=number, default=7.4)
    retime.add_argument("--seed", type=int, default=1)
    retime.add_argument("--out", required=True, metavar="SESSIONS.csv")
    retime.set_defaults(func=run_retime)


def _check(args) -> None:
    if args.carbon_price < 0:
        raise UsageError("--carbon-price must be >= 0")
    if args.site_limit_kw is not None and args.site_limit_kw <= 0:
        raise UsageError("--site-limit-kw must be > 0")
    if args.event_cap_kw is not None and args.event_cap_kw <= 0:
        raise UsageError("--event-cap-kw must be > 0")
    if args.event_cap_kw is None and (args.event_start or args.event_end):
        raise UsageError("--event-start / --event-end need --event-cap-kw")
    if args.sites is not None and (args.min_on_minutes or args.max_windows is not None):
        raise UsageError("--min-on-minutes / --max-windows are not available with --sites")
    if args.min_on_minutes < 0:
        raise UsageError("--min-on-minutes must be >= 0")
    if args.max_windows is not None and args.max_windows < 1:
        raise UsageError("--max-windows must be >= 1")


def run(args) -> int:
    _check(args)
    from csms.charging import backtest
    from csms.charging import planner
    from csms.charging import tariff
    from csms.timeutil import BadTimestamp, parse_ts

    try:
        signals = tariff.load(args.prices, args.carbon)
        vehicles = backtest.load_sessions(args.sessions)
        sites = backtest.load_sites(args.sites) if args.sites else None
        site_of = backtest.load_session_sites(args.sessions) if sites else None
        events = []
        if args.event_cap_kw is not None:
            start = parse_ts(args.event_start) if args.event_start else signals.starts[0]
            end = parse_ts(args.event_end) if args.event_end else signals.starts[-1] + tariff.SLOT
            if end <= start:
                raise UsageError("--event-end must be after --event-start")
            events.append(planner.DemandEvent(start, end, args.event_cap_kw))
        result, plan = backtest.run(vehicles, signals, carbon_price=args.carbon_price, site_limit_kw=args.site_limit_kw,
                                    slot_minutes=args.slot_minutes, min_on_minutes=args.min_on_minutes,
                                    max_windows=args.max_windows, events=events, sites=sites, site_of=site_of)
        out = Path(args.out)
        result["plan_rows"] = backtest.write_plan(out, plan)
    except BadTimestamp as exc:
        raise UsageError(f"--event-start / --event-end: {exc}") from exc
    except (tariff.SignalFileError, backtest.InputError, planner.PlanError) as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(f"{args.out}: cannot write ({exc.strerror})") from exc
    result["plan_csv"] = str(out)
    print(json.dumps(result))
    return 0


def run_retime(args) -> int:
    from csms.charging import backtest
    from csms.charging import tariff

    if args.count is not None and args.count < 1:
        raise UsageError("--count must be >= 1")
    try:
        prices = tariff.load_prices(args.prices)
        sessions = backtest.load_acn_sessions(args.acn)
    except (tariff.SignalFileError, KeyError, ValueError, OSError) as exc:
        raise UsageError(f"{args.acn}: {exc}" if not isinstance(exc, tariff.SignalFileError) else str(exc)) from exc
    rng = random.Random(args.seed)
    if args.count is not None:
        sessions = rng.sample(sessions, min(args.count, len(sessions)))
    start: datetime = prices[0]
    end = prices[-1] + tariff.SLOT
    vehicles = backtest.retime(sessions, start, end, rng, max_kw=args.max_power_kw)
    backtest.write_sessions(args.out, vehicles)
    print(f"{len(vehicles)} sessions on {start:%Y-%m-%d}..{end:%Y-%m-%d} written to {args.out}")
    return 0
