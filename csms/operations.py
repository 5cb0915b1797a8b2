"""What operators and drivers can do: the operations behind the HTTP API and the CLI.

Every operation takes the caller (:class:`Principal`) and checks it: an operator sees and
commands the whole fleet; a driver sees only the chargers linked to their account, and a charger
that is not theirs is answered exactly like one that does not exist (nothing to enumerate).
No AWS here: the ports are the repositories of ``csms.ports`` plus the few methods named below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from csms.connection import valid_charge_point_id
from csms.credentials import CredentialError, generate_key, hash_key
from csms.fleet import ChargerOverview, charger_overview
from csms.ocpp_j import OcppError
from csms.ports import AlreadyExists
from csms.reports import session_report
from csms.signals import to_signals
from csms.tariff import SLOT, slot_start
from csms.timeutil import iso

MAX_ENERGY_KWH = 1000.0
MAX_CARBON_PRICE = 10_000.0  # GBP/t: far above any traded or social cost of carbon
MAX_EVENT = timedelta(days=7)
SIGNALS_AHEAD = timedelta(hours=48)


@dataclass(frozen=True)
class Principal:
    subject: str
    operator: bool = False

    def __post_init__(self):
        if not self.subject:
            raise ValueError("a principal needs a subject")


class NotFound(LookupError):
    """Unknown, or not visible to this caller."""


class Forbidden(PermissionError):
    """Only operators may do this."""


class Invalid(ValueError):
    """Input the caller must fix; the message says what."""


class Conflict(Exception):
    """The request clashes with stored state (an id already taken)."""


def _ts(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def overview_json(row: ChargerOverview, view, capabilities: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": row.charge_point_id,
        "online": row.online,
        "last_seen": _ts(row.last_seen),
        "vendor": row.vendor,
        "model": row.model,
        "firmware_version": row.firmware_version,
        "firmware_status": view.firmware_status,
        "driver": view.driver,
        "power_w": row.power_w,
        "connectors": [
            {"id": c.connector_id, "status": c.status, "error_code": c.error_code, "state": c.state.value,
             "power_w": c.power_w, "status_at": _ts(c.status_at)}
            for c in row.connectors
        ],
        **({"capabilities": capabilities} if capabilities is not None else {}),
    }


class Operations:
    """The ports: ``chargers`` (a ChargerRepository with ``set_driver``, ``of_driver``,
    ``preference``, ``set_preference``, ``capabilities``), ``connectors``, ``sessions``, ``meter``,
    ``calls`` (outcomes), ``commander``, ``signals`` (``rows``, ``put``), ``events`` (``add``,
    ``listed``, ``cancel``), ``replan`` (callable with a charger id) and ``clock``; ``firmware``:
    the firmware and diagnostics operations (``csms.firmware.operations.FirmwareOperations``)."""

    def __init__(self, *, chargers, connectors, sessions, meter, calls, commander, signals, events,
                 replan: Callable[[str], None], clock: Callable[[], datetime], firmware=None):
        self.chargers, self.connectors, self.sessions, self.meter = chargers, connectors, sessions, meter
        self.calls, self.commander, self.signals, self.events = calls, commander, signals, events
        self.replan, self.clock = replan, clock
        self.firmware = firmware

    # ------------------------------------------------------------ access
    @staticmethod
    def _operator(who: Principal) -> None:
        if not who.operator:
            raise Forbidden("only operators may do this")

    def _visible(self, who: Principal, charge_point_id: str):
        view = self.chargers.get(charge_point_id)
        if view is None or not (who.operator or view.driver == who.subject):
            raise NotFound(f"no charger {charge_point_id}")
        return view

    # ---------------------------------------------------------- chargers
    def list_chargers(self, who: Principal) -> list[dict]:
        views = self.chargers.list() if who.operator else self.chargers.of_driver(who.subject)
        out = []
        for view in sorted(views, key=lambda v: v.charge_point_id):
            row = charger_overview(view.charge_point_id, self.chargers, self.connectors, self.meter)
            if row is not None:
                out.append(overview_json(row, view))
        return out

    def get_charger(self, who: Principal, charge_point_id: str) -> dict:
        view = self._visible(who, charge_point_id)
        row = charger_overview(charge_point_id, self.chargers, self.connectors, self.meter)
        if row is None:
            raise NotFound(f"no charger {charge_point_id}")
        return overview_json(row, view, self.chargers.capabilities(charge_point_id))

    def register_charger(self, who: Principal, charge_point_id: str, key: str | None = None,
                         driver: str | None = None) -> dict:
        self._operator(who)
        if not valid_charge_point_id(charge_point_id):
            raise Invalid(f"charge point id {charge_point_id!r} must be 1-48 printable characters without '/'")
        key = key or generate_key()
        try:
            hashed = hash_key(key)
        except CredentialError as exc:
            raise Invalid(str(exc)) from exc
        try:
            self.chargers.register(charge_point_id, hashed, self.clock())
        except AlreadyExists as exc:
            raise Conflict(f"charger {charge_point_id} is already registered") from exc
        if driver:
            self.chargers.set_driver(charge_point_id, driver)
        return {"id": charge_point_id, "authorization_key": key, "driver": driver}

    def delete_charger(self, who: Principal, charge_point_id: str) -> None:
        self._operator(who)
        if not self.chargers.delete(charge_point_id):
            raise NotFound(f"no charger {charge_point_id}")

    def link_driver(self, who: Principal, charge_point_id: str, driver: str | None) -> dict:
        self._operator(who)
        if not self.chargers.set_driver(charge_point_id, driver):
            raise NotFound(f"no charger {charge_point_id}")
        return {"id": charge_point_id, "driver": driver}

    def rotate_key(self, who: Principal, charge_point_id: str) -> dict:
        """Send the charger a new AuthorizationKey; the platform switches to it only when the
        charger answers Accepted (``csms.commands``), so a charger that refuses keeps working."""
        self._operator(who)
        self._visible(who, charge_point_id)
        key = generate_key()
        call = self.commander.send(charge_point_id, "ChangeConfiguration",
                                   {"key": "AuthorizationKey", "value": key}, "operator")
        return {"id": charge_point_id, "command_id": call.unique_id, "authorization_key": key,
                "status": "sent; the new key applies when the charger answers Accepted"}

    # ---------------------------------------------------------- sessions
    def _signal_window(self, session, now: datetime) -> tuple[datetime, datetime]:
        """The signal rows a session's report reads: from the slot before it to a day after its end."""
        return session.started_at - SLOT, (session.stopped_at or now) + timedelta(hours=24)

    def _session_json(self, session, detail: bool = False, stored: list | None = None) -> dict:
        """``stored``: signal rows already read for several sessions (a listing reads them once)."""
        samples = self.meter.for_transaction(session.charge_point_id, session.connector_id, session.transaction_id)
        now = self.clock()
        end = session.stopped_at or now
        lo, hi = self._signal_window(session, now)
        rows = self.signals.rows(lo, hi) if stored is None else [r for r in stored if lo <= r.start <= hi]
        report = session_report(session, samples, to_signals(rows))
        out = {
            "charger": session.charge_point_id, "transaction_id": session.transaction_id,
            "connector_id": session.connector_id, "id_tag": session.id_tag, "active": session.active,
            "started_at": _ts(session.started_at), "stopped_at": _ts(session.stopped_at),
            "stop_reason": session.stop_reason, "energy_kwh": report.energy_kwh, "cost_gbp": report.cost_gbp,
            "co2_kg": report.co2_kg, "unpriced_kwh": report.unpriced_kwh,
            "immediate_cost_gbp": report.immediate_cost_gbp, "savings_gbp": report.savings_gbp,
            "flags": list(session.flags),
        }
        if detail:
            out["timeline"] = [{"at": _ts(p.at), "energy_wh": p.energy_wh, "power_w": p.power_w}
                               for p in report.timeline]
            plan = self.sessions.plan_of(session.charge_point_id, session.transaction_id)
            out["plan"] = json.loads(plan) if plan else None
            # The prices the session paid and, while it is plugged in, those its plan looks at
            upto = end + SLOT if not session.active else end + timedelta(hours=24)
            out["signals"] = [{"start": _ts(r.start), "price_p_per_kwh": r.price_p_per_kwh,
                               "carbon_g_per_kwh": r.carbon_actual if r.carbon_actual is not None else r.carbon_forecast}
                              for r in rows if r.start < upto]
        return out

    def list_sessions(self, who: Principal, charge_point_id: str | None = None, since: datetime | None = None,
                      until: datetime | None = None) -> dict:
        if since and until and until <= since:
            raise Invalid("'to' must be after 'from'")
        if charge_point_id is not None:
            ids = [self._visible(who, charge_point_id).charge_point_id]
        else:
            views = self.chargers.list() if who.operator else self.chargers.of_driver(who.subject)
            ids = sorted(v.charge_point_id for v in views)
        now = self.clock()
        chosen = [s for cp in ids for s in self.sessions.list(cp)
                  if not (since and (s.stopped_at or now) < since) and not (until and s.started_at >= until)]
        stored = []
        if chosen:  # one read of the signals for the whole listing, not one per session
            windows = [self._signal_window(s, now) for s in chosen]
            stored = self.signals.rows(min(lo for lo, _ in windows), max(hi for _, hi in windows))
        rows = [self._session_json(s, stored=stored) for s in chosen]
        rows.sort(key=lambda r: r["started_at"])
        total = lambda k: round(sum(r[k] or 0 for r in rows), 4)  # noqa: E731
        return {"sessions": rows, "totals": {"sessions": len(rows), "energy_kwh": total("energy_kwh"),
                                             "cost_gbp": total("cost_gbp"), "co2_kg": total("co2_kg"),
                                             "savings_gbp": total("savings_gbp")}}

    def get_session(self, who: Principal, charge_point_id: str, transaction_id: int) -> dict:
        self._visible(who, charge_point_id)
        session = self.sessions.get(charge_point_id, transaction_id)
        if session is None:
            raise NotFound(f"no session {transaction_id} on {charge_point_id}")
        return self._session_json(session, detail=True)

    # ------------------------------------------------------- preferences
    def get_preference(self, who: Principal, charge_point_id: str) -> dict:
        self._visible(who, charge_point_id)
        pref = self.chargers.preference(charge_point_id)
        return {"departure": pref.get("departure"), "energy_kwh": pref.get("energy_kwh"),
                "charge_now": bool(pref.get("charge_now", False)),
                "carbon_price_gbp_per_t": pref.get("carbon_price")}

    def set_preference(self, who: Principal, charge_point_id: str, departure: datetime | None,
                       energy_kwh: float | None, charge_now: bool, carbon_price: float | None = None) -> dict:
        self._visible(who, charge_point_id)
        if energy_kwh is not None and not 0 < energy_kwh <= MAX_ENERGY_KWH:
            raise Invalid(f"energy_kwh must be in (0, {MAX_ENERGY_KWH:g}]")
        if carbon_price is not None and not 0 <= carbon_price <= MAX_CARBON_PRICE:
            raise Invalid(f"carbon_price_gbp_per_t must be in [0, {MAX_CARBON_PRICE:g}]")
        if departure is not None and departure <= self.clock():
            raise Invalid("departure must be in the future")
        self.chargers.set_preference(charge_point_id, departure, energy_kwh, charge_now, carbon_price)
        try:
            self.replan(charge_point_id)
            replan = "requested"
        except Exception:  # the scheduled run re-plans anyway
            replan = "at the next scheduled run"
        return {**self.get_preference(who, charge_point_id), "replan": replan}

    # ---------------------------------------------------------- commands
    def send_command(self, who: Principal, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict:
        self._operator(who)
        self._visible(who, charge_point_id)
        if action == "ChangeConfiguration" and payload.get("key") == "AuthorizationKey":
            raise Invalid("rotate the key with POST /v1/chargers/{id}/rotate-key (the platform must know it)")
        try:
            call = self.commander.send(charge_point_id, action, payload, "operator")
        except OcppError as exc:
            raise Invalid(f"{action}: {exc.code}: {exc.description}") from exc
        held = self.calls.outstanding(charge_point_id)
        sent = held is not None and held.call.unique_id == call.unique_id
        # queued: the charger is offline or still answering an earlier call; it goes out in turn
        return {"command_id": call.unique_id, "action": action, "status": "sent" if sent else "queued"}

    def command_result(self, who: Principal, charge_point_id: str, command_id: str) -> dict:
        self._operator(who)
        self._visible(who, charge_point_id)
        for outcome in self.calls.outcomes(charge_point_id):
            if outcome.unique_id == command_id:
                return {"command_id": command_id, "action": outcome.action, "status": outcome.outcome,
                        "result": outcome.result, "error_code": outcome.error_code, "at": _ts(outcome.at)}
        held = self.calls.outstanding(charge_point_id)
        if held is not None and held.call.unique_id == command_id:
            return {"command_id": command_id, "action": held.call.action, "status": "awaiting answer"}
        for call in self.calls.queued(charge_point_id):
            if call.unique_id == command_id:
                return {"command_id": command_id, "action": call.action, "status": "queued"}
        raise NotFound(f"no command {command_id} on {charge_point_id}")

    # ------------------------------------------------------------ events
    def list_events(self, who: Principal) -> list[dict]:
        return [{"id": event_id, "start": _ts(e.start), "end": _ts(e.end), "cap_kw": e.cap_kw, "cancelled": cancelled}
                for event_id, e, cancelled in self.events.listed(self.clock())]

    def create_event(self, who: Principal, start: datetime, end: datetime, cap_kw: float) -> dict:
        self._operator(who)
        if end <= start:
            raise Invalid("end must be after start")
        if end <= self.clock():
            raise Invalid("the event has already ended")
        if end - start > MAX_EVENT:
            raise Invalid("an event lasts at most 7 days")
        if cap_kw < 0:
            raise Invalid("cap_kw must be >= 0")
        event_id = self.events.add(start, end, cap_kw)
        self._replan_fleet()
        return {"id": event_id, "start": _ts(start), "end": _ts(end), "cap_kw": cap_kw, "cancelled": False}

    def cancel_event(self, who: Principal, event_id: str) -> None:
        self._operator(who)
        if not self.events.cancel(event_id):
            raise NotFound(f"no event {event_id}")
        self._replan_fleet()

    def _replan_fleet(self) -> None:
        try:
            self.replan("*")
        except Exception:  # the scheduled run re-plans anyway
            pass

    # ----------------------------------------------------------- signals
    def current_signals(self, who: Principal, hours: int = 24) -> list[dict]:
        if not 1 <= hours <= 48:
            raise Invalid("hours must be 1-48")
        now = self.clock()
        start = slot_start(now)
        rows = self.signals.rows(start, start + timedelta(hours=hours) - SLOT)
        return [{"start": _ts(r.start), "price_p_per_kwh": r.price_p_per_kwh, "carbon_forecast": r.carbon_forecast,
                 "carbon_actual": r.carbon_actual} for r in rows]
