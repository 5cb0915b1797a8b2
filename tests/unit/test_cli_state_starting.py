"""A CLI command while ``csms local`` is still starting (it holds the state dir's lock but has not yet
written endpoint.json: it replays its journal first) is told to try again, not to stop the platform
(new-user probe: ``csms sessions`` right after a restart said "stop it or use another --state-dir")."""

from __future__ import annotations

import pytest

from csms_local.cli import UsageError
from csms_local.journal import JOURNAL_PREFIX
from csms_local.private import StateLock
from csms_local.state import open_runtime


def test_a_command_during_start_up_is_told_to_try_again(tmp_path):
    (tmp_path / (JOURNAL_PREFIX + "1")).write_text("")  # a platform's state, and no endpoint.json yet
    lock = StateLock(tmp_path, "csms local")
    try:
        with pytest.raises(UsageError) as refused:
            with open_runtime(str(tmp_path)):
                pass
    finally:
        lock.release()
    message = str(refused.value)
    assert "in use by csms local (pid" in message and "starting" in message and "try again" in message
    assert "stop it" not in message
