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
from adapters.management_api import ManagementApiPoster
from adapters.settings import Settings
from csms.central import CentralSystem
from csms.commands import Commander


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

    central = CentralSystem(
        chargers,
        connectors,
        sessions,
        meter,
        review,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        on_response=commander.on_response,
        after_call=after_call,
    )
    # The OCPP 1.6 security extension's charger messages (SignCertificate, SecurityEventNotification, ...)
    from adapters.certificate_signer import certificate_signer
    from csms.security_extension import SecurityExtension

    central.extensions.update(SecurityExtension(chargers=chargers, review=review, send=commander.send,
                                                signer=certificate_signer(settings), cpo_name=settings.cpo_name).handlers())
    return Runtime(settings, chargers, connectors, sessions, meter, review, calls, commander, central,
                   DynamoSignals(), DynamoEvents(), replanner)


def build_operations(rt: Runtime, clock=None):
    """The operator / driver operations (HTTP API, CLI) over the same runtime."""
    from csms.operations import Operations
    from csms.timeutil import utcnow

    return Operations(chargers=rt.chargers, connectors=rt.connectors, sessions=rt.sessions, meter=rt.meter,
                      calls=rt.calls, commander=rt.commander, signals=rt.signals, events=rt.events,
                      replan=rt.replanner, clock=clock or utcnow)
