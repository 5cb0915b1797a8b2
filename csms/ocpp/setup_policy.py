"""Connection set-up policy: what the platform asks of a charger on a young connection.

Right after a charger connects its socket is not open yet (API Gateway), so the first messages of a
young connection (``connected_at`` within ``SETUP_WINDOW``) check whether the connection has been
set up (one read each, only then): the configuration after a BootNotification, or, when the charger
reconnected without one, TriggerMessage BootNotification and StatusNotification.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from csms.ocpp.commands import CAPABILITY_KEYS, METER_MEASURANDS, Commander, PendingCall

SETUP_WINDOW = timedelta(seconds=120)


def setup_calls(commander: Commander, charge_point_id: str) -> list[PendingCall]:
    """The configuration every charger gets after a BootNotification."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("ChangeConfiguration", {"key": "MeterValuesSampledData", "value": METER_MEASURANDS}),
        ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": str(commander.meter_sample_interval_s)}),
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": str(commander.heartbeat_interval_s)}),
        ("GetConfiguration", {"key": list(CAPABILITY_KEYS)}),
    ]
    return [commander.enqueue(charge_point_id, a, p, "setup") for a, p in calls]


class ConnectionSetup:
    """The ``after_call`` hook of the central system: called after a charger's message was answered."""

    def __init__(self, commander: Commander):
        self.commander = commander

    def __call__(self, charge_point_id: str, connection_id: str | None, connected_at: datetime | None,
                 action: str | None) -> None:
        """Only a young connection pays for this (one read): see the module doc."""
        commander = self.commander
        if connection_id is None or connected_at is None:
            return
        if commander.clock() - connected_at > SETUP_WINDOW:
            return
        current, set_up, booted_at = commander.link.connection(charge_point_id)
        if current != connection_id:
            return
        if set_up != connection_id and commander.link.mark_setup(charge_point_id, connection_id):
            if action == "BootNotification":
                setup_calls(commander, charge_point_id)
            else:
                # Reconnected without a BootNotification: ask for one (which brings the
                # configuration) and for the connectors' states.
                commander.enqueue(charge_point_id, "TriggerMessage", {"requestedMessage": "BootNotification"}, "setup")
                commander.enqueue(charge_point_id, "TriggerMessage", {"requestedMessage": "StatusNotification"}, "setup")
        elif action == "BootNotification":
            # A BootNotification on a connection already set up (e.g. answering our trigger).
            setup_calls(commander, charge_point_id)
        if action != "BootNotification":
            # Not after a BootNotification: its answer has not reached the charger yet
            # (it is this invocation's route response), and a charger may refuse calls
            # before its boot is accepted. The StatusNotifications that follow send them.
            commander.pump(charge_point_id, connection_id)
