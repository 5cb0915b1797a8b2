"""Wires the smart-charging scheduler (``csms.charging.scheduler``) to storage and the outbound call queue."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Callable

from csms.ocpp.commands import Commander
from csms.charging.scheduler import DEFAULT_MAX_POWER_W, Interval, PlugIn, SmartScheduler, periods
from csms.charging.signals import horizon
from csms.charging.tariff import Signals
from csms.timeutil import iso, utcnow

log = logging.getLogger(__name__)


class CommanderSink:
    """Sends a plan as a charging profile in the form the charger accepts; keeps what was sent."""

    def __init__(self, commander: Commander, sessions):
        self.commander, self.sessions = commander, sessions

    def send(self, plug: PlugIn, plan: list[Interval], now: datetime) -> bool:
        call = self.commander.set_limit(plug.charge_point_id, periods(plan, now), connector_id=plug.connector_id,
                                        transaction_id=plug.transaction_id, start=now)
        return call is not None

    def saved(self, plug: PlugIn, plan: list[Interval], digest: str) -> None:
        text = json.dumps([[iso(p.start), iso(p.end), round(p.power_w)] for p in plan])
        self.sessions.save_plan(plug.charge_point_id, plug.transaction_id, text, digest)


def plugged_in(runtime, default_max_power_w: float = DEFAULT_MAX_POWER_W, sessions=None) -> list[PlugIn]:
    """The active sessions given (default: every active session) with what each has drawn so far
    and its driver's preference (two reads per session)."""
    out = []
    for session in runtime.sessions.all_active() if sessions is None else sessions:
        latest = runtime.meter.latest(session.charge_point_id, session.connector_id)
        delivered = 0.0
        if latest is not None and latest.timestamp >= session.started_at and latest.energy_wh is not None:
            delivered = max(0.0, latest.energy_wh - session.meter_start_wh)
        preference = runtime.chargers.preference(session.charge_point_id)
        out.append(PlugIn(session.charge_point_id, session.connector_id, session.transaction_id, session.started_at,
                          delivered, default_max_power_w, preference, session.plan_hash))
    return out


EMPTY = Signals((), (), (), ())


def stored_signals(runtime, clock: Callable[[], datetime]) -> Callable[[], Signals]:
    """The next 48 hours of stored prices and carbon (what the refresh job fetched or an operator
    uploaded). Without any, plans charge at once (see ``csms.charging.scheduler.sort_and_fill``)."""
    def load() -> Signals:
        window = runtime.signals.window(*horizon(clock()))
        if window is None:
            log.warning("no stored price signals for the next 48 hours: vehicles charge unsteered")
        return window or EMPTY
    return load


def run_scheduler(runtime, signals: Callable[[], Signals] | None = None,
                  clock: Callable[[], datetime] = utcnow, *, charge_point_id: str | None = None, **options):
    """One scheduler run: stored signals and grid-demand events, the site cap and carbon price from
    the settings, unless given.

    Without ``charge_point_id``: every plugged-in vehicle (the periodic run). With it (a plug-in,
    unplug or preference change of that charger): when no shared limit binds (no site cap, no
    active grid-demand event), sort-and-fill per vehicle is exact and the others' plans cannot
    change, so only that charger's active sessions are planned: one Query on its partition, two
    reads per session, the events and signals reads, and the sends: a cost independent of the
    fleet's size. Under a shared limit its group is re-planned, which is the whole fleet while the
    site cap is one fleet-wide setting."""
    settings = runtime.settings
    options.setdefault("site_cap_kw", settings.site_cap_kw)
    options.setdefault("carbon_price", settings.carbon_price_gbp_per_t)
    active_events = options.pop("events", None)
    events = list(active_events()) if active_events is not None else list(runtime.events.active(clock()))
    options["events"] = lambda: events  # read once per run
    scheduler = SmartScheduler(signals or stored_signals(runtime, clock), CommanderSink(runtime.commander, runtime.sessions),
                               clock, **options)
    if charge_point_id == "*":  # a fleet-wide request (``csms.charging.ports.Replan``)
        charge_point_id = None
    alone = charge_point_id is not None and options["site_cap_kw"] is None and not events
    sessions = runtime.sessions.active(charge_point_id) if alone else None
    return scheduler.run(plugged_in(runtime, sessions=sessions))
