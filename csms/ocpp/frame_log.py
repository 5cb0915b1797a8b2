"""The frame log per charger (issue 22): every OCPP-J frame in both directions, with its time and
direction, kept for a bounded time, for whoever integrates a charger model.

Cost decides when it is on. Locally it always is (``always``). In AWS it costs one write per frame,
so an operator switches it on per charger for a bounded window (``MAX_WINDOW``): the switch is a
time stored on the charger item, which the ``$connect`` authorizer reads anyway (the same GetItem)
and hands to every ``$default`` event of the connection as its context. Deciding costs no read per
frame, and a frame is not written at all when the log is off. Switching on also moves the charger's
connection close time to now, so the sweeper closes it within a minute and the next connection
carries the switch (``FrameLogOperations.switch``).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from csms.ocpp.ports import FrameStore

log = logging.getLogger(__name__)
# ``csms local --verbose`` prints every frame through this logger (INFO); nothing in AWS
echo = logging.getLogger("csms.frames")

IN, OUT = "in", "out"
RETENTION = timedelta(days=7)  # TTL of a logged frame
MAX_WINDOW = timedelta(hours=72)  # the longest an operator can switch the AWS log on for
MAX_TEXT = 32 * 1024  # API Gateway's frame limit: nothing longer crosses the socket


@dataclass(frozen=True)
class LoggedFrame:
    """One frame: ``direction`` "in" (charger → platform) or "out"; ``at`` UTC; ``text`` the frame
    as sent (bytes read as UTF-8 with backslash escapes); ``seq`` orders frames of the same
    microsecond (random hex, part of the key)."""

    charge_point_id: str
    at: datetime
    direction: str
    text: str
    connection_id: str | None = None
    seq: str = ""

    @property
    def action(self) -> str | None:
        """The CALL's action ("[2,id,Action,..."), None for a result or an error."""
        if self.text.startswith("[2,"):
            parts = self.text.split(",", 3)
            if len(parts) >= 3:
                return parts[2].strip().strip('"')[:64]
        return None


def stamp(at: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``: a frame's time, sortable as text (the log's key
    order, and what a live tail passes back as ``after``)."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FrameLog:
    """Decide and record. ``store`` holds the frames (``csms.ocpp.ports.FrameStore``); ``always``:
    every charger's frames are logged (the local platform); otherwise only while a charger's
    switch (``until``, from the authorizer's context) is in the future. ``record`` never raises:
    a charger's answer never depends on the log."""

    def __init__(self, store: "FrameStore", *, always: bool = False):
        self.store = store
        self.always = always

    def on(self, until: datetime | None, now: datetime) -> bool:
        return self.always or (until is not None and until > now)

    def record(self, charge_point_id: str, direction: str, text: str | bytes, at: datetime,
               connection_id: str | None = None) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="backslashreplace")
        text = redacted(text)
        frame = LoggedFrame(charge_point_id, at, direction, text[:MAX_TEXT], connection_id, secrets.token_hex(3))
        if self.always:
            echo.info("%s %-3s %s", charge_point_id, direction, frame.text)
        try:
            self.store.add(frame)
        except Exception:  # the log must never cost a charger its answer
            log.exception("frame log write failed for %s", charge_point_id)


SECRET_KEYS = frozenset({"AuthorizationKey"})  # configuration keys whose value is a secret (OCPP 1.6 security whitepaper, 3.1)
REDACTED = "<redacted>"


def redacted(text: str) -> str:
    """``text`` (an OCPP-J frame) with the value of a secret configuration key replaced by
    ``<redacted>``: a ChangeConfiguration of ``AuthorizationKey`` carries the charger's new Basic-auth
    password, which must never reach the frame log (or the state dir: issue 21). Any other frame,
    or text that is not a frame, is returned unchanged."""
    if "AuthorizationKey" not in text:
        return text
    import json

    try:
        frame = json.loads(text)
    except ValueError:
        return text
    if (isinstance(frame, list) and len(frame) == 4 and frame[0] == 2 and frame[2] == "ChangeConfiguration"
            and isinstance(frame[3], dict) and frame[3].get("key") in SECRET_KEYS):
        return json.dumps([2, frame[1], frame[2], {**frame[3], "value": REDACTED}], separators=(",", ":"))
    return text

