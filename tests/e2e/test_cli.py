"""The ``csms`` CLI as a user runs it (a separate process): register a charger before and while
the platform runs, list the fleet, command a connected charger, upload signals, call a grid event;
bad arguments get one line and exit code 2."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from csms_local.platform import LocalPlatform
from tests.e2e.helpers import make_state, open_charger

ROOT = Path(__file__).resolve().parents[2]


def csms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "csms_local.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def made_state(tmp_path_factory) -> Path:
    """One platform state for the module, copied by each test that runs the CLI before a platform."""
    return make_state(tmp_path_factory.mktemp("made") / "state")


def _copy(made_state: Path, tmp_path: Path) -> str:
    return str(shutil.copytree(made_state, tmp_path / "state"))


def test_register_offline_then_connect_list_and_command(tmp_path, made_state):
    state = _copy(made_state, tmp_path)
    added = csms("charger", "add", "CP-7", "--state-dir", state)
    assert added.returncode == 0, added.stderr
    key = added.stdout.split("AuthorizationKey: ")[1].split()[0]
    assert 16 <= len(key) <= 40

    async def scenario():
        platform = LocalPlatform(state_dir=state, port=0, smart_every_s=None)
        await platform.start()
        try:
            async with open_charger(platform, "CP-7", key) as ws:  # the key printed once works
                replies, calls = {}, []

                async def reader():  # a charger: answers every CALL, keeps every reply
                    async for text in ws:
                        frame = json.loads(text)
                        if frame[0] == 2:
                            calls.append(frame)
                            answer = {} if frame[2] == "GetConfiguration" else {"status": "Accepted"}
                            await ws.send(json.dumps([3, frame[1], answer]))
                        else:
                            replies[frame[1]] = frame

                async def until(predicate):
                    while not predicate():
                        await asyncio.sleep(0.05)

                listener = asyncio.create_task(reader())
                await ws.send(json.dumps([2, "b", "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"}]))
                await ws.send(json.dumps([2, "s", "StatusNotification",
                                          {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}]))
                await asyncio.wait_for(until(lambda: "s" in replies), 20)
                listing = await asyncio.to_thread(csms, "charger", "list", "--json", "--state-dir", state)
                sent = await asyncio.to_thread(csms, "charger", "command", "CP-7", "TriggerMessage",
                                               '{"requestedMessage": "Heartbeat"}', "--state-dir", state)
                await asyncio.wait_for(until(lambda: any(c[2] == "TriggerMessage" for c in calls)), 60)
                bad = await asyncio.to_thread(csms, "charger", "command", "CP-7", "Reset", '{"type": "Sideways"}',
                                              "--state-dir", state)
                listener.cancel()
            trigger = next(c for c in calls if c[2] == "TriggerMessage")
            return listing, sent, trigger, bad
        finally:
            await platform.stop()

    listing, sent, trigger, bad = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert listing.returncode == 0, listing.stderr
    (row,) = json.loads(listing.stdout)
    assert row["id"] == "CP-7" and row["online"] is True and row["connectors"] == {"1": "plugged_in"}
    assert sent.returncode == 0 and "TriggerMessage" in sent.stdout and "sent" in sent.stdout
    assert trigger[2:] == ["TriggerMessage", {"requestedMessage": "Heartbeat"}]
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_signals_upload_and_grid_events(tmp_path, made_state):
    state = _copy(made_state, tmp_path)
    up = csms("signals", "upload", "--prices", "data/gb_agile_prices.csv", "--carbon", "data/gb_carbon_intensity.csv",
              "--state-dir", state)
    assert up.returncode == 0, up.stderr
    assert "stored 1392 half-hour slots" in up.stdout and "22 carbon slots interpolated" in up.stdout
    added = csms("event", "add", "--start", "2030-01-01T17:00:00Z", "--end", "2030-01-01T19:00:00Z", "--cap-kw", "50",
                 "--state-dir", state)
    assert added.returncode == 0, added.stderr
    listed = csms("event", "list", "--state-dir", state)
    assert "50 kW" in listed.stdout
    assert csms("event", "cancel", added.stdout.strip(), "--state-dir", state).returncode == 0
    assert "50 kW" not in csms("event", "list", "--state-dir", state).stdout


def test_bad_arguments_get_one_line_and_exit_2(tmp_path, made_state):
    state = _copy(made_state, tmp_path)
    for args, message in [
        (("charger", "add", "CP1", "--password", "short", "--state-dir", state), "16"),
        (("charger", "add", "a/b", "--state-dir", state), "without '/'"),
        (("charger", "command", "CP1", "Reset", "{not json", "--state-dir", state), "payload is not JSON"),
        (("local", "--port", "70000"), "not a port number"),
        (("demo", "--day", "yesterday"), "is not a date"),
        (("event", "add", "--start", "2030-01-01T19:00:00Z", "--end", "2030-01-01T17:00:00Z", "--cap-kw", "5",
          "--state-dir", state), "--end must be after --start"),
        (("nonsense",), "invalid choice"),
        (("charger", "list", "--state-dir", state + "-typo"), f"no platform state in {state}-typo"),
        (("token", "bob", "--state-dir", state + "-typo"), f"no platform state in {state}-typo"),
    ]:
        result = csms(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, args
    assert not Path(state + "-typo").exists()  # a mistyped --state-dir makes no new, empty platform


def test_api_commands_over_https_and_in_process(tmp_path):
    """The same routes from the CLI: over HTTPS with a token (--api) and in-process on the state."""
    state = str(tmp_path / "state")

    async def scenario():
        platform = LocalPlatform(state_dir=state, port=0, smart_every_s=None)
        await platform.start()
        try:
            platform.add_charger("CP-A")
            platform.add_charger("CP-B")
            platform.runtime.chargers.set_driver("CP-A", "alice")
            from datetime import datetime, timedelta, timezone

            from csms.model import Session

            t0 = datetime(2024, 6, 12, 18, tzinfo=timezone.utc)
            platform.runtime.sessions.create(Session("CP-A", 0, 1, "TAG", 1000, t0, t0), "k1")
            operator = platform.web_url.split("#token=")[1]
            api = platform.api_url
            run = lambda *a: asyncio.to_thread(csms, *a, "--state-dir", state)  # noqa: E731
            alice = (await run("token", "alice")).stdout.strip()
            return {
                "sessions": await run("sessions", "--api", api, f"--token={operator}"),
                "alice_chargers": await run("charger", "list", "--api", api, f"--token={alice}", "--json"),
                "alice_other": await run("charger", "prefer", "CP-B", "--energy-kwh", "5", "--api", api,
                                         f"--token={alice}"),
                "alice_event": await run("event", "add", "--start", "2030-01-01T17:00:00Z", "--end",
                                         "2030-01-01T18:00:00Z", "--cap-kw", "5", "--api", api, f"--token={alice}"),
                "no_token": await run("sessions", "--api", api, "--token", "wrong"),
                "local_sessions": await run("sessions", "--json"),
                "bad_from": await run("sessions", "--from", "yesterday"),
                "unreachable": await run("sessions", "--api", "https://127.0.0.1:1", "--token", "x"),
            }
        finally:
            await platform.stop()

    r = asyncio.run(asyncio.wait_for(scenario(), 180))
    assert r["sessions"].returncode == 0, r["sessions"].stderr
    lines = r["sessions"].stdout.splitlines()
    assert lines[1].split()[:2] == ["CP-A", "1"] and lines[-1].split()[:2] == ["total", "1"]
    assert [c["id"] for c in json.loads(r["alice_chargers"].stdout)] == ["CP-A"]
    for name, words in (("alice_other", "404: no charger CP-B"), ("alice_event", "403: only operators"),
                        ("no_token", "401"), ("bad_from", "is not a date or ISO 8601 time"), ("unreachable", "cannot reach")):
        assert r[name].returncode == 2 and words in r[name].stderr, (name, r[name].stderr)
        assert r[name].stderr.count("\n") == 1 and "Traceback" not in r[name].stderr
    assert json.loads(r["local_sessions"].stdout)["totals"]["sessions"] == 1


def test_ctrl_c_stops_cleanly_and_keeps_what_was_stored_since_the_last_snapshot(tmp_path):
    """A terminal's Ctrl-C reaches the whole process group: the embedded DynamoDB must outlive it long
    enough for the final snapshot (it used to die first: a traceback and up to 30 s of state lost)."""
    import os
    import signal

    state = str(tmp_path / "state")
    proc = subprocess.Popen([sys.executable, "-m", "csms_local.cli", "local", "--port", "0", "--api-port", "0",
                             "--state-dir", state], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        for line in proc.stdout:
            if line.startswith("Ctrl-C to stop."):
                break
        added = csms("charger", "add", "CP-Z", "--state-dir", state)  # into the running platform
        assert added.returncode == 0, added.stderr
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "state saved" in out and "Traceback" not in err, err[-2000:]
    listing = csms("charger", "list", "--json", "--state-dir", state)  # from the saved snapshot
    assert [row["id"] for row in json.loads(listing.stdout)] == ["CP-Z"]
