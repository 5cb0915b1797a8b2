"""A grid-demand event across the fleet run's tasks, without one LP (issue 16): two stages, as
``bench/bench_fleet.py`` models them.

1. Every task of the run (a page of a shard's chargers, a page of a shard's limited sites) plans the
   vehicles an active event covers *without* the event (its sites' own limits only) and records,
   per event, their load per slot (kW) in the run's ledger (``csms.charging.ports.RunLedger``). A
   task's covered vehicles are split into *classes*: vehicles covered by the same set of events
   (``class_key``), so that each class can later be held to each of its events' shares at once.
2. When the last task of stage 1 is counted (``Tally.complete``), each unit (task, class) gets, per
   event and slot, its share of the event's cap in proportion to its stage-1 load (``split``;
   an equal split where no unit drew anything) and is planned again inside it.

The shares of an event add up to its cap in every slot, so the event's cap holds whatever each unit
does inside its share (each unit's planner holds its share as a cap). A split in proportion to the
unconstrained load is not the optimum (a unit with slack cannot hand it to one short of energy; the
gap is measured in ``bench/bench_fleet.py``), but it needs one exchange of a few numbers per task.

Pure: no storage, no AWS. Slots are ``csms.charging.tariff.SLOT`` (30 minutes), UTC; power in kW.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from csms.charging.tariff import SLOT, slot_start

HORIZON = timedelta(hours=48)  # what the planner plans ahead (csms.charging.signals.horizon)


def class_key(event_ids: Iterable[str]) -> str:
    """The name of the class of vehicles covered by exactly these events ("" for none)."""
    return "+".join(sorted(set(event_ids)))


def event_slots(start: datetime, end: datetime, now: datetime, horizon: timedelta = HORIZON) -> list[datetime]:
    """The slot starts (UTC) from the slot holding ``now`` up to ``now + horizon`` that overlap the
    event's window [start, end). A slot the event covers only in part counts whole (held on the safe
    side)."""
    out = []
    at = max(slot_start(now), slot_start(start))
    while at < end and at < now + horizon:
        out.append(at)
        at += SLOT
    return out


def slot_load(plans: Iterable[Iterable[tuple[datetime, datetime, float]]], slots: list[datetime]) -> list[float]:
    """The plans' mean power together in each slot (kW), from (start, end, W) intervals."""
    load = [0.0] * len(slots)
    if not slots:
        return load
    first = slots[0]
    for plan in plans:
        for start, end, watts in plan:
            if watts <= 0 or end <= start:
                continue
            i = max(0, int((start - first) / SLOT))
            while i < len(slots) and slots[i] < end:
                overlap = (min(end, slots[i] + SLOT) - max(start, slots[i])).total_seconds()
                if overlap > 0:
                    load[i] += watts / 1000 * overlap / SLOT.total_seconds()
                i += 1
    return load


def split(caps: list[float], loads: Mapping[str, list[float]]) -> dict[str, list[float]]:
    """Each unit's share of an event's cap per slot (kW): ``cap[t] * load_u[t] / sum(load[t])``, or
    ``cap[t] / units`` where the units drew nothing in slot t. Shares add up to the cap in every slot
    (up to rounding). Raises ValueError when a unit's load has another length than the caps."""
    units = sorted(loads)
    for unit in units:
        if len(loads[unit]) != len(caps):
            raise ValueError(f"unit {unit}: {len(loads[unit])} slots of load for {len(caps)} slots of cap")
    out: dict[str, list[float]] = {u: [] for u in units}
    for t, cap in enumerate(caps):
        total = sum(max(0.0, loads[u][t]) for u in units)
        for u in units:
            out[u].append(cap * max(0.0, loads[u][t]) / total if total > 1e-9 else cap / len(units))
    return out


def event_cap(cap_kw: float | None, reduction_kw: float | None, capacity_kw: float) -> float:
    """The cap (kW) an event holds its vehicles to: its cap, or ``capacity_kw`` (the covered limited
    sites' limits plus each covered vehicle's maximum on no limited site, summed over the run's
    tasks) less the reduction, never below 0."""
    if cap_kw is not None:
        return float(cap_kw)
    return max(0.0, capacity_kw - (reduction_kw or 0.0))


@dataclass(frozen=True)
class Tally:
    """The run's counter: tasks ``expected`` (the dispatched ones, plus one per page handed on) and
    ``done`` (stage 1 recorded, each task once)."""

    expected: int
    done: int

    def complete(self) -> bool:
        """Stage 1 is over: every expected task is counted (the one whose count makes it so starts stage 2)."""
        return self.expected > 0 and self.done >= self.expected


SHARE = "share"  # the task kind of a unit's stage 2
SOURCES = ("shard", "sites")  # what a unit's members are: sessions of a charger page, or limited sites


@dataclass(frozen=True)
class ShareTask:
    """Stage 2 of one unit: ``task`` and ``cls`` name it in the run's ledger; ``source`` says what
    its members are (``SOURCES``); ``shares``: per event id, the first slot (UTC) and the unit's
    share of the event's cap in each slot from there (kW)."""

    run_at: datetime
    task: str
    cls: str
    source: str
    shares: Mapping[str, tuple[datetime, tuple[float, ...]]]

    def body(self) -> dict:
        from csms.timeutil import iso

        return {"kind": SHARE, "runAt": iso(self.run_at), "task": self.task, "class": self.cls, "source": self.source,
                "shares": {e: {"first": iso(first), "kw": [math.floor(x * 1000) / 1000 for x in kw]}  # never up
                           for e, (first, kw) in self.shares.items()}}

    @classmethod
    def from_body(cls, body: dict) -> ShareTask:
        """Raises ``csms.charging.fanout.BadMessage``."""
        from csms.charging.fanout import BadMessage, _field, _time
        from csms.timeutil import parse_ts

        if not isinstance(body, dict) or body.get("kind") != SHARE:
            raise BadMessage("not a share task")
        if body.get("source") not in SOURCES:
            raise BadMessage("message field 'source' is not one of " + ", ".join(SOURCES))
        try:
            shares = {str(e): (parse_ts(v["first"]), tuple(float(x) for x in v["kw"]))
                      for e, v in _field(body, "shares", dict).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise BadMessage("message field 'shares' is not {event: {first, kw}}") from exc
        return cls(_time(body, "runAt"), _field(body, "task", str), _field(body, "class", str), body["source"], shares)

    def caps(self) -> list[tuple[datetime, datetime, float]]:
        """The shares as caps on the unit's vehicles: (slot start, slot end, kW), every event's."""
        return [(first + i * SLOT, first + (i + 1) * SLOT, kw)
                for first, values in self.shares.values() for i, kw in enumerate(values)]


def plan_shares(records: Mapping[str, Mapping[str, dict]], events: Mapping[str, tuple[float | None, float | None]],
                run_at: datetime) -> list[ShareTask]:
    """Stage 2's tasks from every task's stage-1 record (``RunLedger.records``: task -> class ->
    {"source", "first": event -> ISO, "loads": event -> kW per slot, "capacity": event -> kW}) and
    the events still active (event id -> (cap kW, reduction kW)): one task per unit (task, class),
    with its share of each of its events. An event no unit recorded, or no longer active, is left
    out (nothing to hold, or nothing to hold it to); a unit left with no share at all is still
    planned (without a cap)."""
    from csms.timeutil import parse_ts

    units = {(task, cls): unit for task, classes in records.items() for cls, unit in classes.items()}
    shares: dict[tuple[str, str], dict[str, tuple[datetime, tuple[float, ...]]]] = {u: {} for u in units}
    for event_id, (cap_kw, reduction_kw) in events.items():
        covered = {u: unit for u, unit in units.items() if event_id in unit.get("loads", {})}
        if not covered:
            continue
        capacity = sum(float(unit.get("capacity", {}).get(event_id, 0.0)) for unit in covered.values())
        firsts = {unit["first"][event_id] for unit in covered.values()}
        if len(firsts) != 1:
            raise ValueError(f"event {event_id}: units recorded different slots {sorted(firsts)}")
        first = parse_ts(firsts.pop())
        length = max(len(unit["loads"][event_id]) for unit in covered.values())
        cap = event_cap(cap_kw, reduction_kw, capacity)
        loads = {f"{t}\n{c}": list(unit["loads"][event_id]) + [0.0] * (length - len(unit["loads"][event_id]))
                 for (t, c), unit in covered.items()}
        for name, kw in split([cap] * length, loads).items():
            task, cls = name.split("\n", 1)
            shares[(task, cls)][event_id] = (first, tuple(kw))
    return [ShareTask(run_at, task, cls, units[(task, cls)]["source"], shares[(task, cls)]) for (task, cls) in sorted(units)]
