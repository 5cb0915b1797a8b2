"""The charger messages firmware management listens to (``csms.ocpp.v16.central.NotificationHook``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from csms.firmware.campaigns import Firmware
from csms.firmware.diagnostics import Diagnostics


def notification_hook(firmware: Firmware, diagnostics: Diagnostics) -> Callable[[str, str, dict, datetime], None]:
    """BootNotification -> ``Firmware.on_boot`` (the fleet index and the proof of a new version),
    FirmwareStatusNotification and SignedFirmwareStatusNotification -> ``Firmware.on_firmware_status``,
    DiagnosticsStatusNotification -> ``Diagnostics.on_status``. Payloads are schema-valid (the central system validated them)."""

    def hook(charge_point_id: str, action: str, payload: dict[str, Any], at: datetime) -> None:
        if action == "BootNotification":
            firmware.on_boot(charge_point_id, payload["chargePointVendor"], payload["chargePointModel"],
                             payload.get("firmwareVersion"), at)
        elif action in ("FirmwareStatusNotification", "SignedFirmwareStatusNotification"):
            firmware.on_firmware_status(charge_point_id, payload["status"], at)
        elif action == "DiagnosticsStatusNotification":
            diagnostics.on_status(charge_point_id, payload["status"], at)

    return hook
