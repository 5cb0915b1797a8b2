"""The frame log never keeps a charger's new Basic-auth password (issue 21's "no key in clear in the
state dir" holds with issue 22's frame log on)."""

import json
from datetime import datetime, timezone

from csms.ocpp.frame_log import REDACTED, FrameLog, redacted


class _Store:
    def __init__(self):
        self.frames = []

    def add(self, frame):
        self.frames.append(frame)


def test_a_change_configuration_of_the_authorization_key_is_logged_without_the_key():
    key = "49b509ee53a5e94c6aae2ba3dec747eba990035c"
    store = _Store()
    log = FrameLog(store, always=True)
    log.record("CP001", "out", json.dumps([2, "u1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": key}]),
               datetime(2026, 11, 30, tzinfo=timezone.utc))
    (frame,) = store.frames
    assert key not in frame.text
    assert json.loads(frame.text) == [2, "u1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": REDACTED}]


def test_other_frames_are_kept_as_sent():
    other = json.dumps([2, "u2", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"}])
    assert redacted(other) == other
    assert redacted("not json AuthorizationKey") == "not json AuthorizationKey"
