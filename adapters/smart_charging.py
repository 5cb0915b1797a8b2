"""Wires the smart-charging scheduler (``csms.charging.scheduler``) to storage and the outbound call queue."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Callable

from csms.ocpp.commands import Commander
from csms.charging.defaults import whole_w
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
                                        transaction_id=plug.transaction_id, start=now, capped=plug.capped)
        return call is not None

    def saved(self, plug: PlugIn, plan: list[Interval], digest: str) -> None:
        text = json.dumps([[iso(p.start), iso(p.end), whole_w(p.power_w)] for p in plan])
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
    """One scheduler run: stored signals and grid-demand events, the carbon price from the settings,
    unless given.

    With ``charge_point_id`` (a plug-in, unplug or preference change of that charger): that vehicle
    alone when no shared limit binds, else its site or event group (``adapters.site_replan``): a cost
    independent of the fleet's size. Without it (the periodic run): every site and event group on
    its own, every other vehicle alone. The whole fleet is one LP only under a fleet-wide limit: the
    ``SITE_CAP_KW`` setting or a fleet-wide grid-demand event."""
    from adapters import site_replan

    settings = runtime.settings
    options.setdefault("site_cap_kw", settings.site_cap_kw)
    options.setdefault("carbon_price", settings.carbon_price_gbp_per_t)
    given_events = options.pop("events", None)
    sink = CommanderSink(runtime.commander, runtime.sessions)
    load = signals or stored_signals(runtime, clock)
    signals_once: list[Signals] = []

    def read_signals() -> Signals:  # one read per run, however many groups it plans
        if not signals_once:
            signals_once.append(load())
        return signals_once[0]

    def scheduler(**overrides) -> SmartScheduler:
        return SmartScheduler(read_signals, sink, clock, **{**options, "site_cap_kw": None, "events": list, **overrides})

    max_kw = DEFAULT_MAX_POWER_W / 1000
    if charge_point_id == "*":  # a fleet-wide request (``csms.charging.ports.Replan``)
        charge_point_id = None
    if options["site_cap_kw"] is None and given_events is None:
        if charge_point_id is not None:
            report = site_replan.replan_group(runtime, charge_point_id, clock, scheduler,
                                              lambda sessions: plugged_in(runtime, sessions=sessions), max_kw)
        else:
            report = site_replan.plan_by_group(runtime, plugged_in(runtime), clock(), scheduler, max_kw)
        if report is not None:
            return report
    events = list(given_events()) if given_events is not None else list(runtime.events.active(clock()))
    fleet = SmartScheduler(read_signals, sink, clock, **{**options, "events": lambda: events})
    report = fleet.run(plugged_in(runtime))
    report.group = "fleet"
    return report
