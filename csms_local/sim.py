"""Simulated chargers: real OCPP 1.6J clients (the ``ocpp`` package over wss with Basic
auth), each with an EV that arrives, draws energy as the platform allows, and leaves.

The EV and charger physics (``EvCharger``) are plain code and tested alone; the
``SimChargePoint`` wires them to the websocket. Time runs on a ``SimClock`` so a
simulated day passes in minutes.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import connect

log = logging.getLogger(__name__)


class SimClock:
    """Simulated time: ``start`` plus real elapsed time x ``speed``."""

    def __init__(self, start: datetime, speed: float):
        self.start, self.speed = start, speed
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def restart(self, start: datetime) -> None:
        """Run on from ``start`` (e.g. real now, once a platform sharing this clock has started)."""
        self.start, self._t0 = start, time.monotonic()

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(max(0.0, sim_seconds / self.speed))

    async def sleep_until(self, at: datetime) -> None:
        await self.sleep((at - self.now()).total_seconds())


def iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class EvVisit:
    session_id: str
    arrive: datetime
    depart: datetime
    energy_wh: float  # what the EV wants


@dataclass
class EvCharger:
    """One connector, one EV at a time. Power = min(EV max, profile limit), until full."""

    max_power_w: float
    phases: int = 3
    voltage_v: float = 230.0
    register_wh: float = 0.0
    visit: EvVisit | None = None
    drawn_wh: float = 0.0
    limits: dict = field(default_factory=dict)  # purpose -> (start, periods [(offset_s, limit W)], duration s or None)

    def set_profile(self, purpose: str, start: datetime, periods_w: list[tuple[int, float]],
                    duration_s: float | None = None) -> None:
        """A schedule from ``start``; past its ``duration`` (OCPP 1.6 ChargingSchedule.duration) it no
        longer limits."""
        self.limits[purpose] = (start, sorted(periods_w), duration_s)

    def clear_profiles(self) -> None:
        self.limits.clear()

    def limit_w(self, at: datetime) -> float:
        def current(purpose):
            if purpose not in self.limits:
                return None
            start, periods, duration = self.limits[purpose]
            offset = (at - start).total_seconds()
            if duration is not None and offset >= duration:
                return None
            value = None
            for begin, limit in periods:
                if begin <= offset:
                    value = limit
            return value

        tx = current("TxProfile") if self.visit else None
        default = current("TxDefaultProfile")
        charger_max = current("ChargePointMaxProfile")
        chosen = tx if tx is not None else default
        limits = [v for v in (chosen, charger_max) if v is not None]
        return min(limits) if limits else self.max_power_w

    def power_w(self, at: datetime) -> float:
        if self.visit is None or self.drawn_wh >= self.visit.energy_wh:
            return 0.0
        return max(0.0, min(self.max_power_w, self.limit_w(at)))

    def advance(self, at: datetime, seconds: float) -> float:
        """Draw energy for ``seconds`` at the power allowed at ``at``; returns the power."""
        power = self.power_w(at)
        energy = min(power * seconds / 3600, (self.visit.energy_wh - self.drawn_wh) if self.visit else 0.0)
        self.drawn_wh += energy
        self.register_wh += energy
        return power

    def status(self, at: datetime) -> str:
        if self.visit is None:
            return "Available"
        if self.drawn_wh >= self.visit.energy_wh:
            return "SuspendedEV"
        return "Charging" if self.power_w(at) > 0 else "SuspendedEVSE"


def _periods_w(schedule: dict, phases: int, voltage: float) -> list[tuple[int, float]]:
    unit = schedule.get("charging_rate_unit") or schedule.get("chargingRateUnit")
    out = []
    for period in schedule.get("charging_schedule_period") or schedule.get("chargingSchedulePeriod") or []:
        limit = float(period["limit"])
        n = period.get("number_phases") or period.get("numberPhases") or phases
        out.append((int(period.get("start_period", period.get("startPeriod", 0))),
                    limit * voltage * n if unit == "A" else limit))
    return out


class SimChargePoint(ChargePoint):
    """The OCPP side of a simulated charger."""

    def __init__(self, charge_point_id, connection, model: EvCharger, clock: SimClock, rate_unit: str, *,
                 ignore_profiles: bool = False, current_only: bool = False):
        super().__init__(charge_point_id, connection, response_timeout=60)
        self.model, self.clock = model, clock
        # Misbehaviours seen in chargers being onboarded (issue 18): a profile Accepted and then not
        # applied; MeterValues with Current.Import only (no Voltage, no power) whatever was configured.
        self.ignore_profiles, self.current_only = ignore_profiles, current_only
        self.config = {"MeterValueSampleInterval": "300", "HeartbeatInterval": "300",
                       "MeterValuesSampledData": "Energy.Active.Import.Register",
                       "ChargingScheduleAllowedChargingRateUnit": rate_unit, "ChargeProfileMaxStackLevel": "3",
                       "ChargingScheduleMaxPeriods": "48", "MaxChargingProfilesInstalled": "3",
                       "NumberOfConnectors": "1"}
        self.triggered: list[str] = []
        self.transaction_id: int | None = None
        self.profiles_received = 0

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value, **_):
        if key in ("ChargingScheduleAllowedChargingRateUnit", "NumberOfConnectors"):
            return call_result.ChangeConfiguration(status="Rejected")  # read-only
        self.config[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.get_configuration)
    def on_get_configuration(self, key=None, **_):
        keys = key or list(self.config)
        known = [{"key": k, "readonly": k in ("ChargingScheduleAllowedChargingRateUnit", "NumberOfConnectors"),
                  "value": self.config[k]} for k in keys if k in self.config]
        unknown = [k for k in keys if k not in self.config]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message, **_):
        self.triggered.append(requested_message)
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message, **_):
        if requested_message == "BootNotification":
            await self.boot()
        elif requested_message == "StatusNotification":
            await self.status(self.model.status(self.clock.now()))

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id, cs_charging_profiles, **_):
        profile = cs_charging_profiles
        purpose = profile["charging_profile_purpose"]
        schedule = profile["charging_schedule"]
        start = schedule.get("start_schedule")
        start_at = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else self.clock.now()
        self.profiles_received += 1
        if self.ignore_profiles:
            return call_result.SetChargingProfile(status="Accepted")  # ... and nothing changes
        self.model.set_profile(purpose, start_at, _periods_w(schedule, self.model.phases, self.model.voltage_v),
                               schedule.get("duration"))
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **_):
        self.model.clear_profiles()
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id, **_):
        return call_result.RemoteStopTransaction(status="Rejected")

    @on(Action.reset)
    def on_reset(self, type, **_):  # noqa: A002
        return call_result.Reset(status="Rejected")

    boot_info = ("CSMS-Sim", "EV-Sim-1", "1.0.0")  # vendor, model, firmware version

    async def boot(self):
        vendor, model, firmware = self.boot_info
        return await self.call(call.BootNotification(charge_point_vendor=vendor, charge_point_model=model,
                                                     firmware_version=firmware))

    async def status(self, status: str):
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status=status,
                                                timestamp=iso(self.clock.now())))

    async def meter(self, power_w: float):
        register = {"value": f"{self.model.register_wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh",
                    "context": "Sample.Periodic"}
        if self.current_only:
            amps = power_w / (self.model.voltage_v * self.model.phases)
            power = [{"value": f"{amps:.1f}", "measurand": "Current.Import", "unit": "A", "phase": phase,
                      "context": "Sample.Periodic"} for phase in ("L1", "L2", "L3")[:self.model.phases]]
        else:
            power = [{"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W",
                      "context": "Sample.Periodic"}]
        await self.call(call.MeterValues(connector_id=1, transaction_id=self.transaction_id, meter_value=[{
            "timestamp": iso(self.clock.now()), "sampledValue": [register, *power]}]))


@dataclass
class SimResult:
    charge_point_id: str
    drawn_wh: dict[str, float] = field(default_factory=dict)  # per visit, the EV's own count
    transaction_ids: dict[str, int] = field(default_factory=dict)
    profiles_received: int = 0
    # The EV's own draw: (simulated time, W) at every change, the power it draws from then on (what the
    # site's connection sees, as against the meter readings the charger sends every sample interval)
    draw: list[tuple[datetime, float]] = field(default_factory=list)


async def run_charger(url: str, ssl, charge_point_id: str, key: str, visits: list[EvVisit], clock: SimClock,
                      end: datetime, *, max_power_w: float, rate_unit: str = "Power", phases: int = 3,
                      tick_s: float = 60.0, min_sample_interval_s: float = 300.0, ignore_profiles: bool = False,
                      current_only: bool = False, vendor: str = "CSMS-Sim", model_name: str = "EV-Sim-1",
                      firmware: str = "1.0.0", on_ready=None) -> SimResult:
    """Run one simulated charger until ``end`` (simulated time). ``min_sample_interval_s``: it samples
    no more often than this whatever MeterValueSampleInterval says; ``ignore_profiles``: accepts
    charging profiles and ignores them; ``current_only``: reports Current.Import without Voltage or
    power; ``on_ready(cp)`` is called once booted (tests reach the ``SimChargePoint``)."""
    auth = "Basic " + base64.b64encode(f"{charge_point_id}:{key}".encode()).decode()
    model = EvCharger(max_power_w=max_power_w, phases=phases, register_wh=1_000_000.0)
    result = SimResult(charge_point_id)
    async with connect(f"{url}/{charge_point_id}", ssl=ssl, subprotocols=["ocpp1.6"],
                       additional_headers={"Authorization": auth}, open_timeout=30) as ws:
        cp = SimChargePoint(charge_point_id, ws, model, clock, rate_unit, ignore_profiles=ignore_profiles,
                            current_only=current_only)
        cp.boot_info = (vendor, model_name, firmware)
        listener = asyncio.create_task(cp.start())
        try:
            await cp.boot()
            await cp.status("Available")
            if on_ready is not None:
                on_ready(cp)
            pending = sorted(visits, key=lambda v: v.arrive)
            # the first sample goes out at plug-in, the next ones at the interval
            last_status, last_sample = "Available", clock.now() - timedelta(days=1)
            last_tick = clock.now()
            while clock.now() < end:
                now = clock.now()
                # The EV draws for the simulated time that really passed (a busy machine stretches ticks).
                previous, last_tick = last_tick, now
                if model.visit is None and pending and pending[0].arrive <= now:
                    model.visit, model.drawn_wh = pending.pop(0), 0.0
                    previous = now  # draws from plug-in on
                    await cp.status("Preparing")
                    answer = await cp.call(call.StartTransaction(connector_id=1, id_tag=charge_point_id[-20:],
                                                                 meter_start=round(model.register_wh), timestamp=iso(now)))
                    cp.transaction_id = answer.transaction_id
                    result.transaction_ids[model.visit.session_id] = answer.transaction_id
                    last_status = "Preparing"
                if model.visit is not None and model.visit.depart <= now:
                    visit = model.visit
                    await cp.meter(0.0)
                    await cp.call(call.StopTransaction(meter_stop=round(model.register_wh), timestamp=iso(now),
                                                       transaction_id=cp.transaction_id, reason="EVDisconnected"))
                    result.drawn_wh[visit.session_id] = model.drawn_wh
                    model.visit, cp.transaction_id = None, None
                    model.limits.pop("TxProfile", None)
                    await cp.status("Available")
                    last_status = "Available"
                if model.visit is not None:
                    model.advance(previous, (now - previous).total_seconds())
                power = model.power_w(now)
                if not result.draw or result.draw[-1][1] != power:
                    result.draw.append((now, power))
                status = model.status(now)
                if status != last_status:
                    await cp.status(status)
                    last_status = status
                interval = max(min_sample_interval_s, float(cp.config.get("MeterValueSampleInterval") or 300))
                if model.visit is not None and (now - last_sample).total_seconds() >= interval:
                    await cp.meter(power)
                    last_sample = now
                await clock.sleep(tick_s)
            if model.visit is not None:  # still plugged in at the end of the simulated day
                result.drawn_wh[model.visit.session_id] = model.drawn_wh
                await cp.call(call.StopTransaction(meter_stop=round(model.register_wh), timestamp=iso(clock.now()),
                                                   transaction_id=cp.transaction_id, reason="Local"))
            result.profiles_received = cp.profiles_received
        finally:
            listener.cancel()
    return result
