"""Simulated chargers that update their firmware and upload diagnostics as real ones do, over wss
and HTTPS (the ``ocpp`` package's client, as ``csms_local.sim``).

On UpdateFirmware the charger reports Downloading, downloads ``location`` over HTTPS, reports
Downloaded, Installing and Installed, then reboots: it closes its connection, reconnects and
sends a BootNotification with the firmwareVersion the image carries (its first line is
``SIMFW <version>``). ``behaviour`` makes it fail as real chargers do: ``install_fails``
(InstallationFailed after the download), ``download_fails`` (DownloadFailed without trying),
``silent`` (Downloading, then nothing more about it). On GetDiagnostics it answers a file name and
uploads a log with HTTP PUT to the given location, reporting Uploading and Uploaded/UploadFailed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl as ssl_module
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import connect

from csms_local.sim import EvCharger, SimChargePoint, SimClock

log = logging.getLogger(__name__)

BEHAVIOURS = ("ok", "install_fails", "download_fails", "silent")


def image_bytes(version: str, size: int = 4096) -> bytes:
    """A simulated firmware image of ``version`` (``size`` bytes)."""
    head = f"SIMFW {version}\n".encode()
    return head + b"\0" * max(0, size - len(head))


def version_of(image: bytes) -> str | None:
    first = image.split(b"\n", 1)[0]
    return first[6:].decode() if first.startswith(b"SIMFW ") else None


@dataclass
class FirmwareSim:
    """One charger: identity, firmware, behaviour, and what it saw (for tests and the demo)."""

    charge_point_id: str
    key: str
    vendor: str
    model: str
    version: str
    behaviour: str = "ok"
    locations: list[str] = field(default_factory=list)  # every UpdateFirmware location received
    statuses: list[str] = field(default_factory=list)  # FirmwareStatusNotifications sent
    boots: list[str] = field(default_factory=list)  # firmwareVersion of every BootNotification
    diagnostics: bytes = b""
    _reboot: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self):
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}")
        self.diagnostics = f"diagnostics of {self.charge_point_id}\n".encode() * 20


class _ChargePoint(SimChargePoint):
    def __init__(self, sim: FirmwareSim, connection, ssl_context):
        clock = SimClock(datetime.now(timezone.utc), 1.0)
        super().__init__(sim.charge_point_id, connection, EvCharger(max_power_w=7400), clock, "Power")
        self.sim, self.ssl_context = sim, ssl_context
        self.tasks: set[asyncio.Task] = set()

    async def boot(self):
        self.sim.boots.append(self.sim.version)
        return await self.call(call.BootNotification(charge_point_vendor=self.sim.vendor,
                                                     charge_point_model=self.sim.model,
                                                     firmware_version=self.sim.version))

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _firmware_status(self, status: str) -> None:
        self.sim.statuses.append(status)
        await self.call(call.FirmwareStatusNotification(status=status))

    @on(Action.update_firmware)
    def on_update_firmware(self, location, retrieve_date, **_):
        self.sim.locations.append(location)
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    async def after_update_firmware(self, location, retrieve_date, **_):
        self._spawn(self._update(location))

    async def _update(self, location: str) -> None:
        if self.sim.behaviour == "download_fails":
            await self._firmware_status("DownloadFailed")
            return
        await self._firmware_status("Downloading")
        if self.sim.behaviour == "silent":
            return
        try:
            image = await asyncio.to_thread(_http, "GET", location, self.ssl_context)
        except OSError as exc:
            log.info("%s: download failed: %s", self.sim.charge_point_id, exc)
            await self._firmware_status("DownloadFailed")
            return
        await self._firmware_status("Downloaded")
        await self._firmware_status("Installing")
        new_version = version_of(image)
        if self.sim.behaviour == "install_fails" or new_version is None:
            await self._firmware_status("InstallationFailed")
            return
        await self._firmware_status("Installed")
        self.sim.version = new_version
        self.sim._reboot.set()

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location, **_):
        return call_result.GetDiagnostics(file_name=f"{self.sim.charge_point_id}-diagnostics.log")

    @after(Action.get_diagnostics)
    async def after_get_diagnostics(self, location, **_):
        self._spawn(self._upload(location))

    async def _upload(self, location: str) -> None:
        await self.call(call.DiagnosticsStatusNotification(status="Uploading"))
        try:
            await asyncio.to_thread(_http, "PUT", location, self.ssl_context, self.sim.diagnostics)
            status = "Uploaded"
        except OSError as exc:
            log.info("%s: diagnostics upload failed: %s", self.sim.charge_point_id, exc)
            status = "UploadFailed"
        await self.call(call.DiagnosticsStatusNotification(status=status))


def _http(method: str, url: str, context: ssl_module.SSLContext | None, body: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/octet-stream"} if body is not None else {})
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return response.read()


async def run(sim: FirmwareSim, url: str, ssl_context, stop: asyncio.Event) -> None:
    """Keep ``sim`` connected to ``url`` (``.../ocpp``) until ``stop``; reconnect after each reboot."""
    auth = "Basic " + base64.b64encode(f"{sim.charge_point_id}:{sim.key}".encode()).decode()
    while not stop.is_set():
        sim._reboot.clear()
        async with connect(f"{url}/{sim.charge_point_id}", ssl=ssl_context, subprotocols=["ocpp1.6"],
                           additional_headers={"Authorization": auth}, open_timeout=30) as ws:
            cp = _ChargePoint(sim, ws, ssl_context)
            listener = asyncio.create_task(cp.start())
            try:
                await cp.boot()
                await cp.status("Available")
                rebooting = asyncio.create_task(sim._reboot.wait())
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({rebooting, stopping, listener}, return_when=asyncio.FIRST_COMPLETED)
                rebooting.cancel(), stopping.cancel()
            finally:
                listener.cancel()
                for task in list(cp.tasks):
                    task.cancel()
        if not stop.is_set():
            await asyncio.sleep(0.2)  # the reboot
