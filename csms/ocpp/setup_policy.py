"""Connection set-up policy: what the platform asks of a charger on a young connection.

Right after a charger connects its socket is not open yet (API Gateway), so the first messages of a
young connection (``connected_at`` within ``SETUP_WINDOW``) check whether the connection has been
set up (one read each, only then): the configuration after a BootNotification, or, when the charger
reconnected without one, TriggerMessage BootNotification and StatusNotification.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from csms.ocpp.calls import PendingCall
from csms.ocpp.ports import ChargerLink, Clock

SETUP_WINDOW = timedelta(seconds=120)

# What the platform needs from every charger (the project guide: MeterValuesSampledData and
# MeterValueSampleInterval; the smart-charging configuration keys of OCPP 1.6 section 9.1).
METER_MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import"
METER_MEASURANDS_NO_POWER = "Energy.Active.Import.Register,Current.Import,Voltage"
CAPABILITY_KEYS = [
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleMaxPeriods",
    "MaxChargingProfilesInstalled",
    "NumberOfConnectors",
]


class SetupPolicy:
    """Mixed into ``Commander``: the calls a charger gets when its connection is set up."""

    link: ChargerLink
    clock: Clock
    heartbeat_interval_s: int
    meter_sample_interval_s: int

    def enqueue(self, charge_point_id: str, action: str, payload: dict[str, Any], origin: str = "platform") -> PendingCall:
        raise NotImplementedError

    def pump(self, charge_point_id: str, connection_id: str | None = None) -> bool:
        raise NotImplementedError

    def setup_calls(self, charge_point_id: str) -> list[PendingCall]:
        """The configuration every charger gets after a BootNotification."""
        calls = [
            ("ChangeConfiguration", {"key": "MeterValuesSampledData", "value": METER_MEASURANDS}),
            ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": str(self.meter_sample_interval_s)}),
            ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": str(self.heartbeat_interval_s)}),
            ("GetConfiguration", {"key": list(CAPABILITY_KEYS)}),
        ]
        return [self.enqueue(charge_point_id, a, p, "setup") for a, p in calls]

    def after_message(self, charge_point_id: str, connection_id: str | None, connected_at: datetime | None,
                      action: str | None) -> None:
        """Called after a charger's message was answered.

        Only a young connection pays for this (one read): see the module doc.
        """
        if connection_id is None or connected_at is None:
            return
        if self.clock() - connected_at > SETUP_WINDOW:
            return
        current, set_up, booted_at = self.link.connection(charge_point_id)
        if current != connection_id:
            return
        if set_up != connection_id and self.link.mark_setup(charge_point_id, connection_id):
            if action == "BootNotification":
                self.setup_calls(charge_point_id)
            else:
                # Reconnected without a BootNotification: ask for one (which brings the
                # configuration) and for the connectors' states.
                self.enqueue(charge_point_id, "TriggerMessage", {"requestedMessage": "BootNotification"}, "setup")
                self.enqueue(charge_point_id, "TriggerMessage", {"requestedMessage": "StatusNotification"}, "setup")
        elif action == "BootNotification":
            # A BootNotification on a connection already set up (e.g. answering our trigger).
            self.setup_calls(charge_point_id)
        if action != "BootNotification":
            # Not after a BootNotification: its answer has not reached the charger yet
            # (it is this invocation's route response), and a charger may refuse calls
            # before its boot is accepted. The StatusNotifications that follow send them.
            self.pump(charge_point_id, connection_id)
