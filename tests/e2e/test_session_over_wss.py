"""A standards-conformant OCPP 1.6J client (the ``ocpp`` package's ChargePoint) against the local
platform over wss: configuration after boot, a transaction steered by the smart-charging job,
the stored session's energy, and the questions asked after a reconnect without a BootNotification."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from csms_local.platform import LocalPlatform
from tests.e2e.helpers import open_charger

KEY = "0123456789abcdef0123"


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Client(ChargePoint):
    """Accepts what the platform asks and remembers every CALL it received, in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []
        self.config = {"ChargingScheduleAllowedChargingRateUnit": "Current,Power", "ChargeProfileMaxStackLevel": "5",
                       "ChargingScheduleMaxPeriods": "24", "MaxChargingProfilesInstalled": "4",
                       "NumberOfConnectors": "1"}

    @on(Action.change_configuration)
    def change_configuration(self, key, value, **_):
        self.received.append(("ChangeConfiguration", {"key": key, "value": value}))
        self.config[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.get_configuration)
    def get_configuration(self, key=None, **_):
        self.received.append(("GetConfiguration", {"key": key}))
        return call_result.GetConfiguration(configuration_key=[
            {"key": k, "readonly": True, "value": self.config[k]} for k in (key or self.config) if k in self.config])

    @on(Action.trigger_message)
    def trigger_message(self, requested_message, **_):
        self.received.append(("TriggerMessage", {"requestedMessage": requested_message}))
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.set_charging_profile)
    def set_charging_profile(self, connector_id, cs_charging_profiles, **_):
        self.received.append(("SetChargingProfile", {"connectorId": connector_id, "profile": cs_charging_profiles}))
        return call_result.SetChargingProfile(status="Accepted")

    async def until(self, predicate, timeout: float = 20.0):
        """Keep the conversation going (a Heartbeat a second, as a charger's traffic would) until
        ``predicate(received)`` holds."""
        async def wait():
            while not predicate(self.received):
                await self.call(call.Heartbeat())
                await asyncio.sleep(0.2)
        await asyncio.wait_for(wait(), timeout)


async def _platform(tmp_path, **kwargs) -> LocalPlatform:
    platform = LocalPlatform(state_dir=tmp_path / "state", port=0, **kwargs)
    await platform.start()
    platform.add_charger("CP001", KEY)
    return platform


def _actions(received):
    return [a for a, _ in received]


def test_full_session_configured_steered_and_stored(tmp_path):
    async def scenario():
        # The scheduled run is an hour away: the profile can only come from the re-plan on plug-in.
        platform = await _platform(tmp_path, smart_every_s=3600)
        try:
            async with open_charger(platform, "CP001", KEY) as ws:
                client = Client("CP001", ws)
                listener = asyncio.create_task(client.start())
                boot = await client.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="W22"))
                assert boot.status == "Accepted" and 0 < boot.interval < 600
                await client.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
                await client.until(lambda r: "GetConfiguration" in _actions(r))

                now = datetime.now(timezone.utc)
                platform.runtime.chargers.set_preference("CP001", now + timedelta(hours=6), 10.0)
                await client.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
                start = await client.call(call.StartTransaction(connector_id=1, id_tag="TAG1", meter_start=1000,
                                                                timestamp=iso(now)))
                tx = start.transaction_id
                await client.until(lambda r: any(a == "SetChargingProfile" for a, _ in r))
                await client.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
                phases = [{"value": v, "measurand": m, "unit": u, "phase": p} for p in ("L1", "L2", "L3")
                          for v, m, u in (("16", "Current.Import", "A"), ("230", "Voltage", "V"))]
                await client.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                    {"timestamp": iso(now + timedelta(minutes=20)), "sampledValue": [
                        {"value": "4.68", "measurand": "Energy.Active.Import.Register", "unit": "kWh"}, *phases]}]))
                await client.call(call.StopTransaction(meter_stop=8500, timestamp=iso(now + timedelta(minutes=41)),
                                                       transaction_id=tx, reason="EVDisconnected"))
                listener.cancel()
            rt = platform.runtime
            session = rt.sessions.get("CP001", tx)
            samples = rt.meter.for_transaction("CP001", 1, tx)
            plan = rt.sessions.plan_of("CP001", tx)
            return client.received, tx, session, samples, plan
        finally:
            await platform.stop()

    received, tx, session, samples, plan = asyncio.run(asyncio.wait_for(scenario(), 90))
    # Configured after the boot, one call at a time, in the documented order.
    # (StopTxnSampledData / StopTxnAlignedData keep StopTransaction under API Gateway's 32 KB frame: issue 15)
    assert received[:6] == [
        ("ChangeConfiguration", {"key": "MeterValuesSampledData", "value": "Energy.Active.Import.Register,Power.Active.Import"}),
        ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"}),
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}),
        ("ChangeConfiguration", {"key": "StopTxnSampledData", "value": "Energy.Active.Import.Register"}),
        ("ChangeConfiguration", {"key": "StopTxnAlignedData", "value": ""}),
        ("GetConfiguration", received[5][1]),
    ]
    # Steered: a TxProfile for this transaction (W is allowed, so in W), remembered as the plan.
    profile = next(p for a, p in received if a == "SetChargingProfile")["profile"]
    assert profile["charging_profile_purpose"] == "TxProfile" and profile["transaction_id"] == tx
    assert profile["charging_schedule"]["charging_rate_unit"] == "W"
    assert plan is not None
    # Stored: 7.5 kWh from the register, power from current x voltage over three phases.
    assert session.energy_wh == 7500 and not session.active
    assert [round(s.power_w) for s in samples if s.power_w is not None] == [3 * 16 * 230]
    assert any(s.energy_wh == 4680 for s in samples)


def test_reconnect_without_boot_of_a_configured_charger_is_asked_for_its_status_only(tmp_path):
    """Issue 15: a configured charger whose boot data are current is not asked for a BootNotification
    (and so not configured again) on every reconnect; statuses are not queued offline, so it is asked
    for those (OCPP 1.6 section 4.9)."""
    async def scenario():
        platform = await _platform(tmp_path, smart_every_s=None)
        try:
            async with open_charger(platform, "CP001", KEY) as ws:
                client = Client("CP001", ws)
                listener = asyncio.create_task(client.start())
                await client.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="W22"))
                await client.until(lambda r: "GetConfiguration" in _actions(r))
                listener.cancel()
            async with open_charger(platform, "CP001", KEY) as ws:  # back, without a BootNotification
                client = Client("CP001", ws)
                listener = asyncio.create_task(client.start())
                await client.until(lambda r: _actions(r).count("TriggerMessage") >= 1)
                await client.call(call.Heartbeat())  # one more exchange: nothing else is queued for it
                await asyncio.sleep(1)
                listener.cancel()
                return client.received
        finally:
            await platform.stop()

    received = asyncio.run(asyncio.wait_for(scenario(), 90))
    assert received == [("TriggerMessage", {"requestedMessage": "StatusNotification"})]


def test_a_preference_change_from_the_cli_re_plans_at_once(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def csms(*args):
        return subprocess.run([sys.executable, "-m", "csms_local.cli", *args], cwd=root, capture_output=True,
                              text=True, timeout=120)

    async def scenario():
        platform = await _platform(tmp_path, smart_every_s=3600)  # no scheduled run during the test
        try:
            async with open_charger(platform, "CP001", KEY) as ws:
                client = Client("CP001", ws)
                listener = asyncio.create_task(client.start())
                await client.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="W22"))
                now = datetime.now(timezone.utc)
                await client.call(call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=iso(now)))
                await client.until(lambda r: _actions(r).count("SetChargingProfile") >= 1)  # the plug-in re-plan
                # The driver now says: leaving in 40 minutes with 20 kWh needed -> charge flat out now
                result = await asyncio.to_thread(csms, "charger", "prefer", "CP001", "--departure",
                                                 iso(now + timedelta(minutes=40)), "--energy-kwh", "20",
                                                 "--state-dir", str(tmp_path / "state"))
                assert result.returncode == 0, result.stderr
                try:
                    await client.until(lambda r: _actions(r).count("SetChargingProfile") >= 2)
                except asyncio.TimeoutError:
                    raise AssertionError(f"no re-plan: {_actions(client.received)} "
                                         f"{platform.runtime.chargers.preference('CP001')}")
                listener.cancel()
                profiles = [p["profile"] for a, p in client.received if a == "SetChargingProfile"]
                return result, profiles
        finally:
            await platform.stop()

    result, profiles = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert result.returncode == 0, result.stderr
    latest = profiles[-1]["charging_schedule"]["charging_schedule_period"]
    assert latest[0]["start_period"] == 0 and latest[0]["limit"] >= 0.9 * 7400 - 1  # (planning share of) full power now
