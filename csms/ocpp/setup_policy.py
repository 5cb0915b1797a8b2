"""Connection set-up policy: what the platform asks of a charger on a young connection.

Right after a charger connects its socket is not open yet (API Gateway), so the first messages of a
young connection (``connected_at`` within ``SETUP_WINDOW``) check whether the connection has been
set up (one cheap read each, only then; the first one claims it with a conditional write). Set-up
happens only when something changed (issue 15): the configuration after a BootNotification only when
its version differs from the one stored on the charger; after a boot-less reconnect only TriggerMessage
StatusNotification when boot data and configuration are current, else TriggerMessage BootNotification
as well.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from csms.ocpp import codec as ocpp_j
from csms.ocpp.commands import CAPABILITY_KEYS, DIRECT_PREFIX, METER_MEASURANDS, Commander, PendingCall

SETUP_WINDOW = timedelta(seconds=120)
# Boot data older than this are re-read with TriggerMessage BootNotification on a boot-less reconnect.
BOOT_STALE_AFTER = timedelta(days=30)


def _setup_list(commander: Commander) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("ChangeConfiguration", {"key": "MeterValuesSampledData", "value": METER_MEASURANDS}),
        ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": str(commander.meter_sample_interval_s)}),
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": str(commander.heartbeat_interval_s)}),
        # MeterValues already carries every sample: a StopTransaction's transactionData would
        # repeat them (a 10-hour session: ~70 KB, over API Gateway's 32 KB frame limit, so the
        # charger would resend it for ever). Register only: the session's end reading.
        ("ChangeConfiguration", {"key": "StopTxnSampledData", "value": "Energy.Active.Import.Register"}),
        ("ChangeConfiguration", {"key": "StopTxnAlignedData", "value": ""}),
        ("GetConfiguration", {"key": list(CAPABILITY_KEYS)}),
    ]


def setup_version(commander: Commander) -> str:
    """The set-up configuration's version (16 hex digits): a digest of the calls, so any change
    re-configures."""
    text = json.dumps(_setup_list(commander), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def setup_calls(commander: Commander, charge_point_id: str) -> list[PendingCall]:
    """The configuration every charger gets after a BootNotification that finds it out of date."""
    return [commander.enqueue(charge_point_id, a, p, "setup") for a, p in _setup_list(commander)]


def _trigger_status(commander: Commander, charge_point_id: str, connection_id: str) -> bool:
    """TriggerMessage StatusNotification straight to a reconnected charger (statuses are not
    queued while offline, OCPP 1.6 section 4.9): not queued, no slot, its answer needs no read."""
    if commander.poster is None:
        return False
    frame = ocpp_j.call_frame(f"{DIRECT_PREFIX}{uuid.uuid4().hex[:16]}", "TriggerMessage",
                              {"requestedMessage": "StatusNotification"})
    if commander.poster.post(connection_id, frame):
        commander.posted(charge_point_id, connection_id, frame)
        return True
    commander.link.mark_stale(charge_point_id, connection_id)
    return False


class ConnectionSetup:
    """The ``after_call`` hook of the central system: called after a charger's message was answered."""

    def __init__(self, commander: Commander):
        self.commander = commander

    def __call__(self, charge_point_id: str, connection_id: str | None, connected_at: datetime | None,
                 action: str | None) -> None:
        """Only a young connection pays for this (one cheap read, one conditional write): see the
        module doc."""
        commander = self.commander
        if connection_id is None or connected_at is None:
            return
        if action == "BootNotification":
            # Configure only when what we configure changed since this charger was last set up.
            # Not sent now: the BootNotification's answer has not reached the charger yet (it is
            # this invocation's route response), and a charger may refuse calls before its boot
            # is accepted. The next message (the StatusNotifications that follow) sends them.
            version = setup_version(commander)
            if commander.link.boot_setup(charge_point_id, connection_id, version) != version:
                setup_calls(commander, charge_point_id)
            return
        if commander.clock() - connected_at > SETUP_WINDOW:
            return
        claim = commander.link.claim_setup(charge_point_id, connection_id)  # one conditional write
        if claim is None:
            return  # set up by an earlier message of this connection (or not its current one)
        if claim.pump_pending:
            commander.pump(charge_point_id, connection_id)  # the set-up calls a BootNotification queued
            return
        # Reconnected without a BootNotification (API Gateway's 2-hour cut, the platform's close, a
        # network blip). Boot data and configuration current: only the connectors' states, which
        # are not queued while offline. Otherwise a BootNotification too (its set-up follows).
        now = commander.clock()
        current = (claim.setup_version == setup_version(commander) and claim.boot_at is not None
                   and now - claim.boot_at <= BOOT_STALE_AFTER)
        if current:
            _trigger_status(commander, charge_point_id, connection_id)
            return
        commander.enqueue(charge_point_id, "TriggerMessage", {"requestedMessage": "BootNotification"}, "setup")
        commander.enqueue(charge_point_id, "TriggerMessage", {"requestedMessage": "StatusNotification"}, "setup")
        commander.pump(charge_point_id, connection_id)
