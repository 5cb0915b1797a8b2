"""``csms ... | head``: a reader that stops early ends the command quietly (exit 141, as a shell
reports SIGPIPE), never with a BrokenPipeError traceback on the terminal."""

from __future__ import annotations

import subprocess
import sys


def test_a_closed_pipe_ends_the_command_without_a_traceback():
    process = subprocess.Popen([sys.executable, "-m", "csms_local.cli", "cost"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the table is printed
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
