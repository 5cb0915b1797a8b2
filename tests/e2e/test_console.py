"""The operator console's authorization, connectors, composite schedule and command forms (issue 22
items 4-7) against ``csms local`` over wss, with a simulated charger on the ``ocpp`` package: an
unknown idTag is answered Invalid and an expired one Expired, SendLocalList reaches the charger
versioned, and the charger page in headless Chromium shows both connectors, the composite schedule
beside the profile sent, a ChangeAvailability form's answer and a reservation.
Saves docs/console-connectors-auth.png under ``make screenshots``."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from adapters.wiring import build_operations
from csms.operations import Principal
from tests.e2e import helpers
from tests.e2e.helpers import open_charger, screenshot_path
from tests.e2e.test_session_over_wss import Client, iso

KEY = "0123456789abcdef0123"
OPS = Principal("ops", operator=True)
SCREENSHOT = screenshot_path("console-connectors-auth.png")
helpers.require_chromium()


class Charger(Client):
    """Two connectors; takes a local list, reservations and availability changes, reports a composite schedule."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config["NumberOfConnectors"] = "2"
        self.list_version = 0

    @on(Action.send_local_list)
    def send_local_list(self, list_version, update_type, local_authorization_list=None, **_):
        self.received.append(("SendLocalList", {"listVersion": list_version, "updateType": update_type,
                                                "list": local_authorization_list or []}))
        self.list_version = list_version
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    def get_local_list_version(self, **_):
        self.received.append(("GetLocalListVersion", {}))
        return call_result.GetLocalListVersion(list_version=self.list_version)

    @on(Action.reserve_now)
    def reserve_now(self, connector_id, expiry_date, id_tag, reservation_id, **_):
        self.received.append(("ReserveNow", {"connectorId": connector_id, "idTag": id_tag, "reservationId": reservation_id}))
        return call_result.ReserveNow(status="Accepted")

    @on(Action.change_availability)
    def change_availability(self, connector_id, type, **_):
        self.received.append(("ChangeAvailability", {"connectorId": connector_id, "type": type}))
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.get_composite_schedule)
    def get_composite_schedule(self, connector_id, duration, **_):
        self.received.append(("GetCompositeSchedule", {"connectorId": connector_id, "duration": duration}))
        return call_result.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start=iso(datetime.now(timezone.utc)),
            charging_schedule={"chargingRateUnit": "W", "duration": duration,
                               "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3680.0}]})


def _browse(platform) -> dict:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    seen: dict = {}
    # ~10 API requests in a row, each a DynamoDB round trip on a busy CI core; a section redraws itself
    # after each action (a found element can go stale between finding and reading it)
    with helpers.browser(60, ignored_exceptions=(StaleElementReferenceException,)) as (browser, wait):
        browser.get(platform.web_url)
        wait.until(ec.presence_of_element_located((By.ID, "fleet")))
        browser.get(platform.api_url + "/#/chargers/CP001")
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#connectors tr[data-connector]")) == 2)
        seen["connectors"] = browser.find_element(By.ID, "connectors").text
        browser.find_element(By.CSS_SELECTOR, 'button.composite[data-connector="1"]').click()
        wait.until(lambda b: "3680" in b.find_element(By.ID, "composite").text)
        seen["composite"] = browser.find_element(By.ID, "composite").text
        form = browser.find_element(By.CSS_SELECTOR, 'form.command[data-action="ChangeAvailability"]')
        form.find_element(By.NAME, "connectorId").clear()
        form.find_element(By.NAME, "connectorId").send_keys("2")
        form.find_element(By.TAG_NAME, "button").click()
        wait.until(lambda b: "answered" in b.find_element(By.ID, "command-result").text)
        seen["command"] = browser.find_element(By.ID, "command-result").text
        reserve = browser.find_element(By.ID, "reserve")
        reserve.find_element(By.NAME, "connector").clear()
        reserve.find_element(By.NAME, "connector").send_keys("2")
        reserve.find_element(By.NAME, "id_tag").send_keys("GOOD")
        reserve.find_element(By.TAG_NAME, "button").click()
        wait.until(lambda b: "Reservation" in b.find_element(By.ID, "auth-message").text)
        seen["reservations"] = browser.find_element(By.ID, "reservations").text
        seen["local_list"] = browser.find_element(By.ID, "local-list").text
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.set_window_size(1200, 1900)
        browser.save_screenshot(str(SCREENSHOT))
        browser.get(platform.api_url + "/#/authorization")
        wait.until(ec.presence_of_element_located((By.ID, "id-tags")))
        seen["tags"] = browser.find_element(By.ID, "id-tags").text
    return seen


@pytest.mark.screenshot
def test_id_tags_local_list_connectors_and_forms_over_wss_and_in_the_browser(tmp_path):
    from csms_local.platform import LocalPlatform

    async def scenario():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, smart_every_s=3600)
        await platform.start()
        try:
            platform.add_charger("CP001", KEY)
            ops = build_operations(platform.runtime).authorization
            now = datetime.now(timezone.utc)
            ops.put_tag(OPS, "GOOD", expiry=now + timedelta(days=30))
            ops.put_tag(OPS, "OLD", expiry=now - timedelta(days=1))
            ops.set_policy(OPS, "CP001", "id_tags")
            async with open_charger(platform, "CP001", KEY) as ws:
                client = Charger("CP001", ws)
                listener = asyncio.create_task(client.start())
                await client.call(call.BootNotification(charge_point_vendor="Acme", charge_point_model="Twin"))
                await client.until(lambda r: "GetConfiguration" in [a for a, _ in r])
                answers = {"unknown": await client.call(call.Authorize(id_tag="WHO")),
                           "expired": await client.call(call.StartTransaction(
                               connector_id=2, id_tag="OLD", meter_start=0, timestamp=iso(now))),
                           "good": await client.call(call.StartTransaction(
                               connector_id=1, id_tag="GOOD", meter_start=1000, timestamp=iso(now)))}
                await client.call(call.StopTransaction(transaction_id=answers["expired"].transaction_id, meter_stop=0,
                                                       timestamp=iso(now), reason="DeAuthorized"))
                for connector, status in ((1, "Charging"), (2, "Available")):
                    await client.call(call.StatusNotification(connector_id=connector, error_code="NoError", status=status))
                await client.call(call.MeterValues(connector_id=1, transaction_id=answers["good"].transaction_id,
                                                   meter_value=[{"timestamp": iso(now), "sampledValue": [
                                                       {"value": "1500", "measurand": "Energy.Active.Import.Register"},
                                                       {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"}]}]))
                await asyncio.to_thread(ops.set_policy, OPS, "CP001", "local_list")
                await client.until(lambda r: "SendLocalList" in [a for a, _ in r])
                seen = await asyncio.to_thread(_browse, platform)
                listener.cancel()
            return answers, client.received, seen
        finally:
            await platform.stop()

    answers, received, seen = asyncio.run(scenario())
    assert answers["unknown"].id_tag_info["status"] == "Invalid"
    assert answers["expired"].id_tag_info["status"] == "Expired"
    assert answers["good"].id_tag_info["status"] == "Accepted"
    pushed = [p for a, p in received if a == "SendLocalList"][0]
    assert pushed["listVersion"] == 1 and pushed["updateType"] == "Full"
    # (the ocpp package hands the handler snake_case keys)
    assert {e["id_tag"]: e["id_tag_info"]["status"] for e in pushed["list"]} == {"GOOD": "Accepted", "OLD": "Expired"}
    assert "charging" in seen["connectors"] and "unplugged" in seen["connectors"] and "7.0" in seen["connectors"]
    assert "Accepted" in seen["composite"] and "3680" in seen["composite"]
    assert ("ChangeAvailability", {"connectorId": 2, "type": "Operative"}) in received
    assert "Accepted" in seen["command"]
    assert [p for a, p in received if a == "ReserveNow"][0]["idTag"] == "GOOD"
    assert "GOOD" in seen["reservations"]
    assert "version 1" in seen["local_list"] and "Accepted" in seen["local_list"]
    assert "OLD" in seen["tags"] and "Expired" in seen["tags"]
