"""A site's allowance of a large grid-demand event's cap: what lets a plug-in under a region-wide or
fleet-wide event re-plan its own site (or its vehicle alone, on no site) instead of the event's
whole group, while the event's cap still holds (issue 16).

A *large* event (``is_large``): a region or the whole fleet, or a site / charger list whose group
had more than ``LARGE_GROUP_CHARGERS`` chargers when it was created. Re-planning its group on every
plug-in would cost O(region) or O(fleet) reads and one LP of that size per plug-in; instead a
plug-in under one plans only its *unit* (``unit_of``: the charger's site, or ``cp:<id>`` on no site)
against the unit's allowance of each covering event's cap, slot by slot.

Allowance (kW per half-hour slot, per event and unit), two sources:

1. **Recorded** by the periodic run (``record_allowances``, called by
   ``adapters.fanout_events.plan_share``): the run gives each of its task units a share of the
   event's cap per slot (two stages, ``csms.charging.event_shares``) and plans it; each site of the
   unit is then allowed its planned load in that slot plus its part of the unit's unused share, in
   proportion to its capacity (``split_share``). The allowances of a unit sum to at most its share,
   and the shares to at most the cap. Before its units record, the run stores a *run mark* for the
   event (``run_mark``); from then on only allowances of the marked run count, and a unit it did not
   record (no vehicle plugged in then) is allowed 0 kW in the window until the next run: the run
   gave the whole cap to the units it recorded. So the sites together never exceed the cap in any
   slot, however each re-plans inside its allowance. Items expire at the event's end (TTL).
2. **Fallback** (``fallback_kw``) before any periodic run recorded one (an event created minutes
   ago): the event's cap times the unit's capacity over the event group's capacity (proportional
   sharing of a constrained connection by capacity, the rule of "fair" flexible-connection curtailment
   in GB DNO practice, e.g. UK Power Networks' pro-rata curtailment of flexible connections). The
   group's capacity is computed ONCE, when an operator creates the event
   (``csms.charging.site_ops``, stored with the event: ``GridEvent.group_capacity_kw``), never on a
   per-message path. The fallbacks of all the units sum to at most the cap. An event stored without
   a capacity (before this rule) allows 0 kW until a periodic run records an allowance.

The new vehicle's energy may fall short inside the event window under its site's allowance (the
allowance was cut for the site's earlier load): the next periodic run (at most 15 minutes later)
re-balances the shares across the group. Energy owed to drivers outside the window is unaffected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from csms.charging.groups import CHARGERS, FLEET, REGION, GridEvent
from csms.charging.signals import DemandEvent
from csms.charging.tariff import SLOT, slot_start

if TYPE_CHECKING:
    from csms.charging.ports import AllowanceStore
    from csms.charging.scheduler import Interval

LARGE_GROUP_CHARGERS = 5_000  # a site / charger list above this many chargers is re-planned by unit


@dataclass(frozen=True)
class Allowance:
    """A unit's allowance of one event: ``kw[i]`` (kW) from ``starts[i]`` for one slot (30 min, UTC)."""

    event_id: str
    unit: str
    starts: tuple[datetime, ...]
    kw: tuple[float, ...]
    run: str = ""  # the periodic run that recorded it (its dispatch time, ISO); "" for none


RUN_UNIT = "~run"  # the unit of an event's run mark: which periodic run split its cap last


def run_mark(event: GridEvent, run: str) -> Allowance:
    """The mark the periodic run stores (``RUN_UNIT``) when it splits ``event``'s whole cap between
    its task units (``adapters.fanout_events.start_stage2``): from then on, a unit's allowance counts
    only if that run recorded it. A unit the run did not record (no vehicle plugged in then), or
    recorded by an earlier run, is allowed 0 kW in the window until the next run (at most 15
    minutes): the run gave the whole cap to the units it recorded, so neither a fallback nor an
    older allowance may add to it."""
    return Allowance(event.event_id, RUN_UNIT, (), (), run)


def is_large(event: GridEvent) -> bool:
    """Whether a plug-in under ``event`` re-plans its unit against an allowance (not the event's group):
    a region or fleet event, or a site / charger list of more than ``LARGE_GROUP_CHARGERS`` chargers
    (as counted when it was created; a list of unknown size counts as small)."""
    if event.target.kind in (FLEET, REGION):
        return True
    return event.target.kind != CHARGERS and (event.group_chargers or 0) > LARGE_GROUP_CHARGERS


def unit_of(charge_point_id: str, site_id: str | None) -> str:
    """The unit a charger is re-planned in under a large event: its site id (a site with a limit), or
    ``cp:<id>`` (``site_id`` None: on no site, or on a site without a limit, whose chargers nothing
    but the event couples)."""
    return site_id if site_id else f"cp:{charge_point_id}"


def event_cap_kw(event: GridEvent) -> float:
    """The event's cap (kW): ``cap_kw``, or the stored group capacity less ``reduction_kw`` (0 when
    the capacity is unknown)."""
    if event.cap_kw is not None:
        return float(event.cap_kw)
    return max(0.0, (event.group_capacity_kw or 0.0) - (event.reduction_kw or 0.0))


def fallback_kw(event: GridEvent, unit_capacity_kw: float) -> float:
    """The fallback allowance (kW, every slot): cap x unit capacity / group capacity (module text);
    0 when the group's capacity is unknown or 0."""
    group = event.group_capacity_kw or 0.0
    if group <= 0:
        return 0.0
    return event_cap_kw(event) * min(1.0, max(0.0, unit_capacity_kw) / group)


def window_slots(event: GridEvent, now: datetime) -> list[datetime]:
    """Slot starts (UTC, 30 min) from the slot holding ``max(now, event.start)`` to the event's end."""
    at, out = slot_start(max(now, event.start)), []
    while at < event.end:
        out.append(at)
        at += SLOT
    return out


def load_kw(plans: Iterable[Sequence[Interval]], starts: Sequence[datetime]) -> list[float]:
    """The highest power (kW) the plans draw together at any instant of each slot: a site's planned
    load per slot, as ``split_share`` takes it."""
    plans = [list(p) for p in plans]
    out = []
    for start in starts:
        end = start + SLOT
        edges = sorted({start, *(t for p in plans for i in p for t in (i.start, i.end) if start < t < end)})
        out.append(max((sum(i.power_w for p in plans for i in p if i.start <= at < i.end) for at in edges),
                       default=0.0) / 1000)
    return out


def split_share(share_kw: Sequence[float], planned_kw: Mapping[str, Sequence[float]],
                capacity_kw: Mapping[str, float]) -> dict[str, list[float]]:
    """A unit's share of an event's cap (kW per slot) split among its sites (same slots): each site's
    planned load plus its part of what the unit leaves unused, in proportion to its capacity; where
    the planned loads together exceed the share, each is scaled down to it. The result sums to at
    most ``share_kw`` in every slot. Sites: the keys of ``capacity_kw`` (a site missing from
    ``planned_kw`` planned nothing)."""
    sites = sorted(capacity_kw)
    total_capacity = sum(max(0.0, capacity_kw[s]) for s in sites)
    out: dict[str, list[float]] = {s: [] for s in sites}
    for t, share in enumerate(share_kw):
        share = max(0.0, float(share))
        planned = {s: max(0.0, float(planned_kw[s][t])) if s in planned_kw else 0.0 for s in sites}
        used = sum(planned.values())
        scale = min(1.0, share / used) if used > 0 else 1.0
        unused = max(0.0, share - used * scale)
        for s in sites:
            part = unused * max(0.0, capacity_kw[s]) / total_capacity if total_capacity > 0 else 0.0
            out[s].append(planned[s] * scale + part)
    return out


def unrecorded_reserve_kw(event: GridEvent, recorded_capacity_kw: float) -> float:
    """What the periodic run keeps back from the units' shares (kW, every slot) for the sites of the
    event's group that no unit recorded (no vehicle plugged in at the run): their fallbacks together,
    the cap x (group capacity - the recorded units' capacity) / group capacity."""
    group = event.group_capacity_kw or 0.0
    if group <= 0:
        return 0.0
    return event_cap_kw(event) * max(0.0, group - recorded_capacity_kw) / group


def record_allowances(store: AllowanceStore, event: GridEvent, now: datetime, share_kw: Sequence[float],
                      planned_kw: Mapping[str, Sequence[float]], capacity_kw: Mapping[str, float],
                      run: str = "") -> int:
    """The periodic run's call, once per task unit and large event after the unit is planned:
    records each site's allowance (``split_share``) for the slots of ``window_slots(event, now)``.
    ``share_kw``: the unit's share of the cap per slot of that window (kW; the units' shares plus
    ``unrecorded_reserve_kw`` at most the cap); ``planned_kw``: each site's planned load per slot
    (``load_kw``); ``capacity_kw``: each site's capacity (its connection limit, else its chargers'
    maximum power; a unit's vehicles on no site as ``unit_of`` keys). One write per site (a
    BatchWriteItem of 25), kept until the event ends. Returns the allowances written; raises
    ValueError when a sequence is not one value per slot of the window."""
    starts = window_slots(event, now)
    if not starts:
        return 0
    if len(share_kw) != len(starts) or any(len(v) != len(starts) for v in planned_kw.values()):
        raise ValueError(f"one value per slot of the event's window ({len(starts)} slots) is needed")
    split = split_share(share_kw, planned_kw, capacity_kw)
    allowances = [Allowance(event.event_id, unit, tuple(starts), tuple(math.floor(k * 1000) / 1000 for k in kw), run)
                  for unit, kw in split.items()]  # rounded down: together never above the share
    store.put_allowances(allowances, event.end)
    return len(allowances)


def unit_caps(events: Sequence[GridEvent], recorded: Mapping[str, Allowance], unit_capacity_kw: float,
              now: datetime, marks: Mapping[str, Allowance] | None = None) -> list[DemandEvent]:
    """The caps a unit is re-planned under: for each event, its recorded allowance per slot (keyed by
    event id in ``recorded``), else its fallback over the whole window, as the planner's demand
    events (kW) clipped to the event's window. A slot of the window the record does not cover
    (none but past ones, as ``record_allowances`` writes the whole window) takes the fallback.
    ``marks``: the events' run marks (``run_mark``, keyed by event id): once a periodic run has split
    an event's cap, only an allowance of that run counts, and the fallback is 0 kW."""
    out: list[DemandEvent] = []
    for event in events:
        allowance = recorded.get(event.event_id)
        fallback = fallback_kw(event, unit_capacity_kw)
        mark = (marks or {}).get(event.event_id)
        if mark is not None:
            fallback = 0.0
            if allowance is not None and allowance.run != mark.run:
                allowance = None  # an older run's: the current run gave its part of the cap to others
        if allowance is None:
            out.append(DemandEvent(max(event.start, slot_start(now)), event.end, fallback))
            continue
        kw = dict(zip(allowance.starts, allowance.kw))
        for start in window_slots(event, now):
            out.append(DemandEvent(max(start, event.start), min(start + SLOT, event.end), kw.get(start, fallback)))
    return out


def unit_capacity_kw(site_limit_kw: float | None, chargers: int, max_power_kw: float) -> float:
    """A unit's capacity (kW): its site's connection limit, else ``max_power_kw`` per charger (a
    charger on no site is a unit of one). The units' capacities sum to the group's
    (``csms.charging.groups.Group.capacity_kw``)."""
    return float(site_limit_kw) if site_limit_kw is not None else max_power_kw * max(1, chargers)


def group_size(sites: Iterable[tuple[float | None, int]], other_chargers: int, max_power_kw: float) -> tuple[float, int]:
    """An event group's (capacity kW, chargers) when the event is created: ``sites`` as (connection
    limit or None, chargers on it) and ``other_chargers`` on no site, each counted by
    ``unit_capacity_kw``."""
    capacity, chargers = 0.0, other_chargers
    for limit, members in sites:
        chargers += members
        if limit is not None or members:
            capacity += unit_capacity_kw(limit, members, max_power_kw)
    return capacity + max_power_kw * other_chargers, chargers
