"""``csms charger connectors CP001`` (state, power, transaction, plan per connector) and
``csms charger composite CP001 --connector 1 [--ask]`` (GetCompositeSchedule beside the last profile
sent), through the HTTP API's routes (in-process on the local state, or ``--api URL --token T``)."""

from __future__ import annotations

import json
from urllib.parse import quote

from csms_local.cli import UsageError, number
from csms_local.cmd_api import add_api_options, request


def _path(charge_point_id: str, *parts: str) -> str:
    return "/".join(["/v1/chargers", quote(charge_point_id, safe=""), *parts])


def register(subparsers) -> None:
    charger = subparsers.choices["charger"]._subparsers._group_actions[0]
    listing = charger.add_parser("connectors", help="each connector: state, power, transaction, plan, reservation")
    listing.add_argument("charge_point_id")
    add_api_options(listing)
    listing.set_defaults(func=show_connectors)
    composite = charger.add_parser("composite", help="the composite schedule a connector runs, beside the profile sent")
    composite.add_argument("charge_point_id")
    composite.add_argument("--connector", type=int, default=1)
    composite.add_argument("--ask", action="store_true", help="send GetCompositeSchedule now (the answer: run again)")
    composite.add_argument("--hours", type=number, default=24, help="how far ahead to ask (default 24)")
    add_api_options(composite)
    composite.set_defaults(func=show_composite)


def _kw(watts) -> str:
    return "-" if watts is None else f"{watts / 1000:.1f}"


def show_connectors(args) -> int:
    rows = request(args, "GET", _path(args.charge_point_id, "connectors"))
    if args.json:
        print(json.dumps(rows))
        return 0
    for c in rows:
        s, plan, r = c["session"], c["plan"] or [], c["reservation"]
        print(f"connector {c['id']}: {c['state']:<11} ({c['status'] or '-'}) {_kw(c['power_w'])} kW"
              + (f"  transaction {s['transaction_id']} since {s['started_at']} idTag {s['id_tag']}"
                 f" {(s['energy_wh'] or 0) / 1000:.2f} kWh" if s else "")
              + (f"  plan {len(plan)} periods, next {_kw(plan[0][2])} kW until {plan[0][1]}" if plan else "")
              + (f"  reserved for {r['id_tag']} until {r['expires_at']}" if r else ""))
    if not rows:
        print(f"{args.charge_point_id}: no connector has reported yet")
    return 0


def _periods(schedule) -> str:
    if not schedule:
        return "-"
    unit = schedule.get("chargingRateUnit", "")
    return ", ".join(f"+{p['startPeriod']}s {p['limit']} {unit}" for p in schedule.get("chargingSchedulePeriod", []))


def show_composite(args) -> int:
    path = _path(args.charge_point_id, "connectors", str(args.connector), "composite-schedule")
    if args.ask:
        if not 0 < args.hours <= 168:  # GetCompositeSchedule duration: the API takes at most 604,800 s
            raise UsageError("--hours must be in (0, 168]")
        sent = request(args, "POST", path, {"duration_s": int(args.hours * 3600)},
                       flags={"duration_s": "--hours", "connector_id": "--connector"})
        print(f"{args.charge_point_id}: GetCompositeSchedule connector {args.connector} {sent['status']} "
              f"(command {sent['command_id']})")
        return 0
    shown = request(args, "GET", path)
    if args.json:
        print(json.dumps(shown))
        return 0
    c, p = shown["composite"], shown["sent_profile"]
    print(f"composite (charger): " + (f"{c['status']} at {c['at']}, from {c['schedule_start']}: "
                                      f"{_periods(c['charging_schedule'])}" if c else "never asked")
          + (f"  [asked: {shown['pending']}]" if shown["pending"] else ""))
    print(f"sent profile:        " + (f"{p['purpose']} level {p['stack_level']} {p['status']} at {p['at']}: "
                                      f"{_periods(p['charging_schedule'])}" if p else "none sent"))
    return 0
