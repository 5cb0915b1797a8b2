"""What last stop's new-user probe found and left (closing note, "Found and not fixed"): each test
is what the user sees, a line and an exit code, and fails on the code before its fix."""

from __future__ import annotations

import json
import os

import pytest

from csms_local import cmd_console
from csms_local.cli import main


# ------------------------------------------------ 1. csms charger log --follow after the platform stops
def _running_platform(state_dir):
    state_dir.mkdir(exist_ok=True)
    (state_dir / "endpoint.json").write_text(json.dumps({"dynamodb": "http://127.0.0.1:9", "pid": os.getpid()}))


def test_following_the_log_ends_with_one_line_when_the_platform_stops(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    _running_platform(state)
    polls = []

    def fake_request(args, method, path, body=None, query=None, flags=None):
        polls.append(query)
        if len(polls) == 3:  # csms local stops (Ctrl-C): it removes its endpoint file
            (state / "endpoint.json").unlink()
        frame = {"at": f"2026-11-30T12:00:0{len(polls)}Z", "direction": "in", "text": f"[2,\"{len(polls)}\"]"}
        return {"frames": [frame], "logging": {"always": True, "until": None}}

    monkeypatch.setattr(cmd_console, "request", fake_request)
    monkeypatch.setattr(cmd_console, "FOLLOW_EVERY_S", 0)
    assert main(["charger", "log", "CP001", "--follow", "--state-dir", str(state)]) == 1
    out, err = capsys.readouterr()
    assert len(polls) == 3 and out.count("-> in") == 3
    assert err.strip().splitlines() == [f"csms local on {state} stopped: no more frames"]


def test_following_the_log_of_a_platform_that_is_not_running_is_refused_in_one_line(tmp_path, capsys):
    _running_platform(tmp_path)
    (tmp_path / "endpoint.json").write_text(json.dumps({"pid": 2 ** 22 + 7}))  # left by a killed run
    assert main(["charger", "log", "CP001", "--follow", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "csms local is not running" in err[0]


# ------------------------------------------------ 3. --from 2026-12-01 (a date, no time zone)
def test_a_date_or_a_time_without_a_zone_is_read_as_utc_and_a_typo_shows_the_accepted_form(monkeypatch, capsys):
    from csms_local import cmd_api

    asked = []
    monkeypatch.setattr(cmd_api, "request", lambda args, method, path, body=None, query=None, flags=None:
                        asked.append(query) or {"sessions": [], "totals": {"sessions": 0, "energy_kwh": 0,
                                                                          "cost_gbp": 0, "co2_kg": 0, "savings_gbp": 0}})
    assert main(["sessions", "--from", "2026-12-01", "--to", "2026-12-01T18:30"]) == 0
    assert asked == [{"from": "2026-12-01T00:00:00+00:00", "to": "2026-12-01T18:30:00+00:00"}]
    capsys.readouterr()
    assert main(["sessions", "--from", "1 Dec"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --from '1 Dec' is not a date or ISO 8601 time, e.g. 2026-12-01 or 2026-12-01T07:30:00Z; "
                   "without a time zone: UTC")
    assert asked == [asked[0]]  # nothing asked of the API


# ------------------------------------------------ 4. csms idtag add ""
@pytest.mark.parametrize("command", ["add", "block", "remove"])
def test_an_empty_idtag_is_said_to_be_empty_not_404(command, tmp_path, capsys):
    assert main(["idtag", command, "", "--state-dir", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "the idTag is empty" in line and "1-20 characters" in line and "404" not in line
    assert not any(tmp_path.iterdir())  # refused before any state was opened


# ------------------------------------------------ 7. csms site add overwrote an existing site
def test_site_add_creates_only_and_replace_replaces(monkeypatch, capsys):
    from csms_local import cmd_site
    from csms_local.cli import UsageError

    sent = []

    def fake_request(args, method, path, body=None, query=None, flags=None):
        sent.append((method, path))
        if method == "POST":  # what the API answers for an existing site
            raise UsageError("409: site depot already exists (csms site add --replace, or PUT /v1/sites/depot, "
                             "replaces it)")
        return {"id": "depot", "connection_kw": 20}

    monkeypatch.setattr(cmd_site, "request", fake_request)
    assert main(["site", "add", "depot", "--limit-kw", "20"]) == 2
    assert capsys.readouterr().err.strip() == ("error: 409: site depot already exists (csms site add --replace, "
                                               "or PUT /v1/sites/depot, replaces it)")
    assert main(["site", "add", "depot", "--limit-kw", "20", "--replace"]) == 0
    assert sent == [("POST", "/v1/sites"), ("PUT", "/v1/sites/depot")]


# ------------------------------------------------ 8. a mistyped --state-dir made a new, empty platform
@pytest.mark.parametrize("command", [["charger", "list"], ["charger", "add", "CP9"], ["sessions"], ["token", "bob"],
                                     ["idtag", "list"], ["site", "add", "depot"]])
def test_a_state_dir_without_a_platform_is_refused_and_not_created(command, tmp_path, capsys):
    typo = tmp_path / "stat"
    assert main([*command, "--state-dir", str(typo)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: no platform state in {typo}")
    assert not typo.exists()
