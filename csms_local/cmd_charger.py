"""``csms charger add|list|command``: manage chargers of the local platform.

With ``csms local`` running, these talk to its DynamoDB (``<state dir>/endpoint.json``);
otherwise they load the saved state, apply the change and save it again. With the table
variables of a deployed stack in the environment (its ``CliEnvironment`` output), they act on
that stack's tables in AWS (``CSMS_TARGET=aws`` is part of that output, so a shell that merely
has table variables, like the local platform's own environment, never reaches AWS by accident).
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from csms_local.cli import UsageError
from csms_local.cmd_api import add_api_options, request


def register(subparsers) -> None:
    parser = subparsers.add_parser("charger", help="register, list and command chargers")
    commands = parser.add_subparsers(dest="charger_command", metavar="SUBCOMMAND")
    commands.required = True
    add = commands.add_parser("add", help="register a charger and print its AuthorizationKey once")
    add.add_argument("charge_point_id")
    add.add_argument("--password", help="AuthorizationKey (16-40 characters); generated when omitted")
    add.add_argument("--state-dir", default=".local")
    add.set_defaults(func=add_charger)
    listing = commands.add_parser("list", help="chargers with online state, connectors and power")
    add_api_options(listing)
    listing.set_defaults(func=list_chargers)
    prefer = commands.add_parser("prefer", help="the driver's preference: departure time and energy; re-plans")
    prefer.add_argument("charge_point_id")
    prefer.add_argument("--departure", help="ISO 8601 time the vehicle leaves (default: 8 h after plug-in)")
    prefer.add_argument("--energy-kwh", type=float, help="energy the driver needs (default: 30 kWh)")
    prefer.add_argument("--charge-now", action="store_true", help="charge at full power now, ignore prices")
    prefer.add_argument("--carbon-price", type=float, help="GBP per tonne of CO2 (default: the platform's)")
    prefer.add_argument("--show", action="store_true", help="print the stored preference, change nothing")
    add_api_options(prefer, json_flag=False)
    prefer.set_defaults(func=set_preference)
    command = commands.add_parser("command", help="send an OCPP call to a charger (queued while it is offline)")
    command.add_argument("charge_point_id")
    command.add_argument("action", help="e.g. Reset, TriggerMessage, ChangeConfiguration, SetChargingProfile")
    command.add_argument("payload", nargs="?", default="{}", help="JSON payload (default {})")
    command.add_argument("--state-dir", default=".local")
    command.set_defaults(func=send_command)


@contextlib.contextmanager
def _runtime(state_dir: str, need_running: bool = False):
    """The platform's runtime: the running ``csms local``'s, or the saved state's."""
    from adapters.settings import Settings
    from adapters.wiring import build_runtime
    from csms_local import dynamodb
    from csms_local.platform import REGION, TABLE_PREFIX

    if os.environ.get("CSMS_TARGET") == "aws":
        # A deployed stack: the tables named by its CliEnvironment output, AWS credentials from the
        # usual places (docs/deploy.md).
        from adapters.settings import SettingsError

        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            raise UsageError(f"{exc} (export the stack's CliEnvironment output)") from exc
        yield build_runtime(settings)
        return
    state = Path(state_dir)
    endpoint_file = state / "endpoint.json"
    for key, value in dynamodb.FAKE_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    if endpoint_file.exists():
        running = json.loads(endpoint_file.read_text())
        settings = Settings.with_prefix(TABLE_PREFIX, region=REGION, dynamodb_endpoint=running["dynamodb"],
                                        management_api_endpoint=running["management_api"],
                                        local_files_dir=str(state / "files") if running.get("api") else None,
                                        local_files_url=running.get("api"))
        try:
            runtime = build_runtime(settings)
            runtime.replanner.request = lambda _cp: _ask_local_replan(running["management_api"])
            yield runtime
            return
        except Exception as exc:  # a stale endpoint.json from a crashed run
            if "Could not connect" not in str(exc):
                raise
            raise UsageError(f"csms local is not answering at {running['dynamodb']}; "
                             f"remove {endpoint_file} if it is not running") from exc
    if need_running:
        raise UsageError("csms local is not running (start it first: the charger must be connected)")
    from adapters.dynamo.models import MODELS, create_tables

    server = dynamodb.EmbeddedDynamo()
    server.start()
    try:
        settings = Settings.with_prefix(TABLE_PREFIX, region=REGION, dynamodb_endpoint=server.endpoint)
        runtime = build_runtime(settings)
        create_tables()
        snapshot = state / "dynamodb.json"
        dynamodb.restore(server.endpoint, REGION, snapshot)
        yield runtime
        state.mkdir(parents=True, exist_ok=True)
        dynamodb.snapshot(server.endpoint, REGION, [m.Meta.table_name for m in MODELS.values()], snapshot)
    finally:
        server.stop()


def _ask_local_replan(management_api: str) -> None:
    import urllib.request

    from csms_local.mgmt_api import REPLAN_PATH

    request = urllib.request.Request(management_api + REPLAN_PATH, data=b"{}", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def _charger_path(charge_point_id: str, *parts: str) -> str:
    from urllib.parse import quote

    return "/".join(["/v1/chargers", quote(charge_point_id, safe=""), *parts])


def set_preference(args) -> int:
    """Through the API's route (``--api``, or in-process): the checks and the re-plan are the API's."""
    from csms.timeutil import BadTimestamp, parse_ts

    path = _charger_path(args.charge_point_id, "preference")
    if args.show:
        print(json.dumps(request(args, "GET", path)))
        return 0
    body = {"charge_now": args.charge_now}
    if args.departure:
        try:
            body["departure"] = parse_ts(args.departure).isoformat()
        except BadTimestamp as exc:
            raise UsageError(f"--departure {args.departure!r} is not an ISO 8601 time") from exc
    if args.energy_kwh is not None:
        if not 0 < args.energy_kwh <= 1000:
            raise UsageError("--energy-kwh must be in (0, 1000]")
        body["energy_kwh"] = args.energy_kwh
    if args.carbon_price is not None:
        body["carbon_price_gbp_per_t"] = args.carbon_price
    request(args, "PUT", path, body)
    print(f"{args.charge_point_id}: preference saved; re-planning")
    return 0


def add_charger(args) -> int:
    from csms.connection import valid_charge_point_id
    from csms.credentials import CredentialError, generate_key, hash_key
    from csms.ports import AlreadyExists

    if not valid_charge_point_id(args.charge_point_id):
        raise UsageError(f"charge point id {args.charge_point_id!r} must be 1-48 printable characters without '/'")
    key = args.password or generate_key()
    try:
        hashed = hash_key(key)
    except CredentialError as exc:
        raise UsageError(str(exc)) from exc
    with _runtime(args.state_dir) as runtime:
        try:
            runtime.chargers.register(args.charge_point_id, hashed, datetime.now(timezone.utc))
        except AlreadyExists as exc:
            raise UsageError(f"charger {args.charge_point_id} is already registered") from exc
    print(f"registered {args.charge_point_id}")
    print(f"AuthorizationKey: {key}   (shown once; the platform keeps only a salted hash)")
    return 0


def list_chargers(args) -> int:
    rows = request(args, "GET", "/v1/chargers")
    if args.json:
        print(json.dumps([{"id": r["id"], "online": r["online"], "power_w": r["power_w"],
                           "connectors": {str(c["id"]): c["state"] for c in r["connectors"]}} for r in rows]))
        return 0
    print(f"{'charger':<20} {'online':<7} {'power kW':>8}  connectors")
    for r in rows:
        states = ", ".join(f"{c['id']}:{c['state']}" for c in r["connectors"]) or "-"
        print(f"{r['id']:<20} {'yes' if r['online'] else 'no':<7} {r['power_w'] / 1000:>8.1f}  {states}")
    if not rows:
        print("(no chargers: csms charger add <id>)")
    return 0


def send_command(args) -> int:
    from csms.ocpp_j import OcppError

    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        raise UsageError(f"payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UsageError("payload must be a JSON object")
    with _runtime(args.state_dir, need_running=True) as runtime:
        if runtime.chargers.get(args.charge_point_id) is None:
            raise UsageError(f"unknown charger {args.charge_point_id}")
        try:
            call = runtime.commander.send(args.charge_point_id, args.action, payload)
        except OcppError as exc:
            raise UsageError(f"{args.action}: {exc.code}: {exc.description}") from exc
        online = runtime.chargers.get(args.charge_point_id).online
    print(f"{call.action} {call.unique_id}: {'sent' if online else 'queued until the charger connects'}")
    return 0
