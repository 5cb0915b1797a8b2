"""What operators and drivers can do: the operations behind the HTTP API and the CLI.

Every operation takes the caller (:class:`Principal`) and checks it: an operator sees and
commands the whole fleet; a driver sees only the chargers linked to their account, and a charger
that is not theirs is answered exactly like one that does not exist (nothing to enumerate).
No AWS here: the ports are declared in ``csms.views.ports``, ``csms.charging.ports`` and ``csms.ocpp.ports``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Protocol

from csms.charging.ports import EventStore, Replan, SignalStore
from csms.charging.signals import to_signals
from csms.charging.tariff import SLOT, slot_start
from csms.ocpp.codec import OcppError
from csms.ocpp.commands import Commander
from csms.ocpp.connection import valid_charge_point_id
from csms.ocpp.credentials import CredentialError, generate_key, hash_key
from csms.ocpp import lockout
from csms.ocpp.ports import AlreadyExists, ChargerCredentials, ChargerSecurity, FailureStore
from csms.timeutil import iso
from csms.views.fleet import ChargerOverview, charger_overview
from csms.views.driver_links import visible_to
from csms.views.ports import (CallRecords, ChargerDirectory, ConnectorReader, DriverLinks, MeterReader, ReviewReader,
                              SessionHistory)
from csms.views.reports import session_report

if TYPE_CHECKING:  # csms.firmware builds on the refusals below
    from csms.firmware.operations import FirmwareOperations
    from csms.console.operations import ConsoleOperations

MAX_ENERGY_KWH = 1000.0
MAX_CARBON_PRICE = 10_000.0  # GBP/t: far above any traded or social cost of carbon
MAX_EVENT = timedelta(days=7)
PAGE = 50  # default page of a listing
MAX_PAGE = 100
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


REFUSALS = (NotFound, Forbidden, Invalid, Conflict)  # what a caller is told in one line


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
             "power_w": c.power_w, "status_at": _ts(c.status_at),
             "info": c.info, "vendor_id": c.vendor_id, "vendor_error_code": c.vendor_error_code}
            for c in row.connectors
        ],
        **({"capabilities": capabilities} if capabilities is not None else {}),
    }


class OperatorChargers(ChargerDirectory, ChargerCredentials, ChargerSecurity, Protocol):
    """The charger store as operations use it: the directory, and registering / deleting / keys."""


class Operations:
    """What operators and drivers do (the HTTP API's routes and the CLI): every check of their
    input is here, once. Seams: the ports below, ``commander`` (platform-initiated calls),
    ``replan`` (see ``csms.charging.ports.Replan``), ``clock`` (UTC), ``review`` (messages kept for
    review), ``failures`` (handshake failure counters, ``csms.ocpp.lockout``) and ``links`` (driver
    link periods, ``csms.views.driver_links``; None: a driver sees every session of their chargers);
    ``firmware``: the firmware and diagnostics operations (``csms.firmware.operations.FirmwareOperations``;
    None: the firmware routes answer 503)."""

    def __init__(self, *, chargers: OperatorChargers, connectors: ConnectorReader, sessions: SessionHistory,
                 meter: MeterReader, calls: CallRecords, commander: Commander, signals: SignalStore,
                 events: EventStore, replan: Replan, clock: Callable[[], datetime],
                 review: ReviewReader | None = None, failures: FailureStore | None = None,
                 links: DriverLinks | None = None, firmware: FirmwareOperations | None = None,
                 console: ConsoleOperations | None = None):
        self.chargers, self.connectors, self.sessions, self.meter = chargers, connectors, sessions, meter
        self.calls, self.commander, self.signals, self.events = calls, commander, signals, events
        self.replan, self.clock = replan, clock
        self.review = review  # messages kept for a person (issue 14); None: nothing kept
        self.failures, self.links = failures, links
        self.firmware = firmware
        self.console = console  # the operator console (issue 22): frame log, alerts, session tools, unknown chargers

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
    def _charger_views(self, who: Principal, limit: int, cursor: str | None):
        """One page of the chargers the caller may see: (views, next cursor). Raises Invalid."""
        try:
            if who.operator:
                return self.chargers.page(limit, cursor)
            return self.chargers.page_of_driver(who.subject, limit, cursor)
        except ValueError as exc:  # a cursor this API did not hand out
            raise Invalid(str(exc)) from exc

    def chargers_page(self, who: Principal, limit: int = PAGE, cursor: str | None = None) -> tuple[list[dict], str | None]:
        """At most ``limit`` chargers (id order) with their live state, and the cursor of the next
        page (None at the end): a page costs the same whatever the fleet's size."""
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"limit must be 1-{MAX_PAGE}")
        views, after = self._charger_views(who, limit, cursor)
        out = []
        for view in views:
            row = charger_overview(view.charge_point_id, self.chargers, self.connectors, self.meter)
            if row is not None:
                out.append(overview_json(row, view))
        return out, after

    def list_chargers(self, who: Principal) -> list[dict]:
        """Every charger the caller may see (every page: the CLI's listing; the HTTP API pages)."""
        out, cursor = [], None
        while True:
            rows, cursor = self.chargers_page(who, MAX_PAGE, cursor)
            out.extend(rows)
            if cursor is None:
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
            self._link(charge_point_id, driver)
        return {"id": charge_point_id, "authorization_key": key, "driver": driver}

    def _link(self, charge_point_id: str, driver: str | None) -> bool:
        if self.links is not None:
            return self.links.link(charge_point_id, driver, self.clock())
        return self.chargers.set_driver(charge_point_id, driver)

    def _driver_may_see(self, who: Principal, session, periods: dict) -> bool:
        """Operators see every session; a driver those started while the charger was theirs."""
        if who.operator or self.links is None:
            return True
        if session.charge_point_id not in periods:
            periods[session.charge_point_id] = self.links.periods(session.charge_point_id)
        return visible_to(who.subject, periods[session.charge_point_id], session.started_at)

    def delete_charger(self, who: Principal, charge_point_id: str) -> None:
        self._operator(who)
        if not self.chargers.delete(charge_point_id):
            raise NotFound(f"no charger {charge_point_id}")

    def link_driver(self, who: Principal, charge_point_id: str, driver: str | None) -> dict:
        self._operator(who)
        if not self._link(charge_point_id, driver):
            raise NotFound(f"no charger {charge_point_id}")
        return {"id": charge_point_id, "driver": driver}

    def rotate_key(self, who: Principal, charge_point_id: str) -> dict:
        """Send the charger a new AuthorizationKey (``csms.ocpp.rotation``): its hash is stored as
        pending before the call is queued, so the old and the new key both work until the charger
        connects with the new one; the queued call holds the key sealed. ``status``: ``sent`` or
        ``queued`` (offline, or answering an earlier call). Invalid when nothing can seal it."""
        self._operator(who)
        self._visible(who, charge_point_id)
        if self.commander.sealer is None or self.commander.keys is None:
            raise Invalid("key rotation needs a sealer for the queued key (SECRETS_KMS_KEY_ID or SECRETS_KEY_FILE)")
        key = generate_key()
        call = self.commander.enqueue(charge_point_id, "ChangeConfiguration",
                                      {"key": "AuthorizationKey", "value": key}, "operator")
        if not self.commander.keys.set_pending(charge_point_id, hash_key(key), call.unique_id):
            self.commander.queue.remove(call)
            raise NotFound(f"no charger {charge_point_id}")
        self.commander.pump(charge_point_id)
        held = self.commander.queue.outstanding(charge_point_id)
        sent = held is not None and held.call.unique_id == call.unique_id
        return {"id": charge_point_id, "command_id": call.unique_id, "authorization_key": key,
                "status": "sent" if sent else "queued",
                "note": "the old and the new key both work until the charger connects with the new one"}

    def _failures(self) -> FailureStore:
        if self.failures is None:
            raise NotFound("no handshake failure counters here")
        return self.failures

    def charger_auth_failures(self, who: Principal, charge_point_id: str) -> dict:
        """Wrong keys for a charger in the last hour, from any source, and the latest source
        (``csms.ocpp.lockout``): they never refuse the charger's own key."""
        self._operator(who)
        self._visible(who, charge_point_id)
        out = lockout.charger_failures(self._failures(), charge_point_id, self.clock())
        return {k: _ts(v) if isinstance(v, datetime) else v for k, v in out.items()}

    def source_auth_failures(self, who: Principal, source: str) -> dict:
        """Failures from one source (an IP address) and until when its handshakes are refused."""
        import ipaddress

        self._operator(who)
        try:
            source = str(ipaddress.ip_address(source))
        except ValueError as exc:
            raise Invalid(f"{source!r} is not an IP address") from exc
        out = lockout.source_failures(self._failures(), source, self.clock())
        return {k: _ts(v) if isinstance(v, datetime) else v for k, v in out.items()}

    def review_items(self, who: Principal, charge_point_id: str) -> list[dict]:
        """What a charger sent that was read around a quirk or flagged (operators): newest first,
        each with the message id, action, reason and the raw frame, for review with the charger."""
        self._operator(who)
        self._visible(who, charge_point_id)
        items = self.review.list(charge_point_id) if self.review is not None else []
        return [{"at": _ts(i.at), "kind": i.kind, "action": i.action, "message_id": i.unique_id,
                 "transaction_id": i.transaction_id, "detail": i.detail, "raw": i.raw}
                for i in sorted(items, key=lambda i: i.at, reverse=True)]

    def set_legacy_handshake(self, who: Principal, charge_point_id: str, legacy: bool) -> dict:
        """Admit a registered charger as OCPP 1.6 although it offers no ``Sec-WebSocket-Protocol``
        or a variant spelling (``ocpp1.6j``), as some shipped chargers do (operators). Refused by
        default: OCPP-J 1.6 section 3.1.2 requires ``ocpp1.6``."""
        self._operator(who)
        if not self.chargers.set_legacy_handshake(charge_point_id, legacy):
            raise NotFound(f"no charger {charge_point_id}")
        return {"id": charge_point_id, "legacy_handshake": legacy}

    # ---------------------------------------------------------- sessions
    def _signal_window(self, session, now: datetime) -> tuple[datetime, datetime]:
        """The signal rows a session's report reads: from the slot before it to a day after its end."""
        return session.started_at - SLOT, (session.stopped_at or now) + timedelta(hours=24)

    def _session_json(self, session, detail: bool = False, stored: list | None = None) -> dict:
        """``stored``: signal rows already read for several sessions (a listing reads them once)."""
        samples = self.meter.for_transaction(session.charge_point_id, session.connector_id, session.transaction_id,
                                             session.started_at, session.stopped_at)
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
                      until: datetime | None = None, limit: int = PAGE, cursor: str | None = None) -> dict:
        """One page of sessions with totals over the page, and ``next_cursor`` (None at the end).
        For one charger: ``limit`` sessions, newest first. Across chargers: the sessions of up to
        ``limit`` chargers (id order) — a page's cost never depends on the fleet's size."""
        if since and until and until <= since:
            raise Invalid("'to' must be after 'from'")
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"limit must be 1-{MAX_PAGE}")
        now = self.clock()
        try:
            if charge_point_id is not None:
                self._visible(who, charge_point_id)
                found, after = self.sessions.page(charge_point_id, limit, cursor)
            else:
                views, after = self._charger_views(who, limit, cursor)
                found = [s for v in views for s in self.sessions.list(v.charge_point_id)]
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        periods: dict = {}  # a driver sees only sessions from while the charger was linked to them (issue 21)
        chosen = [s for s in found
                  if not (since and (s.stopped_at or now) < since) and not (until and s.started_at >= until)
                  and self._driver_may_see(who, s, periods)]
        stored = []
        if chosen:  # one read of the signals for the whole listing, not one per session
            windows = [self._signal_window(s, now) for s in chosen]
            stored = self.signals.rows(min(lo for lo, _ in windows), max(hi for _, hi in windows))
        rows = [self._session_json(s, stored=stored) for s in chosen]
        rows.sort(key=lambda r: r["started_at"])
        total = lambda k: round(sum(r[k] or 0 for r in rows), 4)  # noqa: E731
        return {"sessions": rows, "totals": {"sessions": len(rows), "energy_kwh": total("energy_kwh"),
                                             "cost_gbp": total("cost_gbp"), "co2_kg": total("co2_kg"),
                                             "savings_gbp": total("savings_gbp")},
                "next_cursor": after}

    def get_session(self, who: Principal, charge_point_id: str, transaction_id: int) -> dict:
        self._visible(who, charge_point_id)
        session = self.sessions.get(charge_point_id, transaction_id)
        if session is None or not self._driver_may_see(who, session, {}):
            raise NotFound(f"no session {transaction_id} on {charge_point_id}")
        return self._session_json(session, detail=True)

    # ------------------------------------------------------- preferences
    def get_preference(self, who: Principal, charge_point_id: str) -> dict:
        self._visible(who, charge_point_id)
        pref = self.chargers.preference(charge_point_id)
        return {"departure": _ts(pref.departure), "energy_kwh": pref.energy_kwh, "charge_now": pref.charge_now,
                "carbon_price_gbp_per_t": pref.carbon_price}

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
        held = self.commander.queue.outstanding(charge_point_id)
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
