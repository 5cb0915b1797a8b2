"""A charger's security on the web page, in headless Chromium against the local platform (issue 17):
a charger admitted over wss with its client certificate, two SecurityEventNotifications it sent, the
charger page showing profile 3, the negotiated TLS version and cipher, the certificate's subject,
serial and expiry and the events; the operator revokes the certificate with the page's button and
the charger's next handshake is refused; a profile-2 charger is held to profile 3 from the page.
Saves docs/security-page.png under ``make screenshots``."""

from __future__ import annotations

import asyncio
import ssl
from datetime import datetime, timezone

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from csms_local.platform import LocalPlatform
from csms_local.tls import client_context
from tests.e2e import helpers
from tests.e2e.helpers import call, screenshot_path

SCREENSHOT = screenshot_path("security-page.png")
KEY = "0123456789abcdef0123"
helpers.require_chromium()


def _browse(platform) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    seen: dict = {}
    with helpers.browser(30) as (browser, wait):
        browser.get(platform.web_url)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-charger="CP001"]'))).find_element(
            By.LINK_TEXT, "CP001").click()
        section = wait.until(ec.presence_of_element_located((By.ID, "security-events")))
        section = browser.find_element(By.ID, "security")
        seen["profile"] = browser.find_element(By.ID, "security-profile").text
        seen["tls"] = browser.find_element(By.ID, "tls").text
        seen["certificate"] = browser.find_element(By.ID, "certificate").text
        seen["events"] = browser.find_element(By.ID, "security-events").text
        seen["buttons"] = [b.text for b in section.find_elements(By.TAG_NAME, "button")]
        browser.execute_script("arguments[0].scrollIntoView()", section)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))
        revoke = browser.find_element(By.ID, "revoke")
        revoke.click()
        seen["asked"] = revoke.text  # the first click only asks
        revoke.click()
        wait.until(ec.presence_of_element_located((By.ID, "revoked")))
        seen["revoked"] = browser.find_element(By.ID, "revoked").text
        seen["message"] = browser.find_element(By.ID, "security-message").text
        seen["certificate_after"] = browser.find_element(By.ID, "certificate").text
        # a charger still on Basic auth: held to profile 3 from the page
        browser.get(platform.api_url + "/#/chargers/CP002")
        button = wait.until(ec.element_to_be_clickable((By.ID, "profile3")))
        seen["cp002_profile"] = browser.find_element(By.ID, "security-profile").text
        seen["cp002_certificate"] = browser.find_element(By.ID, "security").text
        button.click()
        button.click()
        wait.until(lambda b: b.find_element(By.ID, "security-profile").text == "3")
        seen["cp002_after"] = browser.find_element(By.ID, "security").text
    return seen


async def _connect(platform, context: ssl.SSLContext):
    return connect(f"{platform.url}/CP001", ssl=context, subprotocols=["ocpp1.6"], open_timeout=20)


@pytest.mark.screenshot
def test_an_operator_sees_a_chargers_certificate_tls_and_security_events_and_revokes_it(tmp_path):
    async def scenario():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, smart_every_s=None)
        await platform.start()
        try:
            platform.add_charger("CP001", KEY)
            platform.add_charger("CP002", KEY)
            chain, key, cert = platform.issue_charger_certificate("CP001", tmp_path / "certs")
            context = client_context(platform.ca_path)
            context.load_cert_chain(chain, key)
            async with await _connect(platform, context) as ws:  # no password: the certificate admits it
                await call(ws, "1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22"})
                for n, (kind, info) in enumerate((("StartupOfTheDevice", "cold boot"),
                                                  ("InvalidCentralSystemCertificate", "expired root offered"))):
                    await call(ws, f"e{n}", "SecurityEventNotification", {
                        "type": kind, "timestamp": datetime.now(timezone.utc).isoformat(), "techInfo": info})
                seen = await asyncio.to_thread(_browse, platform)
            with pytest.raises(InvalidStatus) as refused:  # the page's revocation holds at the next handshake
                async with await _connect(platform, context):
                    pass
            return seen, cert, refused.value.response.status_code, platform.runtime.chargers.get("CP002")
        finally:
            await platform.stop()

    seen, cert, status, cp002 = asyncio.run(asyncio.wait_for(scenario(), timeout=120))
    serial = f"{cert.serial_number:x}"
    assert seen["profile"] == "3"
    assert seen["tls"].startswith(("TLSv1.2", "TLSv1.3")) and len(seen["tls"].split()) == 2  # version and cipher
    assert "CN=CP001" in seen["certificate"] and serial in seen["certificate"]
    assert "days left" in seen["certificate"] and "revoked" not in seen["certificate"]
    # newest first, with their techInfo
    assert seen["events"].index("InvalidCentralSystemCertificate") < seen["events"].index("StartupOfTheDevice")
    assert "expired root offered" in seen["events"]
    assert seen["buttons"] == ["Revoke this certificate"]  # already on profile 3: nothing to raise
    assert seen["asked"].startswith("Refuse it")
    assert f"serial:{serial}" in seen["revoked"] and "Revoked" in seen["message"]
    assert "revoked" in seen["certificate_after"]
    assert status == 401
    assert seen["cp002_profile"] == "2" and "No client certificate yet" in seen["cp002_certificate"]
    assert cp002.security_profile == 3 and "Held to profile 3" in seen["cp002_after"]
    assert SCREENSHOT.stat().st_size > 10_000
