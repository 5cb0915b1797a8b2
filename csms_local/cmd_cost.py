"""``csms cost``: dollars per charger-month from the measured requests per message."""

from __future__ import annotations

import json
from pathlib import Path

from csms_local.cli import UsageError, number

ROOT = Path(__file__).resolve().parent.parent
# Median handler CPU per message (µs), from `python -m bench.bench_handler` on the reference machine
# (docs/benchmarks.md); Lambda bills per started millisecond, so these hardly move the total.
HANDLER_CPU_US = {"MeterValues": 210, "Heartbeat": 60, "StatusNotification": 90, "StartTransaction": 120,
                  "StopTransaction": 150}


def register(subparsers) -> None:
    parser = subparsers.add_parser("cost", help="$ per charger-month from the measured requests per message")
    parser.add_argument("--sample-interval", type=int, default=60, help="MeterValueSampleInterval, s")
    parser.add_argument("--metering-hours", type=number, default=24.0, help="hours a day with MeterValues")
    parser.add_argument("--heartbeat", type=int, default=300, help="HeartbeatInterval, s")
    parser.add_argument("--sessions-per-day", type=number, default=1.0)
    parser.add_argument("--replan-minutes", type=number, default=15.0)
    parser.add_argument("--profiles-per-session", type=number, default=4.0)
    parser.add_argument("--plugged-hours", type=number, default=10.0)
    parser.add_argument("--memory-mb", type=int, default=256, help="the $default function's memory (infra/constants.py)")
    parser.add_argument("--firmware-updates", type=number, default=4.0, help="firmware updates a year")
    parser.add_argument("--ddb-latency-ms", type=number, default=4.0)
    parser.add_argument("--security-profile", type=int, default=2, help="2: Basic auth; 3: client certificates")
    parser.add_argument("--security-events", type=number, default=4.0, help="SecurityEventNotifications a month")
    parser.add_argument("--counts", default=str(ROOT / "docs" / "requests.json"),
                        help="requests per message (python -m bench.bench_requests)")
    parser.add_argument("--frame-log-hours", type=number, default=0.0,
                        help="hours a month the charger's frame log is switched on (opt-in; csms charger log)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args) -> int:
    from csms.tooling import cost

    if args.replan_minutes <= 0:
        raise UsageError("--replan-minutes must be > 0")
    try:
        profile = cost.Profile(sample_interval_s=args.sample_interval, metering_hours_per_day=args.metering_hours,
                               heartbeat_interval_s=args.heartbeat, sessions_per_day=args.sessions_per_day,
                               profiles_per_session=args.profiles_per_session,
                               replans_per_day=24 * 60 / args.replan_minutes, plugged_hours_per_day=args.plugged_hours,
                               lambda_memory_mb=args.memory_mb, ddb_latency_ms=args.ddb_latency_ms,
                               firmware_updates_per_year=args.firmware_updates,
                               security_profile=args.security_profile,
                               security_events_per_month=args.security_events,
                               frame_log_hours_per_month=args.frame_log_hours)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    try:
        counts = json.loads(Path(args.counts).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{args.counts}: cannot read the measured counts ({exc})") from exc
    bill = cost.charger_month(profile, counts, HANDLER_CPU_US)
    floor = cost.floor(profile)
    if args.json:
        print(json.dumps({**bill.as_dict(), "apigw_floor_usd": round(floor, 4), "ratio_to_floor": round(bill.total / floor, 3)}))
        return 0
    print(f"One charger, one month (sample every {profile.sample_interval_s} s for {profile.metering_hours_per_day:g} h/day, "
          f"{profile.sessions_per_day:g} sessions/day), us-east-1 list prices:\n")
    print("| item | $ / month | what |\n|---|---|---|")
    for line in bill.lines:
        print(f"| {line.item} | {line.per_month:.4f} | {line.detail} |")
    print(f"| **total** | **{bill.total:.4f}** | |")
    hour = cost.frame_log_hour(profile)
    print(f"\nFrame log (opt-in per charger, `csms charger log --on HOURS`): ${hour:.6f} per charger-hour "
          f"({cost.frames_per_hour(profile):,.0f} frames, a write each), ${24 * hour:.4f} for a 24 h window; "
          "locally always on, free.")
    event = cost.event_vehicle_run(profile)
    print(f"Grid-demand event in the periodic run (two stages, the run's ledger): ${event:.8f} per covered "
          f"vehicle per 15-minute run, ${4 * event:.7f} per covered vehicle-hour of the event.")
    print(f"Unknown chargers (an unregistered id's handshake, recorded for the operator, capped at "
          f"1,000 new ids a day): at most ${cost.unknown_charger_attempt():.7f} an attempt.")
    print(f"\nAPI Gateway floor (messages + connection minutes alone): ${floor:.4f}; "
          f"this platform: {bill.total / floor:.2f}x the floor.")
    return 0
