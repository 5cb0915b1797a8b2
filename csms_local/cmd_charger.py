"""``csms charger add|list|command``: manage chargers of the local platform.

With ``csms local`` running, these talk to its DynamoDB (``<state dir>/endpoint.json``);
otherwise they load the saved state, apply the change and save it again. With the table
variables of a deployed stack in the environment (its ``CliEnvironment`` output), they act on
that stack's tables in AWS (``CSMS_TARGET=aws`` is part of that output, so a shell that merely
has table variables, like the local platform's own environment, never reaches AWS by accident).
"""

from __future__ import annotations

import json
from pathlib import Path

from csms_local.cli import UsageError, number
from csms_local.cmd_onboarding import register_charger as register_onboarding
from csms_local.cmd_api import TIME_FORM, add_api_options, request, time_option
from csms_local.state import cli_principal, open_runtime


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
    register_onboarding(commands)  # charger report, charger check (issue 18)
    prefer = commands.add_parser("prefer", help="the driver's preference: departure time and energy; re-plans")
    prefer.add_argument("charge_point_id")
    prefer.add_argument("--departure", help=f"when the vehicle leaves ({TIME_FORM}; default: 8 h after plug-in)")
    prefer.add_argument("--energy-kwh", type=number, help="energy the driver needs (default: 30 kWh)")
    prefer.add_argument("--charge-now", action="store_true", help="charge at full power now, ignore prices")
    prefer.add_argument("--carbon-price", type=number, help="GBP per tonne of CO2 (default: the platform's)")
    prefer.add_argument("--show", action="store_true", help="print the stored preference, change nothing")
    add_api_options(prefer, json_flag=False)
    prefer.set_defaults(func=set_preference)
    review = commands.add_parser("review", help="messages read around a quirk or flagged: reason, message id, raw frame")
    review.add_argument("charge_point_id")
    add_api_options(review, json_flag=True)
    review.set_defaults(func=show_review)
    handshake = commands.add_parser("handshake", help="admit a charger offering no or a variant subprotocol "
                                                      "(ocpp1.6j) as OCPP 1.6, or stop admitting it")
    handshake.add_argument("charge_point_id")
    handshake.add_argument("mode", choices=["legacy", "strict"], help="legacy: admit; strict: ocpp1.6 only (default)")
    add_api_options(handshake, json_flag=False)
    handshake.set_defaults(func=set_handshake)
    failures = commands.add_parser("failures", help="refused handshakes for a charger, or from a source IP")
    failures.add_argument("charge_point_id", nargs="?")
    failures.add_argument("--source", help="an IP address instead of a charger")
    add_api_options(failures, json_flag=False)
    failures.set_defaults(func=show_failures)
    cert = commands.add_parser("cert", help="issue a key and client certificate for a test charger (profile 3)")
    cert.add_argument("charge_point_id")
    cert.add_argument("--out", default=None, help="directory for <id>.pem and <id>-key.pem (default: <state dir>/chargers)")
    cert.add_argument("--days", type=number, default=365, help="validity in days (default 365)")
    cert.add_argument("--cpo-name", help="subject O (default: the local charger CA's, i.e. csms local's CPO name)")
    cert.add_argument("--state-dir", default=".local")
    cert.set_defaults(func=issue_certificate)
    security = commands.add_parser("security", help="a charger's security profile, TLS, certificate, revocations")
    security.add_argument("charge_point_id")
    add_api_options(security)
    security.set_defaults(func=show_security)
    revoke = commands.add_parser("revoke", help="revoke a charger's certificate (default: the one it last used)")
    revoke.add_argument("charge_point_id")
    revoke.add_argument("--serial", help="serial number (hex, colons allowed)")
    revoke.add_argument("--sha256", help="SHA-256 fingerprint (hex)")
    add_api_options(revoke, json_flag=False)
    revoke.set_defaults(func=revoke_certificate)
    profile = commands.add_parser("profile", help="hold a charger to security profile 3 (never lowered)")
    profile.add_argument("charge_point_id")
    profile.add_argument("profile", type=int, choices=(2, 3))
    add_api_options(profile, json_flag=False)
    profile.set_defaults(func=set_profile)
    command = commands.add_parser("command", help="send an OCPP call to a charger (queued while it is offline)")
    command.add_argument("charge_point_id")
    command.add_argument("action", help="e.g. Reset, TriggerMessage, ChangeConfiguration, SetChargingProfile")
    command.add_argument("payload", nargs="?", default="{}", help="JSON payload (default {})")
    command.add_argument("--state-dir", default=".local")
    command.set_defaults(func=send_command)
    from csms_local.cmd_console import register_charger_commands  # issue 22: log, close-session

    register_charger_commands(commands)


def _charger_path(charge_point_id: str, *parts: str) -> str:
    from urllib.parse import quote

    return "/".join(["/v1/chargers", quote(charge_point_id, safe=""), *parts])


def set_preference(args) -> int:
    """Through the API's route (``--api``, or in-process): the checks and the re-plan are the API's."""
    path = _charger_path(args.charge_point_id, "preference")
    if args.show:
        print(json.dumps(request(args, "GET", path)))
        return 0
    body = {"charge_now": args.charge_now}
    if args.departure:
        body["departure"] = time_option("--departure", args.departure).isoformat()
    if args.energy_kwh is not None:
        body["energy_kwh"] = args.energy_kwh
    if args.carbon_price is not None:
        body["carbon_price_gbp_per_t"] = args.carbon_price
    request(args, "PUT", path, body, flags={"departure": "--departure", "energy_kwh": "--energy-kwh",
                                            "carbon_price_gbp_per_t": "--carbon-price"})
    print(f"{args.charge_point_id}: preference saved; re-planning")
    return 0


def show_review(args) -> int:
    """Through the API's route: what the charger sent that was read around or flagged, newest first."""
    items = request(args, "GET", _charger_path(args.charge_point_id, "review"))
    if args.json:
        print(json.dumps(items))
        return 0
    for item in items:
        print(f"{item['at']}  {item['kind']:<24} {item['action'] or '-':<20} id={item['message_id'] or '-'}  "
              f"{item['detail']}")
    if not items:
        print(f"{args.charge_point_id}: nothing kept for review")
    return 0


def set_handshake(args) -> int:
    request(args, "PUT", _charger_path(args.charge_point_id, "handshake"), {"legacy_handshake": args.mode == "legacy"})
    print(f"{args.charge_point_id}: " + ("admitted without the exact ocpp1.6 subprotocol" if args.mode == "legacy"
                                         else "ocpp1.6 required"))
    return 0


def add_charger(args) -> int:
    """Through ``Operations.register_charger``, as ``POST /v1/chargers``: the same checks."""
    from adapters.wiring import build_operations

    with open_runtime(args.state_dir) as runtime:
        created = _cli_call(lambda: build_operations(runtime).register_charger(cli_principal(), args.charge_point_id,
                                                                                 args.password))
    print(f"registered {created['id']}")
    print(f"AuthorizationKey: {created['authorization_key']}   (shown once; the platform keeps only a salted hash)")
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
    """Through ``Operations.send_command``, as ``POST /v1/chargers/{id}/commands``: the same checks
    and guards (an AuthorizationKey goes through ``rotate-key``, never as a raw ChangeConfiguration)."""
    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        raise UsageError(f"payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UsageError("payload must be a JSON object")
    from adapters.wiring import build_operations
    from csms.ocpp.security_operations import SecurityOperations

    with open_runtime(args.state_dir, need_running=True) as runtime:
        operations = build_operations(runtime)
        # never a security downgrade (a SecurityProfile below the charger's floor)
        _cli_call(lambda: SecurityOperations(operations).check_command(args.charge_point_id, args.action, payload))
        sent = _cli_call(lambda: operations.send_command(cli_principal(), args.charge_point_id, args.action,
                                                         payload))
        view = runtime.chargers.get(args.charge_point_id)
        online = view is not None and view.online
    print(f"{sent['action']} {sent['command_id']}: {'sent' if online else 'queued until the charger connects'}")
    return 0


def _cli_call(operation):
    """An operation's refusal as the CLI's one-line error."""
    from csms.operations import REFUSALS

    try:
        return operation()
    except REFUSALS as exc:
        raise UsageError(str(exc)) from exc


def show_failures(args) -> int:
    """``csms charger failures CP001`` / ``--source IP``: through the API's routes."""
    from urllib.parse import quote

    if bool(args.charge_point_id) == bool(args.source):
        raise UsageError("give a charger id or --source IP (one of them)")
    if args.source:
        data = request(args, "GET", f"/v1/auth-failures/{quote(args.source, safe='')}")
        until = data["refused_until"] or "not refused"
        print(f"{data['source']}: {data['failures']} failures in the last hour; refused until: {until}")
    else:
        data = request(args, "GET", _charger_path(args.charge_point_id, "auth-failures"))
        print(f"{data['charger']}: {data['failures']} wrong keys in the last hour"
              + (f"; latest {data['last_at']} from {data['last_source']}" if data["failures"] else ""))
    return 0


def issue_certificate(args) -> int:
    """``csms charger cert CP001``: from the state dir's charger CA (created here when missing)."""
    from csms.ocpp.connection import valid_charge_point_id
    from csms_local import pki

    if not valid_charge_point_id(args.charge_point_id):
        raise UsageError(f"charge point id {args.charge_point_id!r} must be 1-48 printable characters without '/'")
    if not 0 < args.days <= 3650:
        raise UsageError("--days must be in (0, 3650]")
    tls_dir = Path(args.state_dir) / "tls"
    pki.ensure_charger_ca(tls_dir, args.cpo_name or pki.DEFAULT_CPO_NAME)
    out = Path(args.out) if args.out else Path(args.state_dir) / "chargers"
    try:
        cert_path, key_path, cert = pki.issue_charger_certificate(tls_dir, args.charge_point_id, out,
                                                                  cpo_name=args.cpo_name, days=args.days)
    except (pki.PkiError, OSError) as exc:
        raise UsageError(str(exc)) from exc
    print(f"certificate: {cert_path}  (subject {cert.subject.rfc4514_string()}, serial {cert.serial_number:x}, "
          f"expires {cert.not_valid_after_utc:%Y-%m-%d})")
    print(f"private key: {key_path}")
    print(f"charger CA (the trust store of csms local): {tls_dir / pki.CHARGER_CA}")
    return 0


def _print_security(data: dict) -> None:
    connection = data.get("connection") or {}
    print(f"{data['id']}: security profile {data['security_profile']}")
    if connection:
        print(f"  last connection: {connection.get('method')} over {connection.get('tls_version') or '?'} "
              f"{connection.get('tls_cipher') or ''} at {connection.get('at')}")
    certificate = data.get("certificate")
    if certificate:
        print(f"  certificate: {certificate['subject']}, serial {certificate['serial']}, "
              f"expires {certificate['not_after']}")
    for key in data.get("revoked") or []:
        print(f"  revoked: {key}")
    for event in data.get("security_events") or []:
        print(f"  security event {event['at']}: {event['type']}" + (f" ({event['tech_info']})" if event.get("tech_info") else ""))


def show_security(args) -> int:
    data = request(args, "GET", _charger_path(args.charge_point_id, "security"))
    if args.json:
        print(json.dumps(data))
    else:
        _print_security(data)
    return 0


def revoke_certificate(args) -> int:
    body = {k: v for k, v in (("serial", args.serial), ("sha256", args.sha256)) if v}
    _print_security(request(args, "POST", _charger_path(args.charge_point_id, "security", "revocations"), body))
    return 0


def set_profile(args) -> int:
    _print_security(request(args, "PUT", _charger_path(args.charge_point_id, "security", "profile"),
                            {"profile": args.profile}))
    return 0
