"""Sessions as operators and drivers read them: a page of sessions with totals, one session with
its timeline, plan and the prices it paid. Behind ``csms.operations.Operations``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Callable

from csms.access import Access, Invalid, NotFound, Principal, ts
from csms.charging.ports import SignalStore
from csms.charging.signals import to_signals
from csms.charging.tariff import SLOT
from csms.views.driver_links import visible_to
from csms.views.operations import MAX_PAGE, PAGE
from csms.views.ports import DriverLinks, MeterReader, SessionHistory
from csms.views.reports import session_report


class SessionOperations:
    """Seams: ``access``, the session history, meter samples, price / carbon rows, ``links`` (driver
    link periods; None: a driver sees every session of their chargers), ``clock`` (UTC)."""

    def __init__(self, access: Access, sessions: SessionHistory, meter: MeterReader, signals: SignalStore,
                 links: DriverLinks | None, clock: Callable[[], datetime]):
        self.access, self.sessions, self.meter, self.signals = access, sessions, meter, signals
        self.links, self.clock = links, clock

    def _driver_may_see(self, who: Principal, session, periods: dict) -> bool:
        """Operators see every session; a driver those started while the charger was theirs."""
        if who.operator or self.links is None:
            return True
        if session.charge_point_id not in periods:
            periods[session.charge_point_id] = self.links.periods(session.charge_point_id)
        return visible_to(who.subject, periods[session.charge_point_id], session.started_at)

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
            "started_at": ts(session.started_at), "stopped_at": ts(session.stopped_at),
            "stop_reason": session.stop_reason, "energy_kwh": report.energy_kwh, "cost_gbp": report.cost_gbp,
            "co2_kg": report.co2_kg, "unpriced_kwh": report.unpriced_kwh,
            "immediate_cost_gbp": report.immediate_cost_gbp, "savings_gbp": report.savings_gbp,
            "flags": list(session.flags),
        }
        if detail:
            out["timeline"] = [{"at": ts(p.at), "energy_wh": p.energy_wh, "power_w": p.power_w}
                               for p in report.timeline]
            plan = self.sessions.plan_of(session.charge_point_id, session.transaction_id)
            out["plan"] = json.loads(plan) if plan else None
            # The prices the session paid and, while it is plugged in, those its plan looks at
            upto = end + SLOT if not session.active else end + timedelta(hours=24)
            out["signals"] = [{"start": ts(r.start), "price_p_per_kwh": r.price_p_per_kwh,
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
                self.access.visible(who, charge_point_id)
                found, after = self.sessions.page(charge_point_id, limit, cursor)
            else:
                views, after = self.access.charger_views(who, limit, cursor)
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
        self.access.visible(who, charge_point_id)
        session = self.sessions.get(charge_point_id, transaction_id)
        if session is None or not self._driver_may_see(who, session, {}):
            raise NotFound(f"no session {transaction_id} on {charge_point_id}")
        return self._session_json(session, detail=True)
