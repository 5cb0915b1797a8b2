"""Issue 14, at the level a charger sees: the ten real-charger failures replayed frame by frame over
wss against one running local platform (shared by the module: seconds per test), the frames the
platform sends back, and what the HTTP API then shows. Ids and serials are made up; each test names
the behaviour in docs/interop.md."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from csms_local.http_api import operator_token
from csms_local.platform import LocalPlatform
from csms_local.tls import client_context

ROOT = Path(__file__).resolve().parents[2]
KEY = "00112233445566778899aabbccddeeff00112233"  # 40 hex characters: the 20-byte form is bytes.fromhex(KEY)
_ids = itertools.count(1)


# ------------------------------------------------------------------ the shared platform
@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """One platform for the module, its event loop in a thread; the scheduler runs on plug-in / unplug
    (as the async invoke does in AWS), its timer is an hour away."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="platform-loop", daemon=True)
    thread.start()
    local = LocalPlatform(state_dir=tmp_path_factory.mktemp("i14") / "state", port=0, smart_every_s=3600)
    asyncio.run_coroutine_threadsafe(local.start(), loop).result(120)
    try:
        yield local
    finally:
        asyncio.run_coroutine_threadsafe(local.stop(), loop).result(120)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def run(coro, timeout: float = 90):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(timezone.utc)


def basic(user: str, password: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user.encode() + b":" + password).decode()}


def api(platform, method: str, path: str, body=None) -> tuple[int, object]:
    """The HTTP API as the local operator (a bearer token, over HTTPS)."""
    request = urllib.request.Request(
        platform.api_url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + operator_token(platform.state_dir), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(platform.ca_path)),
                                    timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Error:
    """A CALLERROR answer to a platform call."""

    def __init__(self, code: str):
        self.code = code


DEFAULT_CONFIG = {"ChargingScheduleAllowedChargingRateUnit": "Current", "ChargeProfileMaxStackLevel": "0",
                  "ChargingScheduleMaxPeriods": "24", "NumberOfConnectors": "1"}


class Charger:
    """A raw OCPP-J charger: sends frames as written, answers the platform's CALLs with ``answers``
    (action -> payload, Error or callable) and records every CALL it received."""

    def __init__(self, ws, answers: dict | None = None):
        self.ws = ws
        self.answers = answers or {}
        self.received: list[tuple[str, dict]] = []

    def actions(self) -> list[str]:
        return [a for a, _ in self.received]

    async def _answer(self, message: list) -> None:
        _, unique_id, action, payload = message
        self.received.append((action, payload))
        default = {"ChangeConfiguration": {"status": "Accepted"}, "TriggerMessage": {"status": "Accepted"},
                   "SetChargingProfile": {"status": "Accepted"},
                   "GetConfiguration": {"configurationKey": [{"key": k, "readonly": True, "value": v}
                                                             for k, v in DEFAULT_CONFIG.items()]}}
        answer = self.answers.get(action, default.get(action, {}))
        if callable(answer):
            answer = answer(payload)
        frame = [4, unique_id, answer.code, "", {}] if isinstance(answer, Error) else [3, unique_id, answer]
        await self.ws.send(json.dumps(frame))

    async def reply_to(self, unique_id: str, timeout: float = 30) -> list:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message[0] == 2:
                await self._answer(message)
            elif message[1] == unique_id:
                return message

    async def send(self, frame: str | bytes, unique_id: str) -> list:
        await self.ws.send(frame)
        return await self.reply_to(unique_id)

    async def call(self, action: str, payload: dict) -> list:
        unique_id = f"{action[:6]}-{next(_ids)}"
        return await self.send(json.dumps([2, unique_id, action, payload]), unique_id)

    async def result(self, action: str, payload: dict) -> dict:
        reply = await self.call(action, payload)
        assert reply[0] == 3, reply
        return reply[2]

    async def until(self, predicate, timeout: float = 30) -> None:
        """Heartbeats (a charger's own traffic) until ``predicate(received)`` holds."""
        async def wait():
            while not predicate(self.received):
                await self.call("Heartbeat", {})
                await asyncio.sleep(0.2)
        try:
            await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"not seen in {timeout} s; received {self.actions()}") from None


def open_ws(platform, charge_point_id: str, password: bytes | str = KEY, subprotocols=("ocpp1.6",)):
    secret = password.encode() if isinstance(password, str) else password
    return connect(f"{platform.url}/{quote(charge_point_id, safe='')}", ssl=client_context(platform.ca_path),
                   subprotocols=list(subprotocols) or None, additional_headers=basic(charge_point_id, secret),
                   max_size=2**20, open_timeout=30)


def register(platform, charge_point_id: str, key: str = KEY) -> None:
    platform.add_charger(charge_point_id, key)


async def boot(charger: Charger, firmware: str | None = None, **extra) -> dict:
    payload = {"chargePointVendor": "Acme", "chargePointModel": "W22", **extra}
    if firmware:
        payload["firmwareVersion"] = firmware
    return await charger.result("BootNotification", payload)


def status(connector: int, value: str, at: datetime | None = None) -> dict:
    payload = {"connectorId": connector, "errorCode": "NoError", "status": value}
    if at is not None:
        payload["timestamp"] = iso(at)
    return payload


def register_wh(at: datetime, wh: float, power_w: float | None = None) -> dict:
    values = [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
    if power_w is not None:
        values.append({"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"})
    return {"timestamp": iso(at), "sampledValue": values}


def review(platform, charge_point_id: str) -> list[dict]:
    code, items = api(platform, "GET", f"/v1/chargers/{quote(charge_point_id, safe='')}/review")
    assert code == 200, items
    return items


# ------------------------------------------------------------------ 1. status from the future
def test_status_stamped_in_the_future_does_not_pin_the_connector(platform):
    """Issue 14 #1: a clock 2 h ahead until its Boot answer; the later, real-time statuses win."""
    register(platform, "FUT-1")

    async def scenario():
        async with open_ws(platform, "FUT-1") as ws:
            charger = Charger(ws)
            t0 = now()
            ahead = await charger.call("StatusNotification", status(1, "Available", t0 + timedelta(hours=2)))
            await boot(charger)
            await charger.result("StatusNotification", status(1, "Preparing", now()))
            start = await charger.result("StartTransaction", {"connectorId": 1, "idTag": "T1", "meterStart": 0,
                                                              "timestamp": iso(now())})
            await charger.result("StatusNotification", status(1, "Charging", now()))
            during = await asyncio.to_thread(api, platform, "GET", "/v1/chargers/FUT-1")
            await charger.result("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 500,
                                                     "timestamp": iso(now())})
            await charger.result("StatusNotification", status(1, "Finishing", now()))
            await charger.result("StatusNotification", status(1, "Available", now()))
            return ahead, during

    ahead, (code, during) = run(scenario())
    assert ahead[0] == 3  # acknowledged
    assert code == 200 and during["connectors"][0]["status"] == "Charging"
    assert during["connectors"][0]["state"] == "charging"
    kept = [i for i in review(platform, "FUT-1") if i["kind"] == "clock_ahead"]
    assert len(kept) == 1 and kept[0]["message_id"] == ahead[1] and kept[0]["action"] == "StatusNotification"


# ------------------------------------------------------------------ 2. too-long descriptive strings
def test_too_long_serial_in_boot_is_accepted_stored_truncated_and_configured(platform):
    """Issue 14 #2 (Schneider EVlink: a 33-character chargeBoxSerialNumber; lbbrhzn/ocpp#1622)."""
    register(platform, "LONG-1")
    serial = "EVB1A22P2KI3N1234567890123456789A"  # 33 characters, schema max 25

    async def scenario():
        async with open_ws(platform, "LONG-1") as ws:
            charger = Charger(ws)
            reply = await charger.call("BootNotification", {"chargePointVendor": "Schneider Electric",
                                                            "chargePointModel": "EVlink Smart Wallbox",
                                                            "chargeBoxSerialNumber": serial,
                                                            "firmwareVersion": "3.4.0.9"})
            await charger.result("StatusNotification", status(1, "Available"))
            await charger.until(lambda r: "GetConfiguration" in [a for a, _ in r])
            return reply, charger.actions()

    reply, actions = run(scenario())
    assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    # registered and configured: the set-up's ChangeConfigurations, then its GetConfiguration
    from csms.ocpp.setup_policy import _setup_list

    setup = [action for action, _ in _setup_list(platform.runtime.commander)]
    assert actions[:len(setup)] == setup
    boot_info = platform.runtime.chargers.get("LONG-1").boot
    assert boot_info.charge_box_serial_number == serial[:25] and boot_info.firmware_version == "3.4.0.9"
    code, shown = api(platform, "GET", "/v1/chargers/LONG-1")
    assert code == 200 and shown["vendor"] == "Schneider Electric"
    kept = [i for i in review(platform, "LONG-1") if i["kind"] == "read_around"]
    assert len(kept) == 1 and kept[0]["message_id"] == reply[1] and serial in kept[0]["raw"]
    assert "chargeBoxSerialNumber: 33 characters" in kept[0]["detail"]


# ------------------------------------------------------------------ 3. percent-encoded ids
def test_percent_encoded_charger_id_works_in_the_api_and_the_cli(platform):
    """Issue 14 #3: ``ZONE|7 B`` connects at /ocpp/ZONE%7C7%20B and is found at /v1/chargers/ZONE%7C7%20B."""
    cp = "ZONE|7 B"
    register(platform, cp)

    async def scenario():
        async with open_ws(platform, cp) as ws:
            charger = Charger(ws)
            await boot(charger)
            start = await charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                              "timestamp": iso(now())})
            await charger.result("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 1000,
                                                     "timestamp": iso(now())})

    run(scenario())
    path = "/v1/chargers/ZONE%7C7%20B"
    code, shown = api(platform, "GET", path)
    assert code == 200 and shown["id"] == cp
    code, sessions = api(platform, "GET", path + "/sessions")
    assert code == 200 and [s["charger"] for s in sessions["sessions"]] == [cp]
    code, pref = api(platform, "PUT", path + "/preference", {"energy_kwh": 12.5})
    assert code == 200 and pref["energy_kwh"] == 12.5
    assert api(platform, "GET", path + "/preference")[1]["energy_kwh"] == 12.5
    token = operator_token(platform.state_dir)
    outputs = {}
    for args in (("sessions", "--charger", cp), ("charger", "prefer", cp, "--energy-kwh", "20"),
                 ("charger", "handshake", cp, "legacy"), ("charger", "review", cp, "--json")):
        result = subprocess.run([sys.executable, "-m", "csms_local.cli", *args, "--api", platform.api_url,
                                 f"--token={token}", "--state-dir", str(platform.state_dir)],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (args, result.stderr)
        outputs[args[:2]] = result.stdout
    assert api(platform, "GET", path + "/preference")[1]["energy_kwh"] == 20
    assert platform.runtime.chargers.get_auth(cp).legacy_handshake is True
    assert json.loads(outputs[("charger", "review")]) == []  # nothing of this charger needed reading around


# ------------------------------------------------------------------ 4. AuthorizationKey byte form
def test_authorization_key_in_its_byte_form_is_admitted_registered_and_rotated(platform):
    """Issue 14 #4: OCPP-J 1.6 security profile 2, the key as 20 bytes in the Basic password."""
    register(platform, "KEY-B")

    async def scenario():
        async with open_ws(platform, "KEY-B", bytes.fromhex(KEY)) as ws:
            charger = Charger(ws)
            assert (await boot(charger))["status"] == "Accepted"
            code, rotated = await asyncio.to_thread(api, platform, "POST", "/v1/chargers/KEY-B/rotate-key")
            assert code == 200, rotated
            await charger.until(lambda r: ("ChangeConfiguration", {"key": "AuthorizationKey",
                                                                   "value": rotated["authorization_key"]}) in r)
            await charger.result("Heartbeat", {})  # frames are handled in order: the answer is in
        new_key = rotated["authorization_key"]
        async with open_ws(platform, "KEY-B", bytes.fromhex(new_key)) as ws:  # the new key, byte form
            charger = Charger(ws)
            assert (await charger.result("Heartbeat", {}))["currentTime"]
        async with open_ws(platform, "KEY-B", new_key.upper()) as ws:  # and its hex text, upper case
            assert (await Charger(ws).result("Heartbeat", {}))["currentTime"]
        refused = []
        for password in (bytes.fromhex(KEY), KEY.encode()):  # the old key, either form
            try:
                async with open_ws(platform, "KEY-B", password):
                    pass
            except InvalidStatus as exc:
                refused.append(exc.response.status_code)
        return refused

    assert run(scenario()) == [401, 401]


# ------------------------------------------------------------------ 5. superseded transaction
def test_second_start_on_a_busy_connector_closes_the_first_with_its_energy(platform):
    """Issue 14 #5: Start A, MeterValues, Start B (no Stop A), Stop B, Available."""
    register(platform, "TWICE-1")

    async def scenario():
        async with open_ws(platform, "TWICE-1") as ws:
            charger = Charger(ws)
            await boot(charger)
            t0 = now() - timedelta(minutes=30)
            a = (await charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 1000,
                                                           "timestamp": iso(t0)}))["transactionId"]
            await charger.result("MeterValues", {"connectorId": 1, "transactionId": a,
                                                 "meterValue": [register_wh(t0 + timedelta(minutes=20), 3400, 7200)]})
            b = (await charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 3500,
                                                           "timestamp": iso(t0 + timedelta(minutes=25))}))["transactionId"]
            await charger.result("StopTransaction", {"transactionId": b, "meterStop": 3600,
                                                     "timestamp": iso(t0 + timedelta(minutes=29))})
            await charger.result("StatusNotification", status(1, "Available"))
            return a, b, t0

    a, b, t0 = run(scenario())
    code, listing = api(platform, "GET", "/v1/chargers/TWICE-1/sessions")
    first = next(s for s in listing["sessions"] if s["transaction_id"] == a)
    assert first["active"] is False and first["stopped_at"].startswith(iso(t0 + timedelta(minutes=25))[:19])
    assert f"superseded_by_transaction_{b}" in first["flags"] and first["energy_kwh"] == pytest.approx(2.4)
    assert all(s.transaction_id != a for s in platform.runtime.sessions.all_active())  # never planned again
    kept = [i for i in review(platform, "TWICE-1") if i["kind"] == "superseded_transaction"]
    assert len(kept) == 1 and kept[0]["transaction_id"] == a and kept[0]["message_id"]


# ------------------------------------------------------------------ 6. a number in GetConfiguration
def test_number_in_get_configuration_does_not_lose_the_answer_and_the_unit_is_learnt(platform):
    """Issue 14 #6: ``{"key": "ChargeProfileMaxStackLevel", "value": 3}`` beside a W-only unit."""
    register(platform, "NUM-1")
    answer = {"configurationKey": [{"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": 3},
                                   {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True,
                                    "value": "Power"}],
              "unknownKey": ["ChargingScheduleMaxPeriods"]}

    async def scenario():
        async with open_ws(platform, "NUM-1") as ws:
            charger = Charger(ws, {"GetConfiguration": answer})
            await boot(charger)
            await charger.result("StatusNotification", status(1, "Available"))
            await charger.until(lambda r: "GetConfiguration" in [a for a, _ in r])
            await charger.result("Heartbeat", {})  # the answer has been handled
            code, shown = await asyncio.to_thread(api, platform, "GET", "/v1/chargers/NUM-1")
            start = await charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                              "timestamp": iso(now())})
            await charger.until(lambda r: "SetChargingProfile" in [a for a, _ in r])
            await charger.result("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 10,
                                                     "timestamp": iso(now())})
            return shown, [p for a, p in charger.received if a == "SetChargingProfile"]

    shown, profiles = run(scenario())
    caps = shown["capabilities"]
    assert caps["ChargingScheduleAllowedChargingRateUnit"] == "Power" and caps["ChargeProfileMaxStackLevel"] == "3"
    profile = profiles[0]["csChargingProfiles"]
    assert profile["chargingSchedule"]["chargingRateUnit"] == "W" and profile["stackLevel"] == 3
    assert profile["chargingProfilePurpose"] == "TxProfile"
    kept = [i for i in review(platform, "NUM-1") if i["kind"] == "answer_read_around"]
    assert kept and kept[0]["action"] == "GetConfiguration" and '"value":3' in kept[0]["raw"]


# ------------------------------------------------------------------ 7. TriggerMessage not implemented
def test_trigger_message_not_implemented_gets_the_set_up_directly(platform):
    """Issue 14 #7: a boot-less reconnect of a charger without Remote Trigger."""
    register(platform, "NOTRIG-1")

    async def scenario():
        async with open_ws(platform, "NOTRIG-1") as ws:
            charger = Charger(ws, {"TriggerMessage": {"status": "NotImplemented"}})
            await charger.result("StatusNotification", status(1, "Available"))  # no BootNotification
            await charger.until(lambda r: "GetConfiguration" in [a for a, _ in r])
            return charger.received

    received = run(scenario())
    assert [a for a, _ in received][:2] == ["TriggerMessage", "TriggerMessage"]
    assert ("ChangeConfiguration", {"key": "MeterValuesSampledData",
                                    "value": "Energy.Active.Import.Register,Power.Active.Import"}) in received
    assert ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"}) in received


# ------------------------------------------------------------------ 8. refusals re-probed after new firmware
def test_profile_refusals_are_re_probed_after_a_firmware_change(platform):
    """Issue 14 #8: every purpose answered CALLERROR NotImplemented; a reboot with a new firmwareVersion;
    the next session is steered again."""
    register(platform, "FW-1")

    async def session(charger: Charger, wait_for: int) -> None:
        start = await charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                          "timestamp": iso(now())})
        await charger.until(lambda r: [a for a, _ in r].count("SetChargingProfile") >= wait_for)
        await charger.result("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 10,
                                                 "timestamp": iso(now())})

    async def scenario():
        async with open_ws(platform, "FW-1") as ws:
            old = Charger(ws, {"SetChargingProfile": Error("NotImplemented")})
            await boot(old, firmware="1.0.0")
            await session(old, 3)  # TxProfile, TxDefaultProfile, ChargePointMaxProfile: all refused
            await old.result("Heartbeat", {})
        caps_before = platform.runtime.chargers.capabilities("FW-1")
        async with open_ws(platform, "FW-1") as ws:  # rebooted with new firmware
            new = Charger(ws)
            await boot(new, firmware="2.0.0")
            await session(new, 1)
        return old.received, new.received, caps_before

    old, new, caps = run(scenario(), 120)
    assert [p["csChargingProfiles"]["chargingProfilePurpose"] for a, p in old if a == "SetChargingProfile"] == [
        "TxProfile", "TxDefaultProfile", "ChargePointMaxProfile"]
    assert caps["profile.TxProfile"] == "Rejected" and caps["profile.TxProfile.at"]  # evidence with a date
    steered = [p for a, p in new if a == "SetChargingProfile"]
    assert steered and steered[0]["csChargingProfiles"]["chargingProfilePurpose"] == "TxProfile"
    code, shown = api(platform, "GET", "/v1/chargers/FW-1")
    assert shown["capabilities"]["firmware.seen"] == "2.0.0" and shown["capabilities"]["firmware.changed_at"]
    assert shown["capabilities"]["profile.TxProfile"] == "Accepted"


# ------------------------------------------------------------------ 9. limits below the EV minimum
@pytest.mark.parametrize("unit, minimum", [("Power", 4140.0), ("Current", 6.0)])
def test_no_positive_limit_below_what_an_ev_can_take_in_either_unit(platform, unit, minimum):
    """Issue 14 #9: a plan whose first period is 75 W goes out as 0 or the EV minimum, in W and in A."""
    cp = f"MIN-{unit}"
    register(platform, cp)
    answer = {"configurationKey": [{"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True,
                                    "value": unit}]}

    async def scenario():
        async with open_ws(platform, cp) as ws:
            charger = Charger(ws, {"GetConfiguration": answer})
            await boot(charger)
            await charger.result("StatusNotification", status(1, "Available"))
            await charger.until(lambda r: "GetConfiguration" in [a for a, _ in r])
            await charger.result("Heartbeat", {})
            plan = [(0, 75.0), (1800, 7400.0), (3600, 728.0), (5400, 3000.0), (7200, 56.0)]
            await asyncio.to_thread(platform.runtime.commander.set_limit, cp, plan, connector_id=1)
            await charger.until(lambda r: "SetChargingProfile" in [a for a, _ in r])
            return [p for a, p in charger.received if a == "SetChargingProfile"][0]

    profile = run(scenario())
    periods = profile["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
    limits = {p["startPeriod"]: p["limit"] for p in periods}
    assert all(limit == 0 or limit >= minimum for limit in limits.values()), periods
    assert limits[0] == 0  # 75 W for half an hour: 0 is closer to the plan's 37.5 Wh than the minimum
    assert limits[1800] > minimum  # full power passes unchanged
    assert limits[max(limits)] >= minimum  # the open-ended last period wants energy: the minimum


# ------------------------------------------------------------------ 10a. lenient parsing
def test_raw_control_characters_and_latin1_frames_are_read_and_kept(platform):
    """Issue 14 #10a: a NUL inside vendorErrorCode, a raw newline in a meter value, a Latin-1 frame."""
    register(platform, "CTRL-1")

    async def scenario():
        async with open_ws(platform, "CTRL-1") as ws:
            charger = Charger(ws)
            await boot(charger)
            t = now()
            nul = ('[2,"nul-1","StatusNotification",{"connectorId":1,"errorCode":"OtherError","status":"Faulted",'
                   '"vendorErrorCode":"E\x0042","timestamp":"' + iso(t) + '"}]')
            status_reply = await charger.send(nul, "nul-1")
            tx = (await charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                            "timestamp": iso(t)}))["transactionId"]
            meter = ('[2,"lf-1","MeterValues",{"connectorId":1,"transactionId":' + str(tx) + ',"meterValue":[{"timestamp":"'
                     + iso(t + timedelta(minutes=1)) + '","sampledValue":[{"value":"1234\n","measurand":'
                     '"Energy.Active.Import.Register"}]}]}]')
            meter_reply = await charger.send(meter, "lf-1")
            latin = '[2,"lat-1","DataTransfer",{"vendorId":"Soci\u00e9t\u00e9","data":"caf\u00e9"}]'.encode("latin-1")
            latin_reply = await charger.send(latin, "lat-1")
            await charger.result("StopTransaction", {"transactionId": tx, "meterStop": 1300, "timestamp": iso(now())})
            return status_reply, meter_reply, latin_reply, tx

    status_reply, meter_reply, latin_reply, tx = run(scenario())
    assert status_reply == [3, "nul-1", {}] and meter_reply == [3, "lf-1", {}]
    assert latin_reply[:2] == [3, "lat-1"] and latin_reply[2]["status"] == "UnknownVendorId"
    code, shown = api(platform, "GET", "/v1/chargers/CTRL-1")
    assert shown["connectors"][0]["status"] == "Faulted"
    assert any(s.energy_wh == 1234 for s in platform.runtime.meter.for_transaction("CTRL-1", 1, tx))
    kept = {i["message_id"]: i for i in review(platform, "CTRL-1") if i["kind"] == "frame_read_leniently"}
    assert set(kept) == {"nul-1", "lf-1", "lat-1"} and "\x00" in kept["nul-1"]["raw"]


# ------------------------------------------------------------------ 10b. legacy handshake
def test_no_or_variant_subprotocol_refused_unless_the_operator_marks_a_legacy_handshake(platform):
    """Issue 14 #10b: Grizzl-E offers no Sec-WebSocket-Protocol (lbbrhzn/ocpp#442), others ``ocpp1.6j``."""
    register(platform, "LEG-1")

    async def attempt(subprotocols):
        try:
            async with open_ws(platform, "LEG-1", subprotocols=subprotocols) as ws:
                reply = await Charger(ws).result("BootNotification", {"chargePointVendor": "G", "chargePointModel": "E"})
                return ws.subprotocol, reply["status"]
        except InvalidStatus as exc:
            return exc.response.status_code

    async def scenario():
        before = [await attempt(()), await attempt(("ocpp1.6j",))]
        code, marked = await asyncio.to_thread(api, platform, "PUT", "/v1/chargers/LEG-1/handshake",
                                               {"legacy_handshake": True})
        assert code == 200 and marked == {"id": "LEG-1", "legacy_handshake": True}
        after = [await attempt(()), await attempt(("ocpp1.6j",)), await attempt(("ocpp2.0.1",))]
        return before, after

    before, after = run(scenario())
    assert before == [400, 400]
    assert after == [(None, "Accepted"), ("ocpp1.6j", "Accepted"), 400]


# ------------------------------------------------------------------ replays of public bug reports
# Each case: frames a real charger sent (per the public report named in docs/interop.md), replayed
# after a BootNotification on a fresh charger id, then what the platform answered and stored.
T0 = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)


def _started(platform, cp):
    return sorted(platform.runtime.sessions.list(cp), key=lambda s: s.transaction_id)


def _check_long_model(platform, cp, replies):
    assert replies[0][2]["status"] == "Accepted"
    assert platform.runtime.chargers.get(cp).boot.model == "EVlink Smart Wallbox Pro"[:20]


def _check_serial_26(platform, cp, replies):
    assert replies[0][2]["status"] == "Accepted"
    assert platform.runtime.chargers.get(cp).boot.serial_number == "3N182720082F1S1B7551700016"[:25]


def _check_offset(platform, cp, replies):
    (stored,) = platform.runtime.connectors.list(cp)
    assert stored.status == "Preparing" and stored.timestamp == datetime(2024, 4, 26, 12, 35, 2, tzinfo=timezone.utc)


def _check_naive(platform, cp, replies):
    (session,) = _started(platform, cp)
    assert session.started_at == datetime(2023, 10, 19, 15, 28, 7, tzinfo=timezone.utc) and "bad_timestamp" not in session.flags


def _check_empty_vendor(platform, cp, replies):
    assert replies[0][2]["status"] == "Accepted" and platform.runtime.chargers.get(cp).boot.vendor == ""


def _check_1970_status(platform, cp, replies):
    (stored,) = platform.runtime.connectors.list(cp)
    assert stored.status == "Available" and stored.timestamp.year == now().year  # receipt time, not 1970


def _check_bad_unit(platform, cp, replies):
    assert replies[1] [0] == 3  # acknowledged, never a CALLERROR for a transaction message
    samples = platform.runtime.meter.for_transaction(cp, 1, replies[0][2]["transactionId"])
    assert [s.energy_wh for s in samples if s.energy_wh is not None] == [349944.0]


def _check_stop_minus_one(platform, cp, replies):
    (session,) = _started(platform, cp)
    assert not session.active and session.meter_stop_wh == 9000 and "stop_matched_from_transaction_id_-1" in session.flags


def _check_start_twice(platform, cp, replies):
    assert replies[0][2]["transactionId"] == replies[1][2]["transactionId"] and len(_started(platform, cp)) == 1


def _check_long_id_tag(platform, cp, replies):
    (session,) = _started(platform, cp)
    assert replies[0][0] == 3 and session.id_tag == "0000001012951691ABCDE"[:20] and session.active


def _check_two_connectors(platform, cp, replies):
    sessions = _started(platform, cp)
    assert [(s.connector_id, s.active) for s in sessions] == [(1, True), (2, True)]  # neither supersedes the other


START = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": iso(T0)}
REPLAYS = {
    # steve-community/steve#1259: chargePointModel beyond 20 characters
    "long_model": ([("BootNotification", {"chargePointVendor": "Schneider Electric",
                                          "chargePointModel": "EVlink Smart Wallbox Pro"})], _check_long_model),
    # lbbrhzn/ocpp#1155, mobilityhouse/ocpp#128: a 26-character chargePointSerialNumber
    "serial_26": ([("BootNotification", {"chargePointVendor": "Schneider Electric", "chargePointModel": "EVlink",
                                         "chargePointSerialNumber": "3N182720082F1S1B7551700016"})], _check_serial_26),
    # monta-app/ocpp-emulator#5: "+02" offset without minutes
    "offset_02": ([("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing",
                                           "timestamp": "2024-04-26T14:35:02+02"})], _check_offset),
    # evcc-io/evcc#10399 (Growatt THOR): a timestamp without a zone, read as UTC
    "naive_time": ([("StartTransaction", {**START, "timestamp": "2023-10-19T15:28:07"})], _check_naive),
    # evcc-io/evcc#32184 (Huawei SmartCharger): empty chargePointVendor
    "empty_vendor": ([("BootNotification", {"chargePointVendor": "", "chargePointModel": "SCharger-22KT-S0"})],
                     _check_empty_vendor),
    # matth-x/MicroOcpp#311: StatusNotification stamped 1970 although the Boot answer set the clock
    "status_1970": ([("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                                             "timestamp": "1970-01-01T00:00:00.740Z"})], _check_1970_status),
    # lbbrhzn/ocpp#1627: one sampledValue with an invalid unit beside valid ones
    "bad_unit": ([("StartTransaction", START),
                  ("MeterValues", {"connectorId": 1, "transactionId": "$tx", "meterValue": [{"timestamp": iso(T0), "sampledValue": [
                      {"measurand": "Temperature", "value": "31", "unit": "Celcius"},
                      {"measurand": "Energy.Active.Import.Register", "value": "349.944", "unit": "kWh"}]}]})],
                 _check_bad_unit),
    # EVerest/libocpp#495, lbbrhzn/ocpp#1000 (Etrel INCH): StopTransaction with transactionId -1
    "stop_minus_one": ([("StartTransaction", START),
                        ("StopTransaction", {"transactionId": -1, "meterStop": 9000,
                                             "timestamp": iso(T0 + timedelta(hours=1))})], _check_stop_minus_one),
    # matth-x/MicroOcpp#237: the same StartTransaction twice with different message ids
    "start_twice": ([("StartTransaction", START), ("StartTransaction", START)], _check_start_twice),
    # issue 14 (handled): a 21-character idTag in StartTransaction (schema max 20)
    "id_tag_21": ([("StartTransaction", {**START, "idTag": "0000001012951691ABCDE"})], _check_long_id_tag),
    # issue 14 (handled): two connectors charging at once, their sessions overlapping
    "two_connectors": ([("StartTransaction", START),
                        ("StartTransaction", {**START, "connectorId": 2, "timestamp": iso(T0 + timedelta(minutes=5))})],
                       _check_two_connectors),
}


@pytest.mark.parametrize("case", sorted(REPLAYS))
def test_replayed_real_charger_behaviour(platform, case):
    frames, check = REPLAYS[case]
    cp = f"R-{case}"
    register(platform, cp)

    async def scenario():
        async with open_ws(platform, cp) as ws:
            charger = Charger(ws)
            if frames[0][0] != "BootNotification":
                await boot(charger)
            replies = []
            for action, payload in frames:
                if payload.get("transactionId") == "$tx":
                    payload = {**payload, "transactionId": replies[0][2]["transactionId"]}
                replies.append(await charger.call(action, payload))
            return replies

    replies = run(scenario())
    assert all(reply[0] == 3 for reply in replies), replies  # every frame acknowledged
    check(platform, cp, replies)
