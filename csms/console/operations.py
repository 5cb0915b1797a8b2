"""The operator console as operators use it (issue 22): the operations behind the HTTP API's
``/v1/chargers/{id}/log``, ``/v1/alerts``, ``/v1/sessions`` tools and ``/v1/unknown-chargers``,
the CLI and the web page. Operators only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from csms.ocpp.frame_log import IN, MAX_WINDOW, OUT, LoggedFrame, stamp
from csms.ocpp.ports import FrameStore
from csms.operations import MAX_PAGE, Forbidden, Invalid, NotFound, Principal
from csms.timeutil import iso
from csms.views.ports import ChargerDirectory

MAX_SEARCH = 200  # characters of a frame-log search


def frame_json(frame: LoggedFrame) -> dict:
    return {"at": stamp(frame.at), "direction": frame.direction, "action": frame.action, "text": frame.text,
            "connection_id": frame.connection_id}


class ConsoleOperations:
    """Seams: ``frames`` (the frame log's store) and ``always`` (the log is always on: the local
    platform), ``chargers`` (who exists), ``clock`` (UTC)."""

    def __init__(self, *, frames: FrameStore, always: bool, chargers: ChargerDirectory,
                 clock: Callable[[], datetime]):
        self.frames, self.always, self.chargers, self.clock = frames, always, chargers, clock

    @staticmethod
    def _operator(who: Principal) -> None:
        if not who.operator:
            raise Forbidden("only operators may do this")

    def _charger(self, charge_point_id: str) -> None:
        if self.chargers.get(charge_point_id) is None:
            raise NotFound(f"no charger {charge_point_id}")

    # ------------------------------------------------------------ frame log
    def frame_log(self, who: Principal, charge_point_id: str, limit: int = 50, cursor: str | None = None,
                  search: str | None = None, direction: str | None = None, after: datetime | None = None) -> dict:
        """A page of the charger's frames, newest first: {frames: [{at, direction, action, text,
        connection_id}], next_cursor, logging: {always, until}}. ``search``: frames whose text
        contains it (case-sensitive: OCPP names are); ``direction``: "in" (from the charger) or
        "out"; ``after``: only frames later than this (a live tail). Raises Forbidden, NotFound,
        Invalid."""
        self._operator(who)
        self._charger(charge_point_id)
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"limit must be 1-{MAX_PAGE}")
        if direction not in (None, IN, OUT):
            raise Invalid("direction must be 'in' or 'out'")
        if search is not None and len(search) > MAX_SEARCH:
            raise Invalid(f"search is at most {MAX_SEARCH} characters")
        try:
            frames, after_cursor = self.frames.page(charge_point_id, limit, cursor, search or None, direction, after)
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        return {"frames": [frame_json(f) for f in frames], "next_cursor": after_cursor,
                "logging": self._logging(charge_point_id)}

    def _logging(self, charge_point_id: str) -> dict:
        until = None if self.always else self.frames.switched_until(charge_point_id)
        if until is not None and until <= self.clock():
            until = None
        return {"always": self.always, "until": iso(until) if until is not None else None}

    def switch_frame_log(self, who: Principal, charge_point_id: str, hours: float) -> dict:
        """Log the charger's frames for ``hours`` from now (0: stop), at most ``MAX_WINDOW``; in AWS
        from its next connection, which the sweeper brings about within a minute. Raises Forbidden,
        NotFound, Invalid. Answers {always, until}."""
        self._operator(who)
        if not 0 <= hours <= MAX_WINDOW.total_seconds() / 3600:
            raise Invalid(f"hours must be 0-{MAX_WINDOW.total_seconds() / 3600:g}")
        now = self.clock()
        until = now + timedelta(hours=hours) if hours else None
        if not self.frames.switch(charge_point_id, until, now):
            raise NotFound(f"no charger {charge_point_id}")
        return self._logging(charge_point_id)
