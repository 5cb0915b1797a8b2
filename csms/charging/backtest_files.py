"""The backtest's files: sessions CSV (``session_id,plug_in_utc,departure_utc,energy_kwh,max_power_kw``,
ISO 8601 UTC), the ACN-Data sessions and their re-timing onto a price window, sites and each
session's site, and the plan written out. Bad input raises InputError naming the file and row."""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from csms.charging import planner
from csms.charging import sites as site_planning
from csms.timeutil import BadTimestamp, parse_ts

SESSION_COLUMNS = ["session_id", "plug_in_utc", "departure_utc", "energy_kwh", "max_power_kw"]


class InputError(ValueError):
    """A file the backtest cannot use; the message names the file and row."""


@dataclass(frozen=True)
class AcnSession:
    session_id: str
    arrive: datetime
    depart: datetime
    kwh: float



def iso_seconds(at: datetime) -> str:
    """``at`` as ISO 8601 UTC to the second (``2024-06-12T18:00:00Z``): the files' time format."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def load_sessions(path: str | Path, default_max_kw: float = 7.4) -> list[planner.Vehicle]:
    path = Path(path)
    try:
        handle = path.open(newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    vehicles = []
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in SESSION_COLUMNS[:4] if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        seen = set()
        for row_number, row in enumerate(reader, start=2):
            where = f"{path}:{row_number}"
            sid = (row.get("session_id") or "").strip()
            if not sid:
                raise InputError(f"{where}: empty session_id")
            if sid in seen:
                raise InputError(f"{where}: session_id {sid!r} appears twice")
            seen.add(sid)
            try:
                plug_in, departure = parse_ts(row["plug_in_utc"]), parse_ts(row["departure_utc"])
            except (BadTimestamp, TypeError) as exc:
                raise InputError(f"{where}: unreadable time ({exc})") from exc
            if departure <= plug_in:
                raise InputError(f"{where}: departure {row['departure_utc']} is not after plug-in {row['plug_in_utc']}")
            try:
                energy = float(row["energy_kwh"])
                max_kw = float(row.get("max_power_kw") or default_max_kw)
            except ValueError as exc:
                raise InputError(f"{where}: energy_kwh / max_power_kw must be numbers") from exc
            if not (math.isfinite(energy) and energy >= 0 and math.isfinite(max_kw) and max_kw > 0):
                raise InputError(f"{where}: energy_kwh must be >= 0 and max_power_kw > 0")
            vehicles.append(planner.Vehicle(sid, plug_in, departure, energy, max_kw))
    if not vehicles:
        raise InputError(f"{path}: no sessions")
    return vehicles


def load_acn_sessions(path: str | Path) -> list[AcnSession]:
    """ACN-Data sessions (``session_id,site,connection_utc,disconnect_utc,kwh_delivered,...``)."""
    out = []
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            arrive, depart = parse_ts(row["connection_utc"]), parse_ts(row["disconnect_utc"])
            if depart > arrive and float(row["kwh_delivered"]) > 0:
                out.append(AcnSession(row["session_id"], arrive, depart, float(row["kwh_delivered"])))
    return out


def retime(sessions: list[AcnSession], window_start: datetime, window_end: datetime, rng: random.Random,
           max_kw: float = 7.4, site_tz: str = "America/Los_Angeles", target_tz: str = "Europe/London"
           ) -> list[planner.Vehicle]:
    """Real sessions moved onto a price window: each keeps its local time of day (the site's clock
    becomes the UK clock), stay and energy, on a random day of the window; the energy is capped by
    what ``max_kw`` delivers in the stay; departures after the window end are clipped to it."""
    site, target = ZoneInfo(site_tz), ZoneInfo(target_tz)
    first_day = window_start.astimezone(target).date()
    days = max(1, (window_end - window_start).days)
    vehicles = []
    for i, s in enumerate(sessions):
        local = s.arrive.astimezone(site)
        day = first_day + timedelta(days=rng.randrange(days))
        arrive = datetime.combine(day, local.time().replace(tzinfo=None), target).astimezone(window_start.tzinfo)
        if arrive < window_start:
            arrive += timedelta(days=1)
        depart = min(arrive + (s.depart - s.arrive), window_end)
        if depart <= arrive or arrive >= window_end:
            continue
        energy = min(s.kwh, max_kw * (depart - arrive).total_seconds() / 3600)
        vehicles.append(planner.Vehicle(f"{s.session_id}#{i}", arrive, depart, math.floor(energy * 1000) / 1000, max_kw))
    return vehicles


def load_sites(path: str | Path) -> dict[str, site_planning.Site]:
    """Sites CSV: ``site_id,limit_kw`` (kW; empty: no limit). Raises InputError naming file and row."""
    path = Path(path)
    try:
        handle = path.open(newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    out: dict[str, site_planning.Site] = {}
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("site_id", "limit_kw") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        for row_number, row in enumerate(reader, start=2):
            site_id, text = (row.get("site_id") or "").strip(), (row.get("limit_kw") or "").strip()
            if not site_id or site_id in out:
                raise InputError(f"{path}:{row_number}: empty or repeated site_id {site_id!r}")
            try:
                limit = float(text) if text else None
            except ValueError as exc:
                raise InputError(f"{path}:{row_number}: limit_kw must be a number") from exc
            if limit is not None and not (math.isfinite(limit) and limit > 0):
                raise InputError(f"{path}:{row_number}: limit_kw must be > 0")
            out[site_id] = site_planning.Site(site_id, limit)
    if not out:
        raise InputError(f"{path}: no sites")
    return out


def load_session_sites(path: str | Path) -> dict[str, str]:
    """session_id -> site_id from a sessions CSV's optional ``site_id`` column (empty when absent)."""
    with Path(path).open(newline="") as handle:
        return {(r.get("session_id") or "").strip(): (r.get("site_id") or "").strip() for r in csv.DictReader(handle)}


def write_sessions(path: str | Path, vehicles: list[planner.Vehicle]) -> None:
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SESSION_COLUMNS)
        for v in vehicles:
            writer.writerow([v.id, iso_seconds(v.plug_in), iso_seconds(v.departure), v.energy_kwh, v.max_kw])



def write_plan(path: str | Path, plan: planner.Plan) -> int:
    rows = 0
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["session_id", "start_utc", "end_utc", "power_kw"])
        for i, v in enumerate(plan.problem.vehicles):
            for start, end, kw in plan.intervals(i):
                writer.writerow([v.id, iso_seconds(start), iso_seconds(end), f"{kw:.3f}"])
                rows += 1
    return rows
