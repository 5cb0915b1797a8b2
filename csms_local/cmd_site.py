"""``csms site add|list|show|assign|remove``: sites with their own connection limits and the chargers
on them (issue 16), through the API's routes (``--api``, or in-process): one set of checks (the
domain's, ``csms.charging.groups``) and the re-plan of what changed."""

from __future__ import annotations

from urllib.parse import quote

from csms_local.cli import number
from csms_local.cmd_api import api_command, command_group, request


def register(subparsers) -> None:
    commands = command_group(subparsers, "site", "sites: connection limits and the chargers on them")
    add = api_command(commands, "add", add_site, "create a site (--replace: replace an existing one)", "site_id",
                      json_flag=False)
    add.add_argument("--replace", action="store_true", help="replace the site if it exists (its chargers stay)")
    add.add_argument("--limit-kw", type=number, help="connection limit on the sum of its chargers (kW)")
    add.add_argument("--phase-limit-a", type=number, help="per-phase limit (A)")
    add.add_argument("--phases", type=int, default=3, help="1 or 3 (default 3)")
    add.add_argument("--voltage-v", type=number, default=230.0, help="phase-to-neutral voltage (default 230 V)")
    add.add_argument("--region", default="", help="region / DNO area an event may target")
    add.add_argument("--name", default="")
    api_command(commands, "list", list_sites, "every site with its limit", json_flag=False)
    api_command(commands, "show", show_site, "one site and its chargers", "site_id", json_flag=False)
    assign = api_command(commands, "assign", assign_chargers, "put chargers on a site (off any other)", "site_id",
                         json_flag=False)
    assign.add_argument("chargers", nargs="+")
    remove = api_command(commands, "remove", remove_site, "remove a site, or with --charger take chargers off it",
                         "site_id", json_flag=False)
    remove.add_argument("--charger", action="append", default=[], help="only take this charger off (repeatable)")


# The API's site fields are the options' names (limit_kw: --limit-kw); the id is the positional.
SITE_FLAGS = {"id": "site_id"}


def _path(site_id: str) -> str:
    return f"/v1/sites/{quote(site_id, safe='')}"


def _line(site: dict) -> str:
    limit = f"{site['connection_kw']:g} kW" if site.get("connection_kw") is not None else "no limit"
    extra = f"  region {site['region']}" if site.get("region") else ""
    return f"{site['id']}  {limit}{extra}{'  ' + site['name'] if site.get('name') else ''}"


def add_site(args) -> int:
    body = {"name": args.name, "region": args.region, "phases": args.phases, "voltage_v": args.voltage_v,
            "limit_kw": args.limit_kw, "phase_limit_a": args.phase_limit_a}
    if args.replace:
        print(_line(request(args, "PUT", _path(args.site_id), body, flags=SITE_FLAGS)))
    else:
        print(_line(request(args, "POST", "/v1/sites", {"id": args.site_id, **body}, flags=SITE_FLAGS)))
    return 0


def list_sites(args) -> int:
    for site in request(args, "GET", "/v1/sites"):
        print(_line(site))
    return 0


def show_site(args) -> int:
    site = request(args, "GET", _path(args.site_id))
    print(_line(site))
    for charger in site["chargers"]:
        print(f"  {charger}")
    return 0


def assign_chargers(args) -> int:
    for charger in args.chargers:
        moved = request(args, "PUT", f"{_path(args.site_id)}/chargers/{quote(charger, safe='')}")
        was = f" (was on {moved['previous_site']})" if moved.get("previous_site") else ""
        print(f"{charger} -> {args.site_id}{was}")
    return 0


def remove_site(args) -> int:
    if args.charger:
        for charger in args.charger:
            request(args, "DELETE", f"{_path(args.site_id)}/chargers/{quote(charger, safe='')}")
            print(f"{charger} is on no site")
        return 0
    request(args, "DELETE", _path(args.site_id))
    print(f"removed {args.site_id}")
    return 0
