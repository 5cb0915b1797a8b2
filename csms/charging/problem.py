"""The fleet planning problem and its answer: vehicles (kWh by departure, kW), half-hourly slots
with their cost (p/kWh) and caps (kW), and a plan (kW per vehicle and slot). The problem's
formulation and the algorithms over it are in ``csms.charging.planner``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from csms.charging.signals import DemandEvent
from csms.charging.tariff import SLOT

UNMET_PENALTY = 1e4  # p/kWh: prices unmet energy in reported objectives (the LP itself is lexicographic)
EARLY_WEIGHT = 1e-6  # p/kWh per slot: among equal costs, earlier


class PlanError(ValueError):
    """Inputs the planner cannot use (names the vehicle or slot)."""


@dataclass(frozen=True)
class Vehicle:
    id: str
    plug_in: datetime
    departure: datetime
    energy_kwh: float
    max_kw: float
    # the driver's own carbon price minus the fleet's, in p/kWh per g/kWh (0: the fleet's price)
    carbon_delta: float = 0.0


@dataclass
class Problem:
    starts: list[datetime]  # slot starts, contiguous
    cost: np.ndarray  # p/kWh per slot (price + carbon price x intensity)
    vehicles: list[Vehicle]
    site_cap_kw: float | None = None
    events: list[DemandEvent] = field(default_factory=list)
    slot: timedelta = SLOT
    carbon: np.ndarray | None = None  # g/kWh per slot: needed when a vehicle has its own carbon price
    # Caps on a subset of the vehicles (a site's connection, a site's share of an event): (vehicle
    # indices, kW per slot) each. The exact fleet LP of several sites at once.
    group_caps: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def __post_init__(self):
        self.cost = np.asarray(self.cost, dtype=float)
        if len(self.starts) != len(self.cost):
            raise PlanError("one cost per slot is needed")
        if self.carbon is not None:
            self.carbon = np.asarray(self.carbon, dtype=float)
            if len(self.carbon) != len(self.cost):
                raise PlanError("one carbon intensity per slot is needed")
        elif any(v.carbon_delta for v in self.vehicles):
            raise PlanError("a vehicle with its own carbon price needs the carbon intensity per slot")
        n = len(self.starts)
        self.group_caps = [(np.asarray(m, int), np.broadcast_to(np.asarray(c, float), (n,)).copy())
                           for m, c in self.group_caps]
        for a, b in zip(self.starts, self.starts[1:]):
            if b - a != self.slot:
                raise PlanError(f"slots must be contiguous: {a.isoformat()} then {b.isoformat()}")
        for v in self.vehicles:
            if v.departure <= v.plug_in:
                raise PlanError(f"vehicle {v.id}: departure is not after plug-in")
            if v.energy_kwh < 0 or v.max_kw <= 0 or not math.isfinite(v.energy_kwh) or not math.isfinite(v.max_kw):
                raise PlanError(f"vehicle {v.id}: energy must be >= 0 and max power > 0")

    @property
    def dt(self) -> float:
        return self.slot.total_seconds() / 3600

    def caps(self) -> np.ndarray:
        """Aggregate power cap per slot (kW): the site cap and every event overlapping the slot."""
        caps = np.full(len(self.starts), np.inf if self.site_cap_kw is None else float(self.site_cap_kw))
        for event in self.events:
            for t, start in enumerate(self.starts):
                if start < event.end and event.start < start + self.slot:
                    caps[t] = min(caps[t], event.cap_kw)
        return caps

    def group_loads(self, rows: np.ndarray, cols: np.ndarray, power: np.ndarray) -> list[np.ndarray]:
        """Per group cap, the group's power per slot (kW) of a plan."""
        out = []
        for members, _ in self.group_caps:
            mask = np.isin(rows, members)
            load = np.zeros(len(self.starts))
            np.add.at(load, cols[mask], power[mask])
            out.append(load)
        return out

    def presence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sparse (vehicle index, slot index, share of the slot plugged in) for every pair > 0."""
        if not self.starts:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        t0, dt_s = self.starts[0], self.slot.total_seconds()
        n = len(self.starts)
        rows, cols, share = [], [], []
        for i, v in enumerate(self.vehicles):
            a = (v.plug_in - t0).total_seconds() / dt_s
            b = (v.departure - t0).total_seconds() / dt_s
            lo, hi = max(0, math.floor(a)), min(n, math.ceil(b))
            for t in range(lo, hi):
                f = min(b, t + 1) - max(a, t)
                if f > 1e-9:
                    rows.append(i)
                    cols.append(t)
                    share.append(f)
        return np.asarray(rows, int), np.asarray(cols, int), np.asarray(share, float)


@dataclass
class Plan:
    """``power[k]`` kW for pair k = (vehicle ``rows[k]``, slot ``cols[k]``), while plugged in."""

    problem: Problem
    rows: np.ndarray
    cols: np.ndarray
    share: np.ndarray
    power: np.ndarray
    method: str

    def energy_kwh(self) -> np.ndarray:
        out = np.zeros(len(self.problem.vehicles))
        np.add.at(out, self.rows, self.power * self.share * self.problem.dt)
        return out

    def cost(self, cost_per_kwh: np.ndarray | None = None) -> float:
        """Objective value in p (the costs per slot given, by default the planning cost)."""
        c = self.problem.cost if cost_per_kwh is None else np.asarray(cost_per_kwh, float)
        return float(np.sum(c[self.cols] * self.power * self.share * self.problem.dt))

    def slot_power(self) -> np.ndarray:
        out = np.zeros(len(self.problem.starts))
        np.add.at(out, self.cols, self.power)
        return out

    def unmet_kwh(self) -> np.ndarray:
        need = np.array([v.energy_kwh for v in self.problem.vehicles])
        return np.maximum(0.0, need - self.energy_kwh())

    def intervals(self, i: int) -> list[tuple[datetime, datetime, float]]:
        """Vehicle i's plan as (start, end, kW) intervals of constant power while plugged in."""
        v = self.problem.vehicles[i]
        out: list[tuple[datetime, datetime, float]] = []
        for k in np.flatnonzero(self.rows == i):
            t = self.cols[k]
            start = max(v.plug_in, self.problem.starts[t])
            end = min(v.departure, self.problem.starts[t] + self.problem.slot)
            kw = float(self.power[k])
            if out and out[-1][1] == start and abs(out[-1][2] - kw) < 1e-9:
                out[-1] = (out[-1][0], end, kw)
            else:
                out.append((start, end, kw))
        return out

    def switches(self, i: int, threshold_kw: float = 0.05) -> int:
        """On/off edges of vehicle i's plan (an off-to-on or on-to-off change)."""
        on = [kw > threshold_kw for _, _, kw in self.intervals(i)]
        return sum(1 for a, b in zip(on, on[1:]) if a != b)


def pair_cost(problem: Problem, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """p/kWh of each (vehicle, slot) pair: the fleet's cost, adjusted by a driver's own carbon price."""
    cost = problem.cost[cols]
    if problem.carbon is not None:
        delta = np.array([v.carbon_delta for v in problem.vehicles], dtype=float)
        cost = cost + delta[rows] * problem.carbon[cols]
    return cost


def effective_cost(problem: Problem, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``pair_cost`` plus the tiny earlier-is-better term (``EARLY_WEIGHT`` per slot index)."""
    return pair_cost(problem, rows, cols) + EARLY_WEIGHT * cols

