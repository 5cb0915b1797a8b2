"""``csms charger report|check`` and ``csms models``: integration reports (issue 18,
docs/onboarding.md). Every command is a request to the HTTP API's routes (``csms_local.cmd_api``:
``--api URL --token T``, or in-process on the local platform's state)."""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from pathlib import Path

from csms_local.cli import UsageError, number
from csms_local.cmd_api import add_api_options, request

MARK = {"pass": "PASS", "fail": "FAIL", "not_seen": "----"}


def register(subparsers) -> None:
    models = subparsers.add_parser("models", help="integration verdicts per vendor / model / firmware")
    add_api_options(models)
    models.set_defaults(func=show_models)


def register_charger(commands) -> None:
    """The ``charger report`` and ``charger check`` sub-commands (called by ``cmd_charger``)."""
    report = commands.add_parser("report", help="the integration report: each requirement pass / fail / not yet "
                                                "seen, with its evidence")
    report.add_argument("charge_point_id")
    report.add_argument("--markdown", action="store_true", help="the one-pager a manufacturer can be sent")
    report.add_argument("--html", metavar="FILE", help="write the one-pager as HTML (print it to PDF from a browser)")
    report.add_argument("--evidence", action="store_true", help="list the evidence under each requirement")
    add_api_options(report)
    report.set_defaults(func=show_report)
    check = commands.add_parser("check", help="run the active check during a live session (triggers, configuration, "
                                              "a bounded pause and resume; the driver's plan is restored)")
    check.add_argument("charge_point_id")
    check.add_argument("--poll", type=number, default=2.0, help="seconds between looks (default 2)")
    add_api_options(check)
    check.set_defaults(func=run_check)


def _path(charge_point_id: str, tail: str) -> str:
    return f"/v1/chargers/{urllib.parse.quote(charge_point_id, safe='')}/{tail}"


def show_report(args) -> int:
    from csms.onboarding.report import html_page, markdown

    data = request(args, "GET", _path(args.charge_point_id, "report"))
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    if args.html:
        try:
            Path(args.html).write_text(html_page(data), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.html}: {exc.strerror}") from exc
        print(f"{args.charge_point_id}: report written to {args.html}")
        return 0
    if args.markdown:
        sys.stdout.write(markdown(data))
        return 0
    c = data["counts"]
    model = f"{data['vendor']} {data['model']} firmware {data['firmware_version']}" if data["vendor"] else "model unknown"
    print(f"{data['charger']} ({model}): {c['pass']} pass, {c['fail']} fail, {c['not_seen']} not yet seen")
    for r in data["requirements"]:
        active = " [active check]" if r["source"] == "active check" else ""
        print(f"  {MARK[r['state']]}  {r['title']:<62} {r['detail']}{active}")
        if args.evidence:
            for e in r["evidence"][:4]:
                print(f"          {e['at'] or '':<25} {e['what']}")
    return 0


def run_check(args) -> int:
    """Start the check and follow its progress; on Ctrl-C it is aborted (the plan is restored)."""
    if not 0.1 <= args.poll <= 60:
        raise UsageError("--poll must be 0.1-60 s")
    check = request(args, "POST", _path(args.charge_point_id, "check"))
    shown = 0
    try:
        while True:
            for line in check["progress"][shown:]:
                print(line, flush=True)
            shown = len(check["progress"])
            if check["state"] != "running":
                break
            time.sleep(args.poll)
            check = request(args, "GET", _path(args.charge_point_id, "check"))
    except KeyboardInterrupt:
        print("aborting: restoring the driver's plan", flush=True)
        check = request(args, "DELETE", _path(args.charge_point_id, "check"))
        for _ in range(60):
            if check["state"] != "running":
                break
            time.sleep(1)
            check = request(args, "GET", _path(args.charge_point_id, "check"))
        return 130
    if args.json:
        print(json.dumps(check, indent=1))
    else:
        for name, step in check["steps"].items():
            print(f"  {MARK.get(step['state'], step['state'])}  {name:<34} {step['detail']}")
    return 1 if any(s["state"] == "fail" for s in check["steps"].values()) else 0


def show_models(args) -> int:
    rows = request(args, "GET", "/v1/models/report")
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no charger reported yet (a report is kept per model when it is made)")
    for row in rows:
        print(f"{row['vendor']} {row['model']} firmware {row['firmware'] or '?'}: {row['chargers']} charger(s), "
              f"{row['reported']} reported")
        for line in row["failing"] or ["every reported requirement passes or is not yet seen"]:
            print(f"  {line}")
    return 0
