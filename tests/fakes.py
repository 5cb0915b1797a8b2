"""In-memory implementations of every port (``csms.ocpp.ports``, ``csms.views.ports``,
``csms.charging.ports``): the same contracts as the DynamoDB adapters, for unit tests without moto
and for benchmarking the handler without storage latency. Not shipped: the Lambda package is
``csms``, ``adapters`` and ``handlers`` only (infra/constants.py SOURCE_PACKAGES). mypy checks
that each fake satisfies its ports (the ``TYPE_CHECKING`` block at the end)."""

from __future__ import annotations

from typing import TYPE_CHECKING

# The fakes live in tests/memory/ by role; every test imports them from here.
from tests.memory.calls import MemoryCallQueue, MemoryFailures, MemoryPendingKeys, MemoryPoster
from tests.memory.chargers import MemoryChargers, MemoryDriverLinks
from tests.memory.stores import (MemoryConnectors, MemoryEvents, MemoryMeter, MemoryReview, MemorySessions,
                                 MemorySignals)

__all__ = ["MemoryCallQueue", "MemoryChargers", "MemoryConnectors", "MemoryDriverLinks", "MemoryEvents", "MemoryFailures",
           "MemoryMeter", "MemoryPendingKeys", "MemoryPoster", "MemoryReview", "MemorySessions", "MemorySignals"]


if TYPE_CHECKING:  # mypy: every fake satisfies the ports it stands in for
    from csms.charging.ports import EventStore, SignalStore
    from csms.ocpp.ports import (CallQueue, ChargerLink, ChargerRepository, ConnectionPoster, ConnectorRepository,
                                 FailureStore, MeterRepository, PendingKeys, ReviewLog, SessionRepository)
    from csms.operations import OperatorChargers
    from csms.views.ports import CallRecords, DriverLinks, ReviewReader, SessionHistory

    _chargers: ChargerRepository = MemoryChargers()
    _link: ChargerLink = MemoryChargers()
    _operator_chargers: OperatorChargers = MemoryChargers()
    _connectors: ConnectorRepository = MemoryConnectors()
    _sessions: SessionRepository = MemorySessions()
    _history: SessionHistory = MemorySessions()
    _meter: MeterRepository = MemoryMeter()
    _review: ReviewLog = MemoryReview()
    _review_reader: ReviewReader = MemoryReview()
    _queue: CallQueue = MemoryCallQueue()
    _records: CallRecords = MemoryCallQueue()
    _poster: ConnectionPoster = MemoryPoster()
    _signals: SignalStore = MemorySignals()
    _events: EventStore = MemoryEvents()
    _pending_keys: PendingKeys = MemoryPendingKeys(MemoryChargers())
    _failures: FailureStore = MemoryFailures()
    _links: DriverLinks = MemoryDriverLinks(MemoryChargers())
