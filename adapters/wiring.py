"""Composition root: the domain's CentralSystem wired to DynamoDB."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from adapters.dynamo.calls import DynamoCallQueue
from adapters.dynamo.models import bind
from adapters.dynamo.repositories import (
    DynamoChargers,
    DynamoConnectors,
    DynamoEvents,
    DynamoMeter,
    DynamoReview,
    DynamoSessions,
    DynamoSignals,
)
from adapters.dynamo.firmware import DynamoFirmware
from adapters.management_api import ManagementApiPoster
from adapters.settings import Settings
from csms.central import CentralSystem
from csms.commands import Commander
from csms.firmware.campaigns import Firmware
from csms.firmware.diagnostics import Diagnostics
from csms.firmware.hooks import notification_hook


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    chargers: DynamoChargers
    connectors: DynamoConnectors
    sessions: DynamoSessions
    meter: DynamoMeter
    review: DynamoReview
    calls: DynamoCallQueue
    commander: Commander
    central: CentralSystem
    signals: DynamoSignals
    events: DynamoEvents
    replanner: "Replanner"
    firmware: Firmware | None = None
    diagnostics: Diagnostics | None = None


# Messages after which the fleet is re-planned at once (a vehicle came or went), not only at
# the next scheduled run.
REPLAN_AFTER = frozenset({"StartTransaction", "StopTransaction"})


class Replanner:
    """Asks for a re-plan: in AWS an asynchronous invoke of the scheduler function (one Lambda
    API call per plug-in / unplug); locally the local platform wakes its job. ``request`` is None
    where nothing re-plans (tests, a stack without a scheduler)."""

    def __init__(self, request=None):
        self.request = request

    def __call__(self, charge_point_id: str) -> None:
        if self.request is not None:
            self.request(charge_point_id)


def file_store(settings: Settings):
    """Where firmware images and diagnostics live: the local platform's disk (served by its HTTPS
    port), the stack's S3 buckets, or nowhere (None: the firmware routes answer 503)."""
    if settings.local_files_dir and settings.local_files_url:
        from adapters.local_files import LocalFiles

        return LocalFiles(settings.local_files_dir, settings.local_files_url)
    if settings.firmware_bucket or settings.diagnostics_bucket:
        from adapters.files import S3Files

        return S3Files(settings.firmware_bucket, settings.diagnostics_bucket, settings.region, settings.s3_endpoint)
    return None


def build_runtime(settings: Settings) -> Runtime:
    bind(settings)
    chargers, connectors, sessions = DynamoChargers(), DynamoConnectors(), DynamoSessions()
    meter, review, calls = DynamoMeter(), DynamoReview(), DynamoCallQueue()
    # Without a management endpoint nothing can be sent; calls stay queued.
    poster = (
        ManagementApiPoster(settings.management_api_endpoint, settings.region)
        if settings.management_api_endpoint
        else None
    )
    commander = Commander(calls, chargers, poster, heartbeat_interval_s=settings.heartbeat_interval_s)
    replanner = Replanner()
    if settings.scheduler_function:
        from adapters.replan import lambda_replan

        replanner.request = lambda_replan(settings.scheduler_function, settings.region)

    def after_call(charge_point_id, connection_id, connected_at, action):
        commander.after_message(charge_point_id, connection_id, connected_at, action)
        if action in REPLAN_AFTER:
            try:
                replanner(charge_point_id)
            except Exception:  # the next scheduled run re-plans anyway
                logging.getLogger(__name__).exception("re-plan request failed")

    files, firmware_store = file_store(settings), DynamoFirmware()
    firmware = Firmware(store=firmware_store, files=files, sender=commander, fleet=chargers, transactions=sessions)
    diagnostics = Diagnostics(store=firmware_store, files=files, sender=commander, fleet=chargers,
                              file_names=lambda cp: chargers.capabilities(cp).get("diagnostics.file"))
    central = CentralSystem(
        chargers,
        connectors,
        sessions,
        meter,
        review,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        on_response=commander.on_response,
        after_call=after_call,
        on_notification=notification_hook(firmware, diagnostics),
    )
    return Runtime(settings, chargers, connectors, sessions, meter, review, calls, commander, central,
                   DynamoSignals(), DynamoEvents(), replanner, firmware, diagnostics)


def build_operations(rt: Runtime, clock=None):
    """The operator / driver operations (HTTP API, CLI) over the same runtime."""
    from csms.firmware.operations import FirmwareOperations
    from csms.operations import Operations
    from csms.timeutil import utcnow

    return Operations(chargers=rt.chargers, connectors=rt.connectors, sessions=rt.sessions, meter=rt.meter,
                      calls=rt.calls, commander=rt.commander, signals=rt.signals, events=rt.events,
                      replan=rt.replanner, clock=clock or utcnow,
                      firmware=FirmwareOperations(rt.firmware, rt.diagnostics))
