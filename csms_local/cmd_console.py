"""The operator console on the command line (issue 22): ``csms charger log CP001 [--follow]`` (the
frame log), ``csms alerts``, ``csms sessions close``, ``csms unknown-chargers``. Every command is
one request to the HTTP API's routes (``csms_local.cmd_api.request``): in-process on the local
state, or ``--api URL --token T`` to a running platform, local or deployed."""

from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import quote

from csms_local.cli import UsageError, number
from csms_local.cmd_api import add_api_options, request
from csms_local.state import platform_running

FOLLOW_EVERY_S = 1.0


def register(subparsers) -> None:
    """Top-level commands of the console (``csms alerts``, ``csms unknown-chargers``)."""
    alerts = subparsers.add_parser("alerts", help="alerts: offline too long, faulted, transaction open too long, "
                                                  "profiles refused, repeated authentication failures")
    alerts.add_argument("--hours", type=number, default=24, help="of the last hours (default 24, at most 720)")
    alerts.add_argument("--kind", choices=("offline", "faulted", "long_transaction", "profiles_refused",
                                           "auth_failures"))
    alerts.add_argument("--charger", help="one charger's")
    add_api_options(alerts)
    alerts.set_defaults(func=show_alerts)
    unknown = subparsers.add_parser("unknown-chargers", help="ids that tried to connect without being registered "
                                                             "(register one: csms charger add ID)")
    unknown.add_argument("--hours", type=number, default=168, help="seen in the last hours (default and most: 168)")
    add_api_options(unknown)
    unknown.set_defaults(func=show_unknown)


def register_charger_commands(commands) -> None:
    """``csms charger log`` and ``csms charger close-session``: sub-commands of ``csms charger``."""
    log = commands.add_parser("log", help="the charger's OCPP frames in both directions (--follow: live tail)")
    log.add_argument("charge_point_id")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new frames until Ctrl-C")
    log.add_argument("--search", "-q", help="only frames whose text contains this")
    log.add_argument("--direction", choices=("in", "out"), help="in: from the charger; out: to it")
    log.add_argument("--limit", type=int, default=50, help="frames to show (1-100; default 50)")
    switch = log.add_mutually_exclusive_group()
    switch.add_argument("--on", type=number, metavar="HOURS",
                        help="switch the log on for HOURS (AWS: it costs a write per frame, see csms cost)")
    switch.add_argument("--off", action="store_true", help="switch the log off")
    add_api_options(log)
    log.set_defaults(func=show_log)
    close = commands.add_parser("close-session", help="close a stuck transaction as an operator (flagged "
                                                      "operator_closed, energy so far, connector released)")
    close.add_argument("charge_point_id")
    close.add_argument("transaction_id", type=int)
    add_api_options(close)
    close.set_defaults(func=close_session)


def _log_path(charge_point_id: str) -> str:
    return f"/v1/chargers/{quote(charge_point_id, safe='')}/log"


def _print_frame(frame: dict) -> None:
    arrow = "->" if frame["direction"] == "in" else "<-"
    print(f"{frame['at']}  {arrow} {frame['direction']:<3}  {frame['text']}", flush=True)


def show_log(args) -> int:
    path = _log_path(args.charge_point_id)
    if args.on is not None or args.off:
        hours = 0 if args.off else args.on
        state = request(args, "PUT", path, {"hours": hours}, flags={"hours": "--on"})
        print(f"{args.charge_point_id}: frame log " + (
            "always on here" if state["always"] else f"on until {state['until']} (from its next connection, "
            "within a minute)" if state["until"] else "off"))
        return 0
    if not 1 <= args.limit <= 100:
        raise UsageError("--limit must be 1-100")
    watched = _watched_platform(args) if args.follow else None
    query = {"limit": str(args.limit), "q": args.search, "direction": args.direction}
    page = request(args, "GET", path, query=query)
    if args.json and not args.follow:
        print(json.dumps(page))
        return 0
    frames = list(reversed(page["frames"]))  # oldest first, as a log reads
    for frame in frames:
        _print_frame(frame)
    logging = page["logging"]
    if not frames and not args.follow:
        print(f"{args.charge_point_id}: no frames" + ("" if logging["always"] or logging["until"] else
                                                      " (the log is off: --on HOURS switches it on)"))
    if not args.follow:
        return 0
    newest = frames[-1]["at"] if frames else None
    try:
        while True:
            time.sleep(FOLLOW_EVERY_S)
            if watched is not None and not platform_running(watched):
                return _stopped(f"csms local on {watched}")
            try:
                page = request(args, "GET", path, query={**query, "limit": "100", "after": newest})
            except UsageError as exc:  # the platform may have gone away between two polls
                gone = not platform_running(watched) if watched is not None else str(exc).startswith("cannot reach")
                if not gone:
                    raise
                return _stopped(f"csms local on {watched}") if watched else _stopped(args.api, str(exc))
            fresh = list(reversed(page["frames"]))
            for frame in fresh:
                _print_frame(frame)
            if fresh:
                newest = fresh[-1]["at"]
    except KeyboardInterrupt:
        return 0


def _watched_platform(args) -> str | None:
    """The state dir whose ``csms local`` a ``--follow`` watches (None: ``--api`` or a deployed stack,
    where a failed request says the platform is gone). A platform that is not running cannot log a new
    frame, so following its saved state is refused."""
    if getattr(args, "api", None) or os.environ.get("CSMS_TARGET") == "aws":
        return None
    if not platform_running(args.state_dir):
        raise UsageError(f"csms local is not running on {args.state_dir}: no new frame can arrive "
                         "(without --follow: the saved frames)")
    return args.state_dir


def _stopped(platform: str, why: str | None = None) -> int:
    """One line when the platform a ``--follow`` watches stops; exit code 1."""
    print(f"{platform} stopped: no more frames" + (f" ({why})" if why else ""), file=sys.stderr, flush=True)
    return 1


def show_alerts(args) -> int:
    rows = request(args, "GET", "/v1/alerts", query={"hours": str(args.hours), "kind": args.kind,
                                                     "charger": args.charger})
    if args.json:
        print(json.dumps(rows))
        return 0
    for alert in rows:
        detail = ", ".join(f"{k}={v}" for k, v in alert["detail"].items())
        print(f"{alert['at']}  {alert['kind']:<17} {alert['charger']:<20} {detail}")
    if not rows:
        print(f"no alerts in the last {args.hours:g} h")
    return 0


def close_session(args) -> int:
    closed = request(args, "POST", f"/v1/chargers/{quote(args.charge_point_id, safe='')}/sessions/"
                                   f"{args.transaction_id}/close")
    if args.json:
        print(json.dumps(closed))
        return 0
    print(f"{closed['charger']} transaction {closed['transaction_id']} closed at {closed['stopped_at']} with "
          f"{closed['energy_kwh']:.3f} kWh (flagged operator_closed); connector {closed['connector_id']} released")
    return 0


def show_unknown(args) -> int:
    rows = request(args, "GET", "/v1/unknown-chargers", query={"hours": str(args.hours)})
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"no unknown chargers in the last {args.hours:g} h")
        return 0
    print(f"{'charger':<24} {'tries':>6}  {'last seen (UTC)':<24} {'first seen':<24} source")
    for r in rows:
        print(f"{r['id']:<24} {r['count']:>6}  {r['last_seen']:<24} {r['first_seen']:<24} {r['source'] or '-'}")
    print("register one: csms charger add <id>")
    return 0
