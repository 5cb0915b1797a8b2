"""After a crash: the CLI opens the state dir itself when endpoint.json names a process that is gone."""

from __future__ import annotations


def test_cli_commands_work_after_a_crash_left_endpoint_json_behind(tmp_path, capsys):
    """`kill -9` of csms local leaves endpoint.json naming a dead process and a closed port: the next
    `csms charger add` opens the state itself instead of asking the user to delete the file."""
    import json
    import subprocess
    import sys

    from csms_local.cli import main
    from csms_local.dynamodb import free_port

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = tmp_path / "state"
    state.mkdir()
    closed = f"http://127.0.0.1:{free_port()}"
    (state / "endpoint.json").write_text(json.dumps(
        {"dynamodb": closed, "management_api": closed, "url": "wss://127.0.0.1:1/ocpp", "pid": dead.pid}))
    assert main(["charger", "add", "CP-AFTER-CRASH", "--state-dir", str(state)]) == 0
    assert "registered CP-AFTER-CRASH" in capsys.readouterr().out
    assert main(["charger", "list", "--state-dir", str(state)]) == 0
    assert "CP-AFTER-CRASH" in capsys.readouterr().out
