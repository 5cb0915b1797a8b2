"""The operator console as operators use it (issue 22): the operations behind the HTTP API's
``/v1/chargers/{id}/log``, ``/v1/alerts``, ``/v1/sessions`` tools and ``/v1/unknown-chargers``,
the CLI and the web page. Operators only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from csms.console.alerts import KINDS, Alerts
from csms.console.ports import UnknownChargerStore
from csms.ocpp.frame_log import IN, MAX_WINDOW, OUT, LoggedFrame, stamp
from csms.model import ConnectorStatus
from csms.ocpp.meter import session_energy
from csms.ocpp.ports import ConnectorRepository, FrameStore, MeterRepository, SessionRepository
from csms.operations import Conflict, Forbidden, Invalid, NotFound, Principal
from csms.views.operations import MAX_PAGE
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
                 clock: Callable[[], datetime], alerts: Alerts | None = None, sessions: SessionRepository | None = None,
                 connectors: ConnectorRepository | None = None, meter: MeterRepository | None = None,
                 replan: Callable[[str], None] | None = None, unknown: UnknownChargerStore | None = None):
        self.frames, self.always, self.chargers, self.clock = frames, always, chargers, clock
        self.alerts = alerts
        # session tools: the transaction store, connector states, meter readings, the re-plan request
        self.sessions, self.connectors, self.meter, self.replan = sessions, connectors, meter, replan
        self.unknown = unknown  # chargers that tried to connect unregistered

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

    # ---------------------------------------------------------------- alerts
    def list_alerts(self, who: Principal, hours: float = 24, kind: str | None = None,
                    charge_point_id: str | None = None, limit: int = 100) -> list[dict]:
        """Alerts of the last ``hours`` (at most 30 days), newest first: [{kind, charger, at,
        detail}]. Raises Forbidden, Invalid."""
        self._operator(who)
        if not 0 < hours <= 720:
            raise Invalid("hours must be in (0, 720]")
        if kind is not None and kind not in KINDS:
            raise Invalid(f"kind must be one of {', '.join(KINDS)}")
        if not 1 <= limit <= 500:
            raise Invalid("limit must be 1-500")
        if self.alerts is None:
            return []
        since = self.clock() - timedelta(hours=hours)
        return [a.as_json() for a in self.alerts.recent(since, limit, kind, charge_point_id)]

    # ---------------------------------------------------------------- session tools
    def close_session(self, who: Principal, charge_point_id: str, transaction_id: int) -> dict:
        """Close a stuck transaction (its StopTransaction never came) as an operator: stopped now, with
        the energy its meter readings show so far, stop reason Other, flagged ``operator_closed``; the
        connector's state is released (Available, stamped now: a newer status from the charger still
        wins) and the charger re-planned, so nothing plans for the vehicle any more. A StopTransaction
        that arrives later is acknowledged and kept for review (the transaction is already stopped).
        Raises Forbidden, NotFound, Conflict (already stopped). Answers {charger, transaction_id,
        connector_id, stopped_at, energy_kwh, flags}."""
        self._operator(who)
        if self.sessions is None or self.connectors is None or self.meter is None:
            raise Invalid("session tools are not configured here")
        session = self.sessions.get(charge_point_id, transaction_id)
        if session is None:
            raise NotFound(f"no transaction {transaction_id} on charger {charge_point_id}")
        if not session.active:
            raise Conflict(f"transaction {transaction_id} is already stopped")
        now = self.clock()
        samples = self.meter.for_transaction(charge_point_id, session.connector_id, transaction_id,
                                             session.started_at, None)
        energy = session_energy(session.meter_start_wh, samples, None)
        session.stopped_at = max(now, session.started_at)
        session.stop_received_at = now
        session.stop_reason = "Other"
        session.energy_wh = round(energy.energy_wh, 3)
        session.max_power_w = energy.max_power_w
        session.flags = list(dict.fromkeys(list(session.flags) + ["operator_closed", *energy.flags]))
        self.sessions.save_stop(session)
        self.connectors.record_status(charge_point_id, ConnectorStatus(
            session.connector_id, "Available", "NoError", now, now,
            info=f"released: transaction {transaction_id} closed by an operator"[:50]))
        if self.replan is not None:
            try:
                self.replan(charge_point_id)
            except Exception:  # the next scheduled run re-plans
                pass
        return {"charger": charge_point_id, "transaction_id": transaction_id, "connector_id": session.connector_id,
                "stopped_at": iso(session.stopped_at), "energy_kwh": round(session.energy_wh / 1000, 3),
                "flags": session.flags}

    # ---------------------------------------------------------------- unknown chargers
    def unknown_chargers(self, who: Principal, hours: float = 24 * 7, limit: int = 100) -> list[dict]:
        """Ids that tried to connect without being registered in the last ``hours`` (at most 7 days),
        the most recent first, those registered since left out: [{id, count, first_seen, last_seen,
        source}]. Register one with ``POST /v1/chargers``. Raises Forbidden, Invalid."""
        self._operator(who)
        if not 0 < hours <= 24 * 7:
            raise Invalid("hours must be in (0, 168]")
        if not 1 <= limit <= 500:
            raise Invalid("limit must be 1-500")
        if self.unknown is None:
            return []
        rows = self.unknown.recent(self.clock() - timedelta(hours=hours), limit)
        return [r.as_json() for r in rows if self.chargers.get(r.charge_point_id) is None]
