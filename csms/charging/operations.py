"""Smart charging as drivers and operators steer it: a driver's preference, grid-demand (DNO)
events, the price and carbon signals ahead. Each change asks for a re-plan (``Replan``); the
scheduled run re-plans anyway when that request fails. Behind ``csms.operations.Operations``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from csms.access import Access, Invalid, NotFound, Principal, require_operator, ts
from csms.charging.ports import EventStore, Preferences, Replan, SignalStore
from csms.charging.tariff import SLOT, slot_start

MAX_ENERGY_KWH = 1000.0
MAX_CARBON_PRICE = 10_000.0  # GBP/t: far above any traded or social cost of carbon
MAX_EVENT = timedelta(days=7)


class ChargingOperations:
    """Seams: ``access``, ``preferences`` (the charger store's preference), signal and event stores,
    ``replan`` and ``clock`` (UTC)."""

    def __init__(self, access: Access, preferences: Preferences, signals: SignalStore, events: EventStore,
                 replan: Replan, clock: Callable[[], datetime]):
        self.access, self.preferences, self.signals, self.events = access, preferences, signals, events
        self.replan, self.clock = replan, clock

    def get_preference(self, who: Principal, charge_point_id: str) -> dict:
        self.access.visible(who, charge_point_id)
        pref = self.preferences.preference(charge_point_id)
        return {"departure": ts(pref.departure), "energy_kwh": pref.energy_kwh, "charge_now": pref.charge_now,
                "carbon_price_gbp_per_t": pref.carbon_price}

    def set_preference(self, who: Principal, charge_point_id: str, departure: datetime | None,
                       energy_kwh: float | None, charge_now: bool, carbon_price: float | None = None) -> dict:
        self.access.visible(who, charge_point_id)
        if energy_kwh is not None and not 0 < energy_kwh <= MAX_ENERGY_KWH:
            raise Invalid(f"energy_kwh must be in (0, {MAX_ENERGY_KWH:g}]")
        if carbon_price is not None and not 0 <= carbon_price <= MAX_CARBON_PRICE:
            raise Invalid(f"carbon_price_gbp_per_t must be in [0, {MAX_CARBON_PRICE:g}]")
        if departure is not None and departure <= self.clock():
            raise Invalid("departure must be in the future")
        self.preferences.set_preference(charge_point_id, departure, energy_kwh, charge_now, carbon_price)
        try:
            self.replan(charge_point_id)
            replan = "requested"
        except Exception:  # the scheduled run re-plans anyway
            replan = "at the next scheduled run"
        return {**self.get_preference(who, charge_point_id), "replan": replan}

    def list_events(self, who: Principal) -> list[dict]:
        return [{"id": event_id, "start": ts(e.start), "end": ts(e.end), "cap_kw": e.cap_kw, "cancelled": cancelled}
                for event_id, e, cancelled in self.events.listed(self.clock())]

    def create_event(self, who: Principal, start: datetime, end: datetime, cap_kw: float) -> dict:
        require_operator(who)
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
        return {"id": event_id, "start": ts(start), "end": ts(end), "cap_kw": cap_kw, "cancelled": False}

    def cancel_event(self, who: Principal, event_id: str) -> None:
        require_operator(who)
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
        return [{"start": ts(r.start), "price_p_per_kwh": r.price_p_per_kwh, "carbon_forecast": r.carbon_forecast,
                 "carbon_actual": r.carbon_actual} for r in rows]
