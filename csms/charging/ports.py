"""What smart charging needs from the rest of the platform, one small Protocol per role.

Implemented by ``adapters.dynamo`` and ``adapters.smart_charging`` (DynamoDB, the outbound call
queue) and by ``tests.fakes`` (in memory)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

if TYPE_CHECKING:  # annotations only
    from csms.model import Session
    from csms.model import Preference
    from csms.charging.planner import DemandEvent
    from csms.charging.scheduler import Interval, PlugIn
    from csms.charging.signals import SignalRow
    from csms.charging.tariff import Signals

Replan = Callable[[str], None]
"""Ask for a re-plan: a charge point id after a plug-in, unplug or preference change, ``"*"`` for the
fleet (a grid-demand event). In AWS an asynchronous invoke of the scheduler; never waits for it."""


class Preferences(Protocol):
    """The driver's preference as the charger store keeps it (departure UTC, energy kWh, carbon GBP/t)."""

    def preference(self, charge_point_id: str) -> Preference:
        """The stored preference; an empty ``Preference()`` when none is stored."""

    def set_preference(self, charge_point_id: str, departure: datetime | None, energy_kwh: float | None,
                       charge_now: bool = False, carbon_price: float | None = None) -> bool:
        """Store the preference; False when there is no such charger."""


class PlanSink(Protocol):
    def send(self, plug: PlugIn, plan: list[Interval], now: datetime) -> bool:
        """Send the plan to the charger; True when queued."""

    def saved(self, plug: PlugIn, plan: list[Interval], digest: str) -> None:
        """Remember the plan sent (for 'only on change' and for the app)."""


class SignalStore(Protocol):
    """Half-hourly price (p/kWh) and carbon intensity (gCO2/kWh) rows, by slot start (UTC)."""

    def put(self, rows: Iterable[SignalRow], at: datetime) -> int:
        """Store rows; a row's empty fields keep what is stored. Returns rows written."""

    def rows(self, start: datetime, end: datetime) -> list[SignalRow]:
        """Rows with ``start <= row.start <= end``, oldest first."""

    def window(self, start: datetime, end: datetime) -> Signals | None:
        """The gap-free run of priced slots from ``start`` (None: no price for ``start``)."""


class EventStore(Protocol):
    """Grid-demand (DNO) events: the site's import capped at ``cap_kw`` (kW) from start to end (UTC)."""

    def add(self, start: datetime, end: datetime, cap_kw: float) -> str:
        """Store an event; returns its id (URL-safe, sorts by start)."""

    def cancel(self, event_id: str) -> bool:
        """False when there is no such event."""

    def listed(self, now: datetime) -> list[tuple[str, DemandEvent, bool]]:
        """(id, event, cancelled) of every event that ends after ``now``, oldest first."""

    def active(self, now: datetime) -> list[DemandEvent]:
        """Events not cancelled that end after ``now``."""


class WorkQueue(Protocol):
    """A queue of small JSON messages (the fleet run's fan-out, ``csms.charging.fanout``): shard tasks
    for the planners, profile orders for the sender. SQS in AWS (``adapters.fanout.SqsQueue``), in
    process locally (``adapters.fanout.InProcessQueue``). At-least-once: a consumer that fails leaves
    the message to be delivered again, up to the queue's receive limit, then to its dead-letter queue."""

    def put(self, bodies: list[dict]) -> int:
        """Enqueue the messages (JSON-serialisable dicts, each well under 256 KB); returns how many.
        Raises when one could not be enqueued (nothing is silently dropped)."""


class ActiveShards(Protocol):
    """The sparse, sharded index of active sessions, read one shard's page at a time (no Scan)."""

    def shards(self) -> list[str]:
        """Every shard of the index ("0".."15")."""

    def page(self, shard: str, limit: int, cursor: str | None = None) -> tuple[list[Session], str | None]:
        """At most ``limit`` active sessions of ``shard`` after ``cursor``, and the cursor after the
        last one (None when the shard is done)."""
