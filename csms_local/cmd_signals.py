"""``csms signals upload`` and ``csms event add|list|cancel``: the scheduler's inputs (a CSV upload
replaces the replayed recorded days on the local platform; grid-demand events cap the fleet, through
the API's routes, locally or with ``--api``)."""

from __future__ import annotations

from csms_local.cli import UsageError, number
from csms_local.cmd_api import TIME_FORM, add_api_options, request, time_option
from csms_local.state import open_runtime


def register(subparsers) -> None:
    parser = subparsers.add_parser("signals", help="upload prices and carbon intensity (CSV) for the scheduler")
    commands = parser.add_subparsers(dest="signals_command", metavar="SUBCOMMAND")
    commands.required = True
    upload = commands.add_parser("upload", help="store a price CSV and a carbon CSV (the backtest formats)")
    upload.add_argument("--prices", required=True)
    upload.add_argument("--carbon", required=True)
    upload.add_argument("--state-dir", default=".local")
    upload.set_defaults(func=upload_signals)

    event = subparsers.add_parser("event", help="grid-demand events: cap the fleet's power in a window")
    events = event.add_subparsers(dest="event_command", metavar="SUBCOMMAND")
    events.required = True
    add = events.add_parser("add", help="cap (--cap-kw) or reduce (--reduction-kw) the power of the fleet, a region, "
                                        f"sites or chargers from --start to --end ({TIME_FORM})")
    add.add_argument("--start", required=True)
    add.add_argument("--end", required=True)
    add.add_argument("--cap-kw", type=number)
    add.add_argument("--reduction-kw", type=number, help="kW below the target's capacity (its sites' limits)")
    target = add.add_mutually_exclusive_group()
    target.add_argument("--region", help="every site of this region (DNO area)")
    target.add_argument("--sites", help="site ids, comma-separated")
    target.add_argument("--chargers", help="charge point ids, comma-separated")
    add_api_options(add, json_flag=False)
    add.set_defaults(func=add_event)
    listing = events.add_parser("list", help="events not cancelled that have not ended")
    add_api_options(listing, json_flag=False)
    listing.set_defaults(func=list_events)
    cancel = events.add_parser("cancel", help="cancel an event (its vehicles are re-planned without it)")
    cancel.add_argument("event_id")
    add_api_options(cancel, json_flag=False)
    cancel.set_defaults(func=cancel_event)


def upload_signals(args) -> int:
    from csms.charging import signals
    from csms.charging import tariff
    from csms.timeutil import utcnow

    try:
        loaded = tariff.load(args.prices, args.carbon)
    except tariff.SignalFileError as exc:
        raise UsageError(str(exc)) from exc
    with open_runtime(args.state_dir) as rt:
        count = rt.signals.put(signals.rows_from_signals(loaded), utcnow())
    print(f"stored {count} half-hour slots ({loaded.starts[0]:%Y-%m-%d %H:%M} .. "
          f"{loaded.starts[-1] + tariff.SLOT:%Y-%m-%d %H:%M} UTC; {loaded.filled_carbon_slots} carbon slots interpolated)")
    return 0


# Events go through the API's routes (``--api``, or in-process): one set of checks, and the re-plan.
def add_event(args) -> int:
    start, end = time_option("--start", args.start), time_option("--end", args.end)
    kind, ids = "fleet", []  # an empty --sites "" keeps its kind, for the API to refuse: never the whole fleet
    if args.region is not None:
        kind, ids = "region", [args.region]
    elif args.sites is not None:
        kind, ids = "sites", [i.strip() for i in args.sites.split(",") if i.strip()]
    elif args.chargers is not None:
        kind, ids = "chargers", [i.strip() for i in args.chargers.split(",") if i.strip()]
    body = {"start": start.isoformat(), "end": end.isoformat(), "target": {"kind": kind, "ids": ids}}
    if args.cap_kw is not None:
        body["cap_kw"] = args.cap_kw
    if args.reduction_kw is not None:
        body["reduction_kw"] = args.reduction_kw
    created = request(args, "POST", "/v1/events", body,  # the checks are the domain's (csms.charging.groups)
                      flags={"start": "--start", "end": "--end", "cap_kw": "--cap-kw", "reduction_kw": "--reduction-kw",
                             "target": f"--{kind}" if kind != "fleet" else "the target"})
    print(created["id"])
    return 0


def list_events(args) -> int:
    for event in request(args, "GET", "/v1/events"):
        if not event["cancelled"]:
            limit = f"{event['cap_kw']:g} kW" if event.get("cap_kw") is not None else f"-{event['reduction_kw']:g} kW"
            target = event.get("target") or {"kind": "fleet", "ids": []}
            print(f"{event['id']}  {event['start']}  {event['end']}  {limit}  {target['kind']} {','.join(target['ids'])}".rstrip())
    return 0


def cancel_event(args) -> int:
    from urllib.parse import quote

    request(args, "DELETE", f"/v1/events/{quote(args.event_id, safe='')}")
    print("cancelled")
    return 0
