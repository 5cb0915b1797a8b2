"""The operator console (issue 22) where the behaviour is the charger's: real chargers over wss
against one running local platform (shared by the module: seconds per test), then what the HTTP API,
the CLI and ``csms local --verbose`` show."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import call, open_charger
from tests.e2e.test_real_chargers import api

ROOT = Path(__file__).resolve().parents[2]
KEY = "0123456789abcdef0123"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """One platform for the module, its event loop in a thread; the scheduler's timer an hour away."""
    from csms_local.platform import LocalPlatform

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="platform-loop", daemon=True)
    thread.start()
    local = LocalPlatform(state_dir=tmp_path_factory.mktemp("i22") / "state", port=0, smart_every_s=3600)
    asyncio.run_coroutine_threadsafe(local.start(), loop).result(120)
    try:
        yield local
    finally:
        asyncio.run_coroutine_threadsafe(local.stop(), loop).result(120)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def csms(platform, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in its own process, on the running platform's state directory."""
    return subprocess.run([sys.executable, "-m", "csms_local.cli", *args, "--state-dir", str(platform.state_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


class Frames(logging.Handler):
    """What ``csms local --verbose`` prints of frames (the ``csms.frames`` logger at INFO)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


# ---------------------------------------------------------------- frame log
def test_every_frame_both_ways_is_logged_and_shown_by_the_api_the_cli_and_verbose(platform):
    platform.add_charger("LOG1", KEY)
    echo, frames_logger = Frames(), logging.getLogger("csms.frames")
    saved = frames_logger.level, frames_logger.propagate
    frames_logger.addHandler(echo)
    frames_logger.setLevel(logging.INFO)  # as csms local --verbose (csms_local.cmd_local.plain)
    frames_logger.propagate = False

    async def charger():
        async with open_charger(platform, "LOG1", KEY) as ws:
            boot = await call(ws, "b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22"})
            assert boot[2]["status"] == "Accepted"
            await ws.send(json.dumps([2, "s1", "StatusNotification",
                                      {"connectorId": 1, "errorCode": "NoError", "status": "Available"}]))
            # the platform's first set-up call comes on the status's turn: answer it
            asked, answered = None, False
            while asked is None or not answered:
                message = json.loads(await ws.recv())
                if message[0] == 2 and asked is None:
                    await ws.send(json.dumps([3, message[1], {"status": "Accepted"}]))
                    asked = message[2]
                answered = answered or message[:2] == [3, "s1"]
            await call(ws, "h1", "Heartbeat", {})  # (after the answer was handled)
            return asked

    try:
        asked = run(charger())
    finally:
        frames_logger.removeHandler(echo)
        frames_logger.level, frames_logger.propagate = saved
    status, log = api(platform, "GET", "/v1/chargers/LOG1/log")
    assert status == 200 and log["logging"]["always"] is True
    shown = [(f["direction"], f["action"] or json.loads(f["text"])[0]) for f in reversed(log["frames"])]
    assert shown[:3] == [("in", "BootNotification"), ("out", 3), ("in", "StatusNotification")]
    assert ("out", asked) in shown and ("in", 3) in shown  # the platform's call and the charger's answer
    assert any(line.startswith("LOG1 in ") and '"BootNotification"' in line for line in echo.lines)
    # the CLI: search, oldest first
    printed = csms(platform, "charger", "log", "LOG1", "--search", "BootNotification")
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert len(lines) == 1 and "-> in" in lines[0] and '"chargePointVendor": "Acme"' in lines[0]
    assert "NOPE" in csms(platform, "charger", "log", "NOPE").stderr  # one line, no traceback


def test_the_cli_follows_the_log_live(platform):
    platform.add_charger("LOG2", KEY)
    follower = subprocess.Popen([sys.executable, "-m", "csms_local.cli", "charger", "log", "LOG2", "--follow",
                                 "--state-dir", str(platform.state_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        time.sleep(3)  # its first page (empty) is read

        async def heartbeat():
            async with open_charger(platform, "LOG2", KEY) as ws:
                await call(ws, "h1", "Heartbeat", {})

        run(heartbeat())
        seen = [follower.stdout.readline() for _ in range(2)]
    finally:
        follower.kill()
        follower.wait(10)
    assert '"Heartbeat"' in seen[0] and "-> in" in seen[0] and "<- out" in seen[1]


def test_a_call_the_cli_sends_is_in_the_log_after_the_cli_exits(platform):
    """The CLI's process logs the CALL it posts (the local frame log is written by a background
    thread, adapters.dynamo.frame_batch): its queue is written before it exits."""
    platform.add_charger("LOG3", KEY)

    async def charger():
        async with open_charger(platform, "LOG3", KEY) as ws:
            await call(ws, "b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22"})
            sent = asyncio.ensure_future(asyncio.to_thread(csms, platform, "charger", "command", "LOG3", "ClearCache"))
            while True:  # answer every platform call (set-up first, then the CLI's)
                if sent.done() and sent.result().returncode != 0:
                    return sent.result()
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 1))
                except asyncio.TimeoutError:
                    await ws.send(json.dumps([2, "h", "Heartbeat", {}]))  # a call rides on a message's turn
                    continue
                if message[0] == 2:
                    await ws.send(json.dumps([3, message[1], {"status": "Accepted"} if message[2] != "GetConfiguration"
                                              else {}]))
                    if message[2] == "ClearCache":
                        return await sent

    printed = run(charger(), 120)
    assert printed.returncode == 0, printed.stderr
    status, log = api(platform, "GET", "/v1/chargers/LOG3/log")
    assert status == 200 and ("out", "ClearCache") in [(f["direction"], f["action"]) for f in log["frames"]]


# ---------------------------------------------------------------- alerts
def test_a_faulted_charger_is_an_alert_printed_and_listed(platform):
    platform.add_charger("FAULT1", KEY)
    printed, alerts_logger = Frames(), logging.getLogger("csms.alerts")
    alerts_logger.addHandler(printed)

    async def charger():
        async with open_charger(platform, "FAULT1", KEY) as ws:
            await call(ws, "s1", "StatusNotification", {"connectorId": 2, "errorCode": "OverCurrentFailure",
                                                        "status": "Faulted", "vendorErrorCode": "OC-3"})

    try:
        run(charger())
    finally:
        alerts_logger.removeHandler(printed)
    assert any(line.startswith("ALERT faulted FAULT1") and "OverCurrentFailure" in line for line in printed.lines)
    status, alerts = api(platform, "GET", "/v1/alerts?kind=faulted&charger=FAULT1")
    assert status == 200 and [a["detail"]["vendor_error_code"] for a in alerts] == ["OC-3"]
    shown = csms(platform, "alerts", "--kind", "faulted")
    assert shown.returncode == 0 and "FAULT1" in shown.stdout and "error_code=OverCurrentFailure" in shown.stdout


# ---------------------------------------------------------------- the page
@pytest.mark.screenshot
def test_the_console_page_log_tail_alerts_session_close_csv_and_one_click_registration(platform):
    import shutil

    from tests.e2e.helpers import screenshot_path

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.environ.get("CI"):
            raise RuntimeError("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.e2e.helpers import chromium as _browser

    platform.add_charger("PAGE1", KEY)
    shot = screenshot_path("console-log-alerts.png")

    async def charger(frames):
        async with open_charger(platform, "PAGE1", KEY) as ws:
            for unique_id, action, payload in frames:
                await call(ws, unique_id, action, payload)

    run(charger([("b1", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22"}),
                 ("s1", "StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted",
                                               "info": "RCD tripped", "vendorErrorCode": "E-17"}),
                 ("t1", "StartTransaction", {"connectorId": 2, "idTag": "TAG1", "meterStart": 0,
                                             "timestamp": "2026-01-01T00:00:00Z"})]))

    async def stranger():
        from websockets.exceptions import InvalidStatus

        with pytest.raises(InvalidStatus):
            async with open_charger(platform, "STRANGER-1", KEY):
                pass

    run(stranger())
    seen: dict = {}
    browser = _browser()
    try:
        wait = WebDriverWait(browser, 30)
        browser.get(platform.web_url)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, 'tr[data-charger="PAGE1"]'))
        # the charger page links to its frames; the log shows them and tails new ones live
        browser.get(platform.api_url + "/#/chargers/PAGE1")
        wait.until(lambda b: b.find_elements(By.ID, "log-link")).pop().click()
        wait.until(lambda b: "BootNotification" in b.find_element(By.ID, "frames").text)
        run(charger([("h1", "Heartbeat", {})]))
        wait.until(lambda b: "Heartbeat" in b.find_element(By.ID, "frames").text)
        form = browser.find_element(By.ID, "log-search")
        form.find_element(By.NAME, "live").click()  # stop the tail, then search
        form.find_element(By.NAME, "q").send_keys("GroundFailure")
        form.find_element(By.TAG_NAME, "button").click()
        wait.until(lambda b: "BootNotification" not in b.find_element(By.ID, "frames").text)
        seen["search"] = browser.find_element(By.ID, "frames").text
        # the console: the fault's alert, and the stranger with a Register button
        browser.get(platform.api_url + "/#/console")
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, 'tr[data-unknown="STRANGER-1"]'))
        seen["alerts"] = browser.find_element(By.ID, "alerts").text
        browser.save_screenshot(str(shot))
        browser.find_element(By.CSS_SELECTOR, 'tr[data-unknown="STRANGER-1"] button.register').click()
        wait.until(lambda b: "AuthorizationKey" in b.find_element(By.ID, "message").text)
        seen["registered"] = browser.find_element(By.ID, "message").text
        # the sessions page: a CSV link and a Close button on the open transaction
        browser.get(platform.api_url + "/#/sessions")
        button = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "button.close-session")).pop()
        seen["csv"] = bool(browser.find_elements(By.ID, "csv"))
        button.click()
        browser.switch_to.alert.accept()
        wait.until(lambda b: "closed with" in b.find_element(By.ID, "message").text)
        seen["closed"] = browser.find_element(By.ID, "message").text
    finally:
        browser.quit()
    assert "GroundFailure" in seen["search"] and "Heartbeat" not in seen["search"]
    assert "PAGE1" in seen["alerts"] and "GroundFailure" in seen["alerts"] and "RCD tripped" in seen["alerts"]
    assert "Registered STRANGER-1" in seen["registered"]
    assert platform.runtime.chargers.get("STRANGER-1") is not None
    assert seen["csv"] and "operator_closed" in seen["closed"]
    assert shot.stat().st_size > 10_000
