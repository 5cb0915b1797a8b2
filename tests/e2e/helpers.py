"""Drive the local platform over real wss from a test."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from websockets.asyncio.client import connect

from csms_local.tls import client_context


def auth_header(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def open_charger(platform, charge_point_id: str, password: str, subprotocols=("ocpp1.6",), **kwargs):
    ssl = client_context(platform.ca_path) if platform.url.startswith("wss") else None
    return connect(f"{platform.url}/{charge_point_id}", ssl=ssl, subprotocols=list(subprotocols),
                   additional_headers=auth_header(charge_point_id, password), max_size=2**20, **kwargs)


async def call(ws, unique_id: str, action: str, payload: dict) -> list:
    await ws.send(json.dumps([2, unique_id, action, payload]))
    while True:
        message = json.loads(await ws.recv())
        if message[0] in (3, 4) and message[1] == unique_id:
            return message


DOCS = Path(__file__).resolve().parents[2] / "docs"


def screenshot_path(name: str) -> Path:
    """Where a headless-browser test saves its screenshot ``name`` (e.g. ``session-page.png``):
    ``docs/`` when ``CSMS_SCREENSHOTS=1`` (``make screenshots``), else a temporary directory, so
    that ``make test`` never rewrites a tracked file (issue 22)."""
    if os.environ.get("CSMS_SCREENSHOTS") == "1":
        return DOCS / name
    return Path(tempfile.mkdtemp(prefix="csms-screens-")) / name


@contextmanager
def running_in_a_thread(platform):
    """Start ``platform`` (a ``LocalPlatform``) with its event loop in a thread and yield it, stopped
    on exit: one platform shared by a module's tests, each test's clients in the test's own loop.
    Only one platform may run in a process at a time (they share the table models' binding)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="platform-loop", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(platform.start(), loop).result(120)
        try:
            yield platform
        finally:
            asyncio.run_coroutine_threadsafe(platform.stop(), loop).result(120)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def make_state(state_dir: Path) -> Path:
    """A platform state in ``state_dir`` as a first ``csms local`` leaves it (its embedded DynamoDB's
    snapshot and journal), without starting a platform: the CLI refuses a directory without one
    (a mistyped --state-dir, ``csms_local.state.require_state``)."""
    from csms_local.dynamodb import EmbeddedDynamo

    state_dir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedDynamo(state_dir=state_dir)
    server.start()
    server.stop()
    return state_dir


# ------------------------------------------------------------------ the page in headless Chromium
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# What the page asked of the API, for a failure's message
REQUESTS = "return performance.getEntriesByType('resource').map(e => e.name + ' ' + e.responseStatus)"


def require_chromium() -> None:
    """Skip the calling test module where Debian's chromium and chromedriver are missing; CI has them
    (``.ci/run`` installs them), so there a missing browser fails instead of skipping."""
    import pytest

    if CHROMIUM and CHROMEDRIVER:
        return
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)


def chromium():
    """A new headless Chromium (Selenium WebDriver), 1200x1100, a fresh profile, the local
    platform's own CA accepted. The caller quits it (``browser()`` does)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,1100", f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        options.add_argument(flag)
    options.accept_insecure_certs = True  # the local platform's own CA
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@contextmanager
def browser(timeout_s: float = 30, ignored_exceptions: tuple = ()):
    """``with browser() as (driver, wait):`` a headless Chromium (``chromium()``) and a WebDriverWait
    of ``timeout_s``; any failure inside is re-raised as an AssertionError that says what the page
    showed (its address, text, console and the API requests it made); the browser is quit at the end."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium()
    try:
        yield driver, WebDriverWait(driver, timeout_s, ignored_exceptions=ignored_exceptions)
    except Exception as exc:  # say what the page showed
        raise AssertionError(f"page at {driver.current_url}: {driver.find_element(By.TAG_NAME, 'body').text[:2000]}"
                             f"\nconsole: {driver.get_log('browser')[-10:]}"
                             f"\nrequests: {driver.execute_script(REQUESTS)}") from exc
    finally:
        driver.quit()
