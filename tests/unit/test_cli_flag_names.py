"""A CLI refusal names the command's own options, never the API's fields (new-user probe: ``csms site
add --limit-kw -5`` answered ``body.limit_kw``, ``csms event add --sites <70 characters>``
``body.target.ids.0``). Each command's request goes to the real HTTP API's validation in process."""

from __future__ import annotations

import json

import pytest

from csms_local import cmd_api
from csms_local.cli import main

LONG = "x" * 70
WINDOW = ["--start", "2030-01-01T10:00Z", "--end", "2030-01-01T11:00Z", "--cap-kw", "5"]


@pytest.fixture
def api_validation(monkeypatch, tmp_path):
    """``_local`` with the HTTP API's routes and schema checks and no platform behind them: every case
    below is refused by the schema before an operation runs."""
    from adapters import http_api
    from adapters.http_event import http_event

    def local(args, method, path, body, query):
        event = http_event(method, path, query=query, body=json.dumps(body) if body is not None else None,
                           claims={"sub": "cli", "cognito:groups": "[operators]"})
        response = http_api.handle(event, None, None)  # type: ignore[arg-type]
        return cmd_api._answer(int(response["statusCode"]), response.get("body") or "")

    monkeypatch.setattr(cmd_api, "_local", local)
    return ["--state-dir", str(tmp_path)]


@pytest.mark.parametrize("argv,named", [
    (["site", "add", "depot", "--limit-kw", "-5"], "--limit-kw"),
    (["site", "add", "depot", "--replace", "--phases", "2"], "--phases"),
    (["site", "add", "depot", "--phase-limit-a", "0"], "--phase-limit-a"),
    (["site", "add", "depot", "--region", LONG], "--region"),
    (["site", "add", LONG], "site_id"),
    (["event", "add", *WINDOW, "--sites", LONG], "--sites"),
    (["event", "add", *WINDOW, "--chargers", LONG], "--chargers"),
    (["event", "add", *WINDOW, "--region", ""], "--region"),
    (["event", "add", *WINDOW[:4], "--cap-kw", "-1"], "--cap-kw"),
    (["charger", "log", "CP1", "--on", "100"], "--on"),
    (["charger", "reserve", "CP1", "--id-tag", "x" * 21], "--id-tag"),
    (["charger", "reserve", "CP1", "--id-tag", "T1", "--connector", "-1"], "--connector"),
    (["charger", "revoke", "CP1", "--sha256", "ab"], "--sha256"),
    (["charger", "prefer", "CP1", "--energy-kwh", "-1"], "--energy-kwh"),
    (["idtag", "add", "T1", "--note", "x" * 201], "--note"),
    (["firmware", "campaign", "create", "--name", "n", "--image", "I1", "--failure-threshold", "200"],
     "--failure-threshold"),
    (["firmware", "campaign", "create", "--name", "n", "--image", "I1", "--max-in-flight", "0"], "--max-in-flight"),
])
def test_a_refused_value_is_named_by_the_flag_the_user_typed(api_validation, capsys, argv, named):
    assert main([*argv, *api_validation]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: 422: {named}: "), line
    assert "body." not in line and "target" not in line and "Traceback" not in line


def test_composite_hours_are_checked_in_hours_not_the_apis_seconds(api_validation, capsys):
    assert main(["charger", "composite", "CP1", "--ask", "--hours", "1000", *api_validation]) == 2
    assert capsys.readouterr().err.strip() == "error: --hours must be in (0, 168]"


def test_words_of_a_domain_message_stay_words():
    flags = {"start": "--start", "end": "--end", "cap_kw": "--cap-kw", "target": "--sites", "id": "site_id",
             "chargers": "--charger"}
    assert cmd_api.flag_names("end must be after start", flags) == "--end must be after --start"
    assert cmd_api.flag_names("give either cap_kw or reduction_kw", flags) == "give either --cap-kw or reduction_kw"
    assert cmd_api.flag_names("site id 'a b': no chargers match", flags) == "site id 'a b': no chargers match"
    assert cmd_api.flag_names("body.target.ids.3: too long; body.id: short", flags) == "--sites: too long; site_id: short"
