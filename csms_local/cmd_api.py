"""``csms sessions | token`` and the transport of every command that goes through the operator / app
API (``csms charger list|prefer``, ``csms event ...``).

Every such command is one request to the HTTP API's routes (``adapters.http_api``): with ``--api URL``
(and ``--token`` or ``CSMS_API_TOKEN``) over HTTPS to a running platform, local or deployed;
without it the same route code runs in this process on the local platform's state, as the
operator. So the CLI, the web page and the API cannot disagree.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

from csms_local.cli import UsageError, number


def add_api_options(parser, json_flag: bool = True) -> None:
    """``--api/--token/--ca`` (and ``--state-dir``): every command that goes through the API's routes."""
    parser.add_argument("--api", help="the HTTP API's base URL (csms local prints it; the stack's HttpApiUrl)")
    parser.add_argument("--token", help="bearer token (default: $CSMS_API_TOKEN)")
    parser.add_argument("--ca", help="CA certificate for --api (default: the local platform's, if present)")
    parser.add_argument("--state-dir", default=".local")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print the API's JSON answer")


# Every option that takes a time (--from, --to, --departure, --expiry, --start, --end) reads it the same way.
TIME_FORM = "a date or ISO 8601 time, e.g. 2026-12-01 or 2026-12-01T07:30:00Z; without a time zone: UTC"


def time_option(flag: str, text: str) -> datetime:
    """``text`` of the option ``flag`` as an aware UTC datetime (``csms.timeutil.parse_ts``: a date is
    its midnight, a naive time is UTC); a UsageError that shows the accepted form otherwise."""
    from csms.timeutil import BadTimestamp, parse_ts

    try:
        return parse_ts(text)
    except BadTimestamp:
        raise UsageError(f"{flag} {text!r} is not {TIME_FORM}") from None


def command_group(subparsers, name: str, help: str):
    """``csms <name> SUBCOMMAND``: the group's parser and its (required) sub-commands."""
    parser = subparsers.add_parser(name, help=help)
    commands = parser.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
    commands.required = True
    return commands


def api_command(commands, name: str, func, help: str, *positionals: str, json_flag: bool = True,
                positional_type=None, **defaults):
    """A sub-command that goes through the API's routes: its ``positionals`` (each read with
    ``positional_type`` when given), the API options (``add_api_options``), ``func`` and any other
    ``defaults`` set on the parsed args. Returns the parser, for the command's own options."""
    parser = commands.add_parser(name, help=help)
    for positional in positionals:
        parser.add_argument(positional, **({"type": positional_type} if positional_type else {}))
    add_api_options(parser, json_flag=json_flag)
    parser.set_defaults(func=func, **defaults)
    return parser


def register(subparsers) -> None:
    sessions = subparsers.add_parser("sessions", help="sessions with energy, cost, CO2 and savings, and totals")
    sessions.add_argument("--charger", help="only this charger's")
    sessions.add_argument("--from", dest="since", help=f"sessions still open at or after ({TIME_FORM})")
    sessions.add_argument("--to", dest="until", help=f"sessions started before ({TIME_FORM})")
    sessions.add_argument("--csv", action="store_true", help="every session as CSV (issue 22: csms.console.export)")
    add_api_options(sessions)
    sessions.set_defaults(func=list_sessions)

    token = subparsers.add_parser("token", help="make a local API token (the local stand-in for a Cognito user)")
    token.add_argument("subject", nargs="?", help="the account, e.g. a driver's name")
    token.add_argument("--operator", action="store_true", help="an operator (sees the whole fleet)")
    token.add_argument("--days", type=number, default=30, help="valid for this many days (default 30; 0: until revoked)")
    token.add_argument("--revoke", metavar="TOKEN", help="revoke a token instead (takes effect at once)")
    token.add_argument("--state-dir", default=".local")
    token.set_defaults(func=make_token)


# ------------------------------------------------------------------ transport
def request(args, method: str, path: str, body: dict | None = None, query: dict | None = None,
            flags: dict[str, str] | None = None):
    """One API call, remote (``--api``) or in-process: the API's checks are the only ones. A refusal
    is a UsageError that names what the user typed, never the API's field (``flag_names``)."""
    query = {k: v for k, v in (query or {}).items() if v is not None}
    try:
        if getattr(args, "api", None):
            return _remote(args, method, path, body, query)
        return _local(args, method, path, body, query)
    except UsageError as exc:
        raise UsageError(flag_names(str(exc), flags or {})) from None


_SCHEMA_PATH = re.compile(r"\b(?:body|query)\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\.\d+)*\b")


def flag_names(message: str, flags: dict[str, str]) -> str:
    """``message`` (an API refusal) with the command's own names for the API's fields: ``flags`` maps
    a body field, or a dotted path without list indexes (``target.ids``), to the command's option
    (``--sites``) or argument; a schema path no entry names (``body.limit_kw``, ``body.note``) becomes
    the option of the same name (``--limit-kw``), as the commands name their options after the API's
    fields. A bare field in a domain message (``cap_kw``, ``end must be after start``) is renamed when
    ``flags`` maps it to an option and it cannot be an ordinary word: snake_case, or the option's own
    name (``start``: ``--start``); "no chargers match" and "site id 'x y'" keep their words."""
    def schema(m: re.Match) -> str:
        path = m.group(1)
        return flags.get(path) or flags.get(path.split(".")[0]) or "--" + path.split(".")[0].replace("_", "-")

    message = _SCHEMA_PATH.sub(schema, message)
    bare = [f for f, flag in flags.items() if "." not in f and ("_" in f and flag.startswith("--") or flag == f"--{f}")]
    if bare:
        message = re.sub(r"\b(" + "|".join(map(re.escape, bare)) + r")\b", lambda m: flags[m.group(1)], message)
    return message


def _answer(status: int, text: str):
    try:
        data = json.loads(text) if text else None
    except ValueError:  # not this API (a proxy's or a web server's page)
        raise UsageError(f"{status}: the answer is not JSON: {text[:80]!r}") from None
    if status >= 400:
        message = (data or {}).get("message") if isinstance(data, dict) else None
        raise UsageError(f"{status}: {message or text or 'request failed'}")
    return data


def _remote(args, method, path, body, query):
    token = args.token or os.environ.get("CSMS_API_TOKEN")
    if not token:
        raise UsageError("--api needs --token or CSMS_API_TOKEN")
    url = args.api.rstrip("/") + path + ("?" + urllib.parse.urlencode(query) if query else "")
    if not url.startswith(("https://", "http://")):
        raise UsageError(f"--api {args.api!r} is not an http(s) URL")
    context = None
    ca = args.ca or (Path(args.state_dir) / "tls" / "ca.pem")
    if url.startswith("https://") and Path(ca).is_file():
        context = ssl.create_default_context(cafile=str(ca))
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", **({"Content-Type": "application/json"} if data else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers),
                                    timeout=30, context=context) as response:
            return _answer(response.status, response.read().decode())
    except urllib.error.HTTPError as exc:
        return _answer(exc.code, exc.read().decode(errors="replace"))
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"cannot reach {args.api}: {getattr(exc, 'reason', exc)}") from exc


def _local(args, method, path, body, query):
    from adapters import http_api
    from adapters.http_event import http_event
    from adapters.wiring import build_operations
    from csms_local.state import open_runtime

    with open_runtime(args.state_dir) as rt:
        event = http_event(method, path, query=query,
                           body=json.dumps(body) if body is not None else None,
                           claims={"sub": "cli", "cognito:groups": "[operators]"})
        response = http_api.handle(event, None, build_operations(rt))
    return _answer(int(response["statusCode"]), response.get("body") or "")


# ------------------------------------------------------------------ commands
def _money(value) -> str:
    return "-" if value is None else f"£{value:.2f}"


def list_sessions(args) -> int:
    path = f"/v1/chargers/{urllib.parse.quote(args.charger, safe='')}/sessions" if args.charger else "/v1/sessions"
    since = time_option("--from", args.since).isoformat() if args.since else None
    until = time_option("--to", args.until).isoformat() if args.until else None
    data = request(args, "GET", path, query={"from": since, "to": until})
    if args.csv:  # every page, one header
        from csms.console.export import sessions_csv

        rows = list(data["sessions"])
        while data.get("next_cursor"):
            data = request(args, "GET", path, query={"from": since, "to": until, "cursor": data["next_cursor"]})
            rows.extend(data["sessions"])
        print(sessions_csv(rows), end="")
        return 0
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    print(f"{'charger':<14} {'tx':>6} {'start (UTC)':<17} {'end':<17} {'kWh':>8} {'cost':>8} {'kg CO2':>7} {'saved':>7}")
    for s in data["sessions"]:
        end = "plugged in" if s["active"] else s["stopped_at"][:16].replace("T", " ")
        print(f"{s['charger']:<14} {s['transaction_id']:>6} {s['started_at'][:16].replace('T', ' '):<17} {end:<17} "
              f"{s['energy_kwh']:>8.2f} {_money(s['cost_gbp']):>8} {s['co2_kg'] or 0:>7.2f} {_money(s['savings_gbp']):>7}")
    t = data["totals"]
    print(f"{'total':<14} {t['sessions']:>6} {'':<17} {'':<17} {t['energy_kwh']:>8.2f} {_money(t['cost_gbp']):>8} "
          f"{t['co2_kg']:>7.2f} {_money(t['savings_gbp']):>7}")
    return 0


def make_token(args) -> int:
    from csms_local.http_api import add_token, revoke_token
    from csms_local.state import require_state

    require_state(args.state_dir)

    if args.revoke:
        if args.subject:
            raise UsageError("--revoke takes a token, not a subject")
        if not revoke_token(Path(args.state_dir), args.revoke):
            raise UsageError("no such token")
        print("revoked")
        return 0
    if args.subject is None:
        raise UsageError("a token is for an account: csms token NAME [--operator] (or --revoke TOKEN)")
    if not args.subject.strip() or len(args.subject) > 128:
        raise UsageError("the account's name must be 1-128 characters")
    if args.days < 0:
        raise UsageError("--days must be >= 0")
    print(add_token(Path(args.state_dir), args.subject, args.operator, args.days * 86400 if args.days else None))
    return 0
