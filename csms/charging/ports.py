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


if TYPE_CHECKING:  # annotations only
    from csms.charging.groups import EventTarget, GridEvent
    from csms.charging.sites import Site


class SiteStore(Protocol):
    """Sites (``csms.charging.sites.Site``) and which charger is on which (one site per charger).
    Every read is by key: a site's chargers are one Query on the site, never a Scan."""

    def put(self, site: Site, replace: bool = True) -> bool:
        """Create or replace a site (its chargers stay); True when it is new. With ``replace=False``
        an existing site is left as it is (a conditional write) and False is returned."""

    def get(self, site_id: str) -> Site | None: ...

    def listed(self) -> list[Site]:
        """Every site, by id."""

    def delete(self, site_id: str) -> bool:
        """Remove a site and unassign its chargers; False when there is no such site."""

    def assign(self, site_id: str, charge_point_id: str) -> str | None:
        """Put a charger on a site (off any other); returns the site it was on. Raises LookupError
        when the site does not exist."""

    def unassign(self, charge_point_id: str) -> str | None:
        """Take a charger off its site; returns that site (None: it was on none)."""

    def members(self, site_id: str) -> list[str]:
        """The site's charge point ids, sorted."""

    def defaults(self, site_id: str) -> dict[str, str | None]:
        """The site's chargers with the default limit each was last sent (None: none yet)."""

    def mark_default(self, site_id: str, charge_point_id: str, value: str) -> None:
        """Remember the default limit sent to a charger of the site (nothing if it left the site)."""

    def site_of(self, charge_point_id: str) -> Site | None: ...

    def sites_of(self, charge_point_ids: list[str]) -> dict[str, Site | None]:
        """Many chargers' sites at once (batched reads: the periodic run)."""

    def in_region(self, region: str) -> list[Site]: ...

    def limited(self, shard: str, limit: int, after: str | None = None) -> tuple[list[Site], str | None]:
        """The sites with a limit (``Site.connection_kw``) in one shard of their sparse list (the
        active-index's shards "0".."15", by a stable hash of the site id): at most ``limit`` by site
        id after ``after``, and the id to continue after (None: the shard is done). No Scan."""

    def claim_replan(self, key: str, until: datetime, now: datetime) -> bool:
        """Coalescing a burst: True for the first claim of ``key`` (a site or event group) while no
        run of it is under way (none claimed, or its lease ``until`` <= ``now``); the winner plans the
        group. A request that loses the claim
        marks it (``release_replan`` then says so). ``until`` is a lease: a claim whose run died
        frees itself then."""

    def release_replan(self, key: str) -> bool:
        """After the claimed run: True when requests came in meanwhile (the claim is kept: plan
        again, then release again); False when none did (the claim is gone)."""


class TargetedEvents(Protocol):
    """Grid-demand events with a target and a cap or a reduction (``csms.charging.groups``)."""

    def add_targeted(self, start: datetime, end: datetime, *, cap_kw: float | None, reduction_kw: float | None,
                     target: EventTarget, group_capacity_kw: float | None = None,
                     group_chargers: int | None = None) -> str:
        """Store an event (checked by ``groups.check_event``) with its group's capacity (kW) and
        charger count as counted at creation (``GridEvent``); returns its id."""

    def cancel(self, event_id: str) -> bool:
        """False when there is no such event."""

    def grid_events(self, now: datetime) -> list[GridEvent]:
        """Every event that ends after ``now`` (cancelled ones flagged), oldest first."""


if TYPE_CHECKING:  # annotations only
    from csms.charging.event_shares import Tally


class RunLedger(Protocol):
    """The periodic run's ledger for grid-demand events (``csms.charging.event_shares``): per run a
    counter of tasks and each task's stage-1 record. ``run`` names the run (its dispatch time, ISO);
    ``task`` a task of it (unique in the run). Entries expire after a day."""

    def open(self, run: str, tasks: int) -> None:
        """Start the run's counter with ``tasks`` expected, before they are queued (a second open of
        the same run keeps the first)."""

    def expect(self, run: str, more: int = 1) -> None:
        """``more`` tasks expected: a page handed on, counted *before* it is queued."""

    def record(self, run: str, task: str, units: dict, members: dict[str, list[str]]) -> Tally:
        """Store a task's stage-1 record (``units``: class -> {"source", "loads": event -> kW per slot,
        "capacity": event -> kW}) and each class's members, and count the task done, once: a task
        delivered again counts nothing. Returns the counter after."""

    def records(self, run: str) -> dict[str, dict]:
        """Every recorded task's units (task -> units)."""

    def members(self, run: str, task: str, cls: str) -> list[str]:
        """A class's members in a task: session keys ``<charge point id>#<transaction id>`` (a charger
        task) or site ids (a site task)."""

    def claim_stage2(self, run: str) -> bool:
        """True for the first claim of queuing the run's stage 2; False once claimed."""

    def release_stage2(self, run: str) -> None:
        """Undo a claim whose queuing failed (the task is delivered again and claims again)."""


if TYPE_CHECKING:  # annotations only
    from csms.charging.allowances import Allowance


class AllowanceStore(Protocol):
    """Units' allowances of large grid-demand events' caps (``csms.charging.allowances``), by key only."""

    def put_allowances(self, allowances: list[Allowance], until: datetime) -> None:
        """Store (replace) each allowance; kept until ``until`` (the event's end, UTC)."""

    def allowances(self, unit: str, event_ids: list[str]) -> dict[str, Allowance]:
        """The unit's recorded allowances of the events given, by event id (an event without one is
        missing): one batched read."""
