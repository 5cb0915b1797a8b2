"""The operator console on the command line (issue 22): ``csms charger log CP001 [--follow]`` (the
frame log), ``csms alerts``, ``csms sessions close``, ``csms unknown-chargers``. Every command is
one request to the HTTP API's routes (``csms_local.cmd_api.request``): in-process on the local
state, or ``--api URL --token T`` to a running platform, local or deployed."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

from csms_local.cli import UsageError
from csms_local.cmd_api import add_api_options, request

FOLLOW_EVERY_S = 1.0


def register(subparsers) -> None:
    """Top-level commands of the console (``csms alerts``, ``csms unknown-chargers``)."""


def register_charger_log(commands) -> None:
    """``csms charger log``: a sub-command of ``csms charger``."""
    log = commands.add_parser("log", help="the charger's OCPP frames in both directions (--follow: live tail)")
    log.add_argument("charge_point_id")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new frames until Ctrl-C")
    log.add_argument("--search", "-q", help="only frames whose text contains this")
    log.add_argument("--direction", choices=("in", "out"), help="in: from the charger; out: to it")
    log.add_argument("--limit", type=int, default=50, help="frames to show (1-100; default 50)")
    switch = log.add_mutually_exclusive_group()
    switch.add_argument("--on", type=float, metavar="HOURS",
                        help="switch the log on for HOURS (AWS: it costs a write per frame, see csms cost)")
    switch.add_argument("--off", action="store_true", help="switch the log off")
    add_api_options(log)
    log.set_defaults(func=show_log)


def _log_path(charge_point_id: str) -> str:
    return f"/v1/chargers/{quote(charge_point_id, safe='')}/log"


def _print_frame(frame: dict) -> None:
    arrow = "->" if frame["direction"] == "in" else "<-"
    print(f"{frame['at']}  {arrow} {frame['direction']:<3}  {frame['text']}", flush=True)


def show_log(args) -> int:
    path = _log_path(args.charge_point_id)
    if args.on is not None or args.off:
        hours = 0 if args.off else args.on
        state = request(args, "PUT", path, {"hours": hours})
        print(f"{args.charge_point_id}: frame log " + (
            "always on here" if state["always"] else f"on until {state['until']} (from its next connection, "
            "within a minute)" if state["until"] else "off"))
        return 0
    if not 1 <= args.limit <= 100:
        raise UsageError("--limit must be 1-100")
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
            fresh = list(reversed(request(args, "GET", path, query={**query, "limit": "100", "after": newest})["frames"]))
            for frame in fresh:
                _print_frame(frame)
            if fresh:
                newest = fresh[-1]["at"]
    except KeyboardInterrupt:
        return 0
