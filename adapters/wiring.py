"""Composition root: the domain's CentralSystem wired to DynamoDB."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.dynamo.calls import DynamoCallQueue
from adapters.dynamo.models import bind
from adapters.dynamo.repositories import (
    DynamoChargers,
    DynamoConnectors,
    DynamoMeter,
    DynamoReview,
    DynamoSessions,
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
    central = CentralSystem(
        chargers,
        connectors,
        sessions,
        meter,
        review,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        on_response=commander.on_response,
        after_call=commander.after_message,
    )
    return Runtime(settings, chargers, connectors, sessions, meter, review, calls, commander, central)
