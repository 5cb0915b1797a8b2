"""Crashes of ``csms local`` as a user meets them: every process SIGKILLed mid-session, and a
SIGTERM while the platform is still starting. What was acknowledged is kept; no id is given twice.
The 24-point run is ``python -m bench.crash_points`` (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

from bench.crash_points import ROOT, check, run_sessions
from tests.e2e.helpers import make_state


def test_sigkill_after_start_between_meter_values_and_after_stop_loses_nothing_acknowledged(tmp_path):
    state = tmp_path / "state"
    kill_points = {(0, "start"), (0, "meter2"), (0, "stop")}
    run = asyncio.run(run_sessions(state, sessions=2, kill_points=kill_points))
    assert run["kills"] == 3
    result = asyncio.run(check(state, run["acknowledged"]))
    assert result["lost"] == []
    ids = [a.transaction_id for a in run["acknowledged"]]
    assert len(set(ids)) == 2 and ids[1] > ids[0]  # the session after the crashes got a new id
    assert result["sessions_stored"] == 2
    assert all(len(a.readings) == 4 for a in run["acknowledged"])


def test_sigterm_while_the_platform_starts_ends_in_a_clean_stop(tmp_path):
    """The OCPP port is open (a charger could be answered) and endpoint.json not yet written when
    SIGTERM arrives: the platform stops as on Ctrl-C and keeps its state (it used to die)."""
    state = make_state(tmp_path / "state")
    added = subprocess.run([sys.executable, "-m", "csms_local.cli", "charger", "add", "CP-T", "--state-dir", str(state)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    script = textwrap.dedent(f"""
        import os, signal, sys
        import csms_local.gateway as gateway
        opened = gateway.Gateway.start
        async def start(self):
            await opened(self)
            os.kill(os.getpid(), signal.SIGTERM)  # the port is open, endpoint.json not written yet
        gateway.Gateway.start = start
        from csms_local.cli import main
        sys.exit(main(["local", "--port", "0", "--api-port", "0", "--state-dir", {str(state)!r}]))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "stopped; state saved." in done.stdout and "Traceback" not in done.stderr
    assert not (state / "endpoint.json").exists()
    listing = subprocess.run([sys.executable, "-m", "csms_local.cli", "charger", "list", "--json", "--state-dir",
                              str(state)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert '"CP-T"' in listing.stdout, listing.stderr
