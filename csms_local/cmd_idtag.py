"""``csms idtag list|add|block|remove|policy|push|version`` and ``csms charger reserve|reservations|unreserve``:
idTags, a charger's authorization policy, its local list and reservations (OCPP 1.6 sections 4.2,
5.13, 5.15), through the HTTP API's routes (in-process on the local state, or ``--api URL --token T``)."""

from __future__ import annotations

import argparse
import json
from urllib.parse import quote

from csms.authorization.model import MAX_ID_TAG
from csms_local.cli import UsageError, number
from csms_local.cmd_api import TIME_FORM, api_command, command_group, request, time_option


def _charger(charge_point_id: str, *parts: str) -> str:
    return "/".join(["/v1/chargers", quote(charge_point_id, safe=""), *parts])


def _tag(id_tag: str) -> str:
    return "/v1/id-tags/" + quote(id_tag, safe="")


def _id_tag_argument(text: str) -> str:
    """An idTag as typed: an empty one never reaches the API (its path would have no idTag and
    answer 404); the length (1-20, OCPP 1.6 IdToken: CiString20Type) is the API's check."""
    if not text:
        raise argparse.ArgumentTypeError(f"the idTag is empty: an OCPP idTag (IdToken, CiString20Type) is "
                                         f"1-{MAX_ID_TAG} characters")
    return text


def register(subparsers) -> None:
    commands = command_group(subparsers, "idtag", "idTags, a charger's authorization policy and its local list")
    api_command(commands, "list", list_tags, "known idTags with status, expiry and parent")
    add = api_command(commands, "add", add_tag, "add or change an idTag (Accepted until --expiry)", "id_tag",
                      json_flag=False, positional_type=_id_tag_argument)
    add.add_argument("--expiry", help=f"from when it is Expired ({TIME_FORM})")
    add.add_argument("--parent", help="parentIdTag (a fleet card)")
    add.add_argument("--note", help="whose card it is")
    add.add_argument("--blocked", action="store_true", help="Blocked everywhere")
    api_command(commands, "block", block_tag, "block an idTag (answered Blocked from now on)", "id_tag",
                json_flag=False, positional_type=_id_tag_argument)
    api_command(commands, "remove", remove_tag, "forget an idTag", "id_tag", json_flag=False,
                positional_type=_id_tag_argument)
    policy = api_command(commands, "policy", charger_policy,
                         "show or set a charger's policy: accept_all | id_tags | local_list", "charge_point_id")
    policy.add_argument("mode", nargs="?", choices=["accept_all", "id_tags", "local_list"])
    api_command(commands, "push", push_list, "send the charger every known idTag (SendLocalList Full, next version)",
                "charge_point_id", json_flag=False)
    api_command(commands, "version", check_version,
                "ask the charger for its local list version (GetLocalListVersion)", "charge_point_id", json_flag=False)
    # `csms charger reserve|reservations|unreserve`, next to the other charger commands
    charger = subparsers.choices["charger"]._subparsers._group_actions[0]
    reserve = api_command(charger, "reserve", reserve_connector, "reserve a connector for an idTag (ReserveNow)",
                          "charge_point_id", json_flag=False)
    reserve.add_argument("--connector", type=int, default=1, help="connector id (0: the whole charger); default 1")
    reserve.add_argument("--id-tag", required=True)
    reserve.add_argument("--minutes", type=number, default=30, help="expires this many minutes from now (default 30)")
    api_command(charger, "reservations", list_reservations, "a charger's reservations with their state",
                "charge_point_id")
    cancel = api_command(charger, "unreserve", cancel_reservation, "cancel a reservation (CancelReservation)",
                         "charge_point_id", json_flag=False)
    cancel.add_argument("reservation_id", type=int)


def _expiry(text: str | None) -> str | None:
    return time_option("--expiry", text).isoformat() if text is not None else None


def list_tags(args) -> int:
    tags = request(args, "GET", "/v1/id-tags")
    if args.json:
        print(json.dumps(tags))
        return 0
    for t in tags:
        print(f"{t['id_tag']:<20} {t['status']:<9} expiry={t['expiry'] or '-'}  parent={t['parent'] or '-'}  "
              f"{t['note'] or ''}".rstrip())
    if not tags:
        print("no idTags: every charger without a policy accepts every idTag (accept_all)")
    return 0


def add_tag(args) -> int:
    tag = request(args, "PUT", _tag(args.id_tag), {"blocked": args.blocked, "expiry": _expiry(args.expiry),
                                                   "parent": args.parent, "note": args.note})
    print(f"{tag['id_tag']}: {tag['status']}" + (f" until {tag['expiry']}" if tag["expiry"] else ""))
    return 0


def block_tag(args) -> int:
    current = {t["id_tag"]: t for t in request(args, "GET", "/v1/id-tags")}.get(args.id_tag) or {}
    request(args, "PUT", _tag(args.id_tag), {"blocked": True, "expiry": current.get("expiry"),
                                             "parent": current.get("parent"), "note": current.get("note")})
    print(f"{args.id_tag}: Blocked")
    return 0


def remove_tag(args) -> int:
    request(args, "DELETE", _tag(args.id_tag))
    print(f"{args.id_tag}: removed")
    return 0


def _show_policy(shown: dict) -> None:
    ll = shown["local_list"]
    answer = (ll["answer"] or {}).get("status") or ("not sent" if not ll["command_id"] else "awaiting answer")
    print(f"{shown['id']}: {shown['mode']}; local list version {ll['version']} ({ll['size']} idTags): {answer}")
    check = shown.get("local_list_version_check")
    if check:
        print(f"  charger reports listVersion {(check.get('result') or {}).get('listVersion', check.get('status'))}")


def charger_policy(args) -> int:
    path = _charger(args.charge_point_id, "authorization")
    shown = request(args, "PUT", path, {"mode": args.mode}) if args.mode else request(args, "GET", path)
    if args.json:
        print(json.dumps(shown))
    else:
        _show_policy(shown)
    return 0


def push_list(args) -> int:
    sent = request(args, "POST", _charger(args.charge_point_id, "authorization", "local-list"))
    print(f"{args.charge_point_id}: SendLocalList version {sent['version']} ({sent['size']} idTags) {sent['status']}, "
          f"command {sent['command_id']}")
    return 0


def check_version(args) -> int:
    sent = request(args, "POST", _charger(args.charge_point_id, "authorization", "local-list", "version"))
    print(f"{args.charge_point_id}: GetLocalListVersion {sent['status']}, command {sent['command_id']} "
          f"(the answer: csms idtag policy {args.charge_point_id})")
    return 0


def reserve_connector(args) -> int:
    from datetime import timedelta

    from csms.timeutil import utcnow

    if not 0 < args.minutes <= 7 * 24 * 60:
        raise UsageError("--minutes must be in (0, 10080]")
    expires = utcnow() + timedelta(minutes=args.minutes)
    made = request(args, "POST", _charger(args.charge_point_id, "reservations"),
                   {"connector_id": args.connector, "id_tag": args.id_tag, "expires_at": expires.isoformat()},
                   flags={"connector_id": "--connector", "id_tag": "--id-tag", "expires_at": "--minutes"})
    print(f"{args.charge_point_id}: reservation {made['reservation_id']} for {args.id_tag} on connector "
          f"{args.connector} until {expires.isoformat(timespec='seconds')} ({made['status']})")
    return 0


def list_reservations(args) -> int:
    rows = request(args, "GET", _charger(args.charge_point_id, "reservations"))
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        print(f"{r['reservation_id']:>6}  connector {r['connector_id']}  {r['id_tag']:<20} {r['state']:<10} "
              f"until {r['expires_at']}" + (f"  transaction {r['transaction_id']}" if r["transaction_id"] else ""))
    if not rows:
        print(f"{args.charge_point_id}: no reservations")
    return 0


def cancel_reservation(args) -> int:
    sent = request(args, "DELETE", _charger(args.charge_point_id, "reservations", str(args.reservation_id)))
    print(f"{args.charge_point_id}: CancelReservation {args.reservation_id} {sent['status']}")
    return 0
