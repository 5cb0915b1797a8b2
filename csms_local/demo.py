"""``csms demo``: the local platform, a fleet of simulated chargers over wss for one
accelerated day of real plug-in sessions, and a report from what the platform stored."""

from __future__ import annotations

import asyncio
import csv
import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.smart_charging import run_scheduler
from csms.charging import tariff
from csms.charging.defaults import DEFAULT_MAX_POWER_W
from csms_local.sim import EvVisit, SimClock, run_charger
from csms_local.tls import client_context

DATA = Path(__file__).resolve().parent.parent / "data"
SITE_TZ = ZoneInfo("America/Los_Angeles")  # ACN-Data's Caltech garage
UK_TZ = ZoneInfo("Europe/London")
ATTRIBUTION = [
    "Prices: Octopus Energy Agile (East Midlands), via agile.octopushome.net.",
    "Carbon intensity: Carbon Intensity API, National Grid ESO (now NESO), CC BY 4.0, carbonintensity.org.uk.",
    "EV sessions: ACN-Data, Z. J. Lee, T. Li, S. H. Low, e-Energy '19; https://ev.caltech.edu/dataset.",
]


# The demo's sites (issue 16): (site id, share of the chargers, connection limit in kW or None). The
# depot's limit binds: up to six of its eight vehicles are plugged in at once (44 kW at full power).
# Its default share (15 / 8 kW) is below an EV's 6 A x 3 phases, so a vehicle waits for its plan.
DEMO_SITES = (("depot", 0.4, 15.0), ("office", 0.3, 30.0), ("homes", 0.3, None))


def site_plan(charger_ids: list[str]) -> dict[str, tuple[float | None, list[str]]]:
    """The chargers split over ``DEMO_SITES`` in order: site id -> (limit kW, chargers)."""
    out, at = {}, 0
    for n, (site_id, share, limit) in enumerate(DEMO_SITES):
        count = len(charger_ids) - at if n == len(DEMO_SITES) - 1 else round(share * len(charger_ids))
        out[site_id] = (limit, charger_ids[at:at + count])
        at += count
    return out


@dataclass
class SessionReport:
    session_id: str
    charger: str
    plug_in: str
    departure: str
    wanted_kwh: float
    energy_kwh: float
    cost_gbp: float
    co2_kg: float
    immediate_cost_gbp: float
    immediate_co2_kg: float
    met_target: bool
    switches: int


def pick_visits(n: int, day: date, seed: int, sessions_csv: Path = DATA / "ev_sessions_acn.csv",
                max_power_w: float = DEFAULT_MAX_POWER_W) -> list[EvVisit]:
    """``n`` real ACN sessions re-timed onto ``day``: the plug-in and unplug times of day (site local
    time) become the same UK local times on ``day``; energy = kWh delivered, capped by what max power
    can deliver in the stay. Sessions longer than the day end at midnight."""
    with sessions_csv.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle)]
    rng = random.Random(seed)
    rng.shuffle(rows)
    visits = []
    day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UK_TZ)
    for row in rows:
        arrive_local = datetime.fromisoformat(row["connection_utc"].replace("Z", "+00:00")).astimezone(SITE_TZ)
        depart_local = datetime.fromisoformat(row["disconnect_utc"].replace("Z", "+00:00")).astimezone(SITE_TZ)
        arrive = datetime.combine(day, arrive_local.time(), UK_TZ)
        stay = depart_local - arrive_local
        if stay < timedelta(hours=1):
            continue
        depart = min(arrive + stay, day_end)
        energy_wh = min(float(row["kwh_delivered"]) * 1000, max_power_w * (depart - arrive).total_seconds() / 3600 * 0.95)
        visits.append(EvVisit(row["session_id"], arrive.astimezone(timezone.utc), depart.astimezone(timezone.utc), energy_wh))
        if len(visits) == n:
            break
    return visits


def _intervals(samples, session):
    """(start, end, kWh) between consecutive register readings, meterStart and meterStop included."""
    points = [(session.started_at, float(session.meter_start_wh))]
    points += [(s.timestamp, s.energy_wh) for s in samples if s.energy_wh is not None]
    if session.stopped_at is not None and session.meter_stop_wh is not None:
        points.append((session.stopped_at, float(session.meter_stop_wh)))
    points.sort()
    return [(t0, t1, max(0.0, e1 - e0) / 1000) for (t0, e0), (t1, e1) in zip(points, points[1:]) if t1 > t0]


def _priced(signals: tariff.Signals, intervals):
    """Cost (GBP) and CO2 (kg): each interval's energy spread evenly over time and split at slot edges."""
    cost = co2 = 0.0
    for start, end, kwh in intervals:
        at = start
        while at < end:
            slot_end = min(end, signals.starts[signals.index(at)] + tariff.SLOT)
            share = kwh * (slot_end - at) / (end - start)
            cost += share * signals.price_at(at) / 100
            co2 += share * signals.carbon_at(at) / 1000
            at = slot_end
    return cost, co2


def _immediate(signals: tariff.Signals, start: datetime, energy_kwh: float, max_power_w: float):
    """What the same energy costs charged at full power from plug-in."""
    hours = energy_kwh / (max_power_w / 1000)
    return _priced(signals, [(start, start + timedelta(hours=hours), energy_kwh)]) if energy_kwh > 0 else (0.0, 0.0)


def build_report(runtime, signals, visits_by_charger, max_power_w):
    rows: list[SessionReport] = []
    fleet_power: dict[datetime, float] = {}
    for charger, visits in visits_by_charger.items():
        sessions = {s.started_at: s for s in runtime.sessions.list(charger)}
        for visit, session in zip(sorted(visits, key=lambda v: v.arrive), sorted(sessions.values(), key=lambda s: s.started_at)):
            samples = runtime.meter.between(charger, session.connector_id, session.started_at,
                                            session.stopped_at or visit.depart)
            cost, co2 = _priced(signals, _intervals(samples, session))
            energy_kwh = (session.energy_wh or 0) / 1000
            immediate_cost, immediate_co2 = _immediate(signals, session.started_at, energy_kwh, max_power_w)
            powers = [s.power_w or 0 for s in samples]
            switches = sum(1 for a, b in zip(powers, powers[1:]) if (a > 50) != (b > 50))
            for start, end, kwh in _intervals(samples, session):  # average power per 5-minute bucket
                at = start
                while at < end:
                    bucket = at.replace(minute=(at.minute // 5) * 5, second=0, microsecond=0)
                    step_end = min(end, bucket + timedelta(minutes=5))
                    kw = kwh / ((end - start).total_seconds() / 3600)
                    fleet_power[bucket] = fleet_power.get(bucket, 0.0) + kw * (step_end - at) / timedelta(minutes=5)
                    at = step_end
            rows.append(SessionReport(visit.session_id, charger, visit.arrive.isoformat(), visit.depart.isoformat(),
                                      round(visit.energy_wh / 1000, 2), round(energy_kwh, 2), round(cost, 2),
                                      round(co2, 2), round(immediate_cost, 2), round(immediate_co2, 2),
                                      energy_kwh * 1000 >= visit.energy_wh - 100, switches))
    return rows, fleet_power


def site_load(runtime, site_id: str, limit_kw: float | None, members: list[str], start: datetime,
              end: datetime) -> dict:
    """A site's metered load: the sum over its chargers of each one's latest Power.Active.Import
    reading (0 once its session stopped), at every reading; its peak (kW) and the minutes it spent
    above the limit (each reading holds until the next one of that charger)."""
    events: list[tuple[datetime, str, float]] = []
    for cp in members:
        for session in runtime.sessions.list(cp):
            for sample in runtime.meter.between(cp, session.connector_id, session.started_at, session.stopped_at or end):
                if sample.power_w is not None:
                    events.append((sample.timestamp, cp, sample.power_w / 1000))
            if session.stopped_at is not None:
                events.append((session.stopped_at, cp, 0.0))
    events.sort()
    latest: dict[str, float] = {}
    peak, over_s, near_s, previous = 0.0, 0.0, 0.0, None
    for at, cp, kw in events:
        load = sum(latest.values())
        if previous is not None and limit_kw is not None:
            over_s += (at - previous).total_seconds() if load > limit_kw + 0.05 else 0.0
            near_s += (at - previous).total_seconds() if load >= 0.9 * limit_kw else 0.0
        latest[cp] = kw
        peak, previous = max(peak, sum(latest.values())), at
    return {"site": site_id, "chargers": len(members), "limit_kw": limit_kw, "peak_kw": round(peak, 2),
            "held": limit_kw is None or peak <= limit_kw + 0.05, "minutes_over": round(over_s / 60, 1),
            "minutes_near": round(near_s / 60, 1)}


def site_draw(draws: dict[str, list[tuple[datetime, float]]], limit_kw: float | None) -> dict:
    """A site's load as its connection sees it: the sum of its simulated EVs' own draws
    (``SimResult.draw``, charge point id -> [(time, W)] at each change); its peak (kW) and the minutes
    above ``limit_kw``. The meter readings (``site_load``) lag it: a reading stands until the
    charger's next, up to its sample interval, so a cut and a raise at the same moment add up there
    for minutes while the EVs never drew both."""
    changes = sorted((at, cp, w / 1000) for cp, rows in draws.items() for at, w in rows)
    latest: dict[str, float] = {}
    peak, over_s, previous = 0.0, 0.0, None
    over: list[dict] = []  # when it was over and who drew what (the first 10 times; report.json)
    for at, cp, kw in changes:
        if previous is not None and limit_kw is not None and sum(latest.values()) > limit_kw + 0.05:
            over_s += (at - previous).total_seconds()
            if len(over) < 10:
                over.append({"from": previous.isoformat(), "to": at.isoformat(),
                             "kw": {c: round(k, 2) for c, k in latest.items() if k}})
        latest[cp] = kw
        peak, previous = max(peak, sum(latest.values())), at
    return {"drawn_peak_kw": round(peak, 2), "drawn_held": limit_kw is None or peak <= limit_kw + 0.05,
            "drawn_minutes_over": round(over_s / 60, 1), "drawn_over": over}


def plot(path: Path, fleet_power: dict, signals: tariff.Signals, day_start: datetime, day_end: datetime) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    window = signals.window(day_start, day_end)
    fig, ax_power = plt.subplots(figsize=(11, 5))
    times = sorted(fleet_power)
    ax_power.fill_between(times, [fleet_power[t] for t in times], step="post", alpha=0.4, label="fleet power (kW)")
    ax_power.set_ylabel("fleet power (kW)")
    ax_price = ax_power.twinx()
    ax_price.step(window.starts, window.price_p_per_kwh, where="post", color="tab:red", label="Agile price (p/kWh)")
    ax_price.step(window.starts, [c / 10 for c in window.carbon_g_per_kwh], where="post", color="tab:green",
                  label="carbon intensity (10 gCO2/kWh)")
    ax_price.set_ylabel("p/kWh  |  10 gCO2/kWh")
    ax_power.set_xlim(day_start, day_end)
    handles = ax_power.get_legend_handles_labels()[0] + ax_price.get_legend_handles_labels()[0]
    labels = ax_power.get_legend_handles_labels()[1] + ax_price.get_legend_handles_labels()[1]
    ax_power.legend(handles, labels, loc="upper left")
    ax_power.set_title(f"Simulated fleet on {day_start.astimezone(UK_TZ).date()} (UK day; times in UTC)")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def run_demo(chargers: int, day: date, speed: float, out_dir: Path, seed: int, max_power_w: float = DEFAULT_MAX_POWER_W,
                   progress=sys.stderr, smart: bool = True) -> dict:
    from csms_local.platform import LocalPlatform

    out_dir.mkdir(parents=True, exist_ok=True)
    signals = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    visits = pick_visits(chargers, day, seed, max_power_w=max_power_w)
    day_start = datetime.combine(day, datetime.min.time(), UK_TZ).astimezone(timezone.utc)
    day_end = day_start + timedelta(days=1)
    started = time.monotonic()
    async with LocalPlatform(state_dir=out_dir / "state", port=0, reset=True, smart_every_s=None) as platform:
        keys = {f"SIM{i + 1:03d}": platform.add_charger(f"SIM{i + 1:03d}") for i in range(len(visits))}
        plan = {cp: [v] for cp, v in zip(keys, visits)}
        for cp, visit in zip(keys, visits):  # what each driver tells the app: when they leave, what they need
            platform.runtime.chargers.set_preference(cp, visit.depart, visit.energy_wh / 1000)
        sites = site_plan(list(keys))
        from csms.charging.groups import check_site

        for site_id, (limit, members) in sites.items():  # as an operator would: csms site add / assign
            platform.runtime.sites.put(check_site(site_id, limit_kw=limit, region="demo"))
            for cp in members:
                platform.runtime.sites.assign(site_id, cp)
        clock = SimClock(day_start, speed)
        run_seconds: list[float] = []  # real seconds per scheduler run
        ssl = client_context(platform.ca_path)
        if smart:
            # EventBridge runs the scheduler every 15 minutes in AWS; here every 5 simulated minutes,
            # on the simulated clock, so plug-ins are picked up quickly.
            def scheduled() -> None:
                began = time.monotonic()
                run_scheduler(platform.runtime, lambda: signals, clock.now)
                run_seconds.append(time.monotonic() - began)
            platform.register_job("smart-schedule", 300 / speed, scheduled)

        async def progress_loop():
            hour = -1
            while True:
                now = clock.now()
                if now >= day_end:
                    return
                if now.hour != hour:
                    hour = now.hour
                    online = sum(1 for c in platform.runtime.chargers.list() if c.online)
                    print(f"  {now:%H:%M} UTC  chargers online {online:>3}  elapsed {time.monotonic() - started:5.1f} s",
                          file=progress, flush=True)
                await asyncio.sleep(0.5)

        ticker = asyncio.create_task(progress_loop())
        results = await asyncio.gather(*[
            run_charger(platform.url, ssl, cp, keys[cp], plan[cp], clock, day_end, max_power_w=max_power_w,
                        rate_unit="Power" if i % 2 else "Current")
            for i, cp in enumerate(keys)
        ])
        ticker.cancel()
        rows, fleet_power = await asyncio.to_thread(build_report, platform.runtime, signals, plan, max_power_w)
        site_rows = [await asyncio.to_thread(site_load, platform.runtime, site_id, limit, members, day_start, day_end)
                     for site_id, (limit, members) in sites.items()]
        draws = {r.charge_point_id: r.draw for r in results}
        for row, (limit, members) in zip(site_rows, sites.values()):
            row.update(site_draw({cp: draws.get(cp, []) for cp in members}, limit))
    wall = time.monotonic() - started
    drawn = {sid: wh for r in results for sid, wh in r.drawn_wh.items()}
    totals = {
        "sessions": len(rows),
        "energy_kwh": round(sum(r.energy_kwh for r in rows), 2),
        "ev_drawn_kwh": round(sum(drawn.values()) / 1000, 2),
        "cost_gbp": round(sum(r.cost_gbp for r in rows), 2),
        "co2_kg": round(sum(r.co2_kg for r in rows), 2),
        "immediate_cost_gbp": round(sum(r.immediate_cost_gbp for r in rows), 2),
        "immediate_co2_kg": round(sum(r.immediate_co2_kg for r in rows), 2),
        "met_target": sum(r.met_target for r in rows),
        "switches": sum(r.switches for r in rows),
        "profiles_received": sum(r.profiles_received for r in results),
        "wall_seconds": round(wall, 1),
        "scheduler_runs": len(run_seconds),
        "scheduler_run_s_median": round(sorted(run_seconds)[len(run_seconds) // 2], 2) if run_seconds else None,
        "scheduler_run_s_max": round(max(run_seconds), 2) if run_seconds else None,
    }
    png = out_dir / "fleet.png"
    plot(png, fleet_power, signals, day_start, day_end)
    report = {"day": day.isoformat(), "chargers": len(keys), "speed": speed, "smart": smart, "totals": totals,
              "sites": site_rows,
              "sessions": [asdict(r) for r in rows], "plot": str(png), "attribution": ATTRIBUTION}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.md").write_text(format_report(report))
    return report


def _kw(limit: float | None) -> str:
    return "none" if limit is None else f"{limit:g}"


def format_report(report: dict) -> str:
    t = report["totals"]
    lines = [
        f"# Demo report: {report['chargers']} simulated chargers, {report['day']} (x{report['speed']:.0f} speed)",
        "",
        "| session | charger | wanted kWh | delivered kWh | cost £ | CO2 kg | immediate £ | immediate CO2 kg | met | on/off |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["sessions"]:
        lines.append(f"| {r['session_id'][:24]} | {r['charger']} | {r['wanted_kwh']:.1f} | {r['energy_kwh']:.1f} | "
                     f"{r['cost_gbp']:.2f} | {r['co2_kg']:.2f} | {r['immediate_cost_gbp']:.2f} | "
                     f"{r['immediate_co2_kg']:.2f} | {'yes' if r['met_target'] else 'no'} | {r['switches']} |")
    saving = t["immediate_cost_gbp"] - t["cost_gbp"]
    lines += [
        "",
        f"Fleet: {t['sessions']} sessions, {t['energy_kwh']:.1f} kWh stored by the platform "
        f"(the simulated EVs drew {t['ev_drawn_kwh']:.1f} kWh), cost £{t['cost_gbp']:.2f}, {t['co2_kg']:.1f} kg CO2.",
        f"Charging immediately on plug-in: £{t['immediate_cost_gbp']:.2f}, {t['immediate_co2_kg']:.1f} kg CO2 "
        f"(difference £{saving:.2f}).",
        f"Sessions that met their target: {t['met_target']} of {t['sessions']}; on/off switches: {t['switches']}; "
        f"charging profiles applied by chargers: {t['profiles_received']}.",
        f"Wall time: {t['wall_seconds']:.0f} s. Plot: {report['plot']}",
        f"Scheduler runs: {t.get('scheduler_runs', 0)}, median {t.get('scheduler_run_s_median')} s, "
        f"max {t.get('scheduler_run_s_max')} s real each (x{report['speed']:.0f}: a real second is "
        f"{report['speed'] / 60:.0f} simulated minutes).",
        "",
        "| site | chargers | limit kW | peak kW drawn by the EVs | limit held | minutes above it "
        "| metered peak kW (sum of latest readings) | metered minutes above it | metered minutes at >= 90 % of it |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['site']} | {r['chargers']} | {_kw(r['limit_kw'])} | {r.get('drawn_peak_kw', 0.0):.1f} | "
          f"{'yes' if r.get('drawn_held', r['held']) else 'NO'} | {r.get('drawn_minutes_over', 0):g} | "
          f"{r['peak_kw']:.1f} | {r['minutes_over']:g} | {r['minutes_near']:g} |"
          for r in report.get("sites", [])],
        "",
        "Drawn: the simulated EVs' own power, what the site's connection carries. Metered: each charger's "
        "latest Power.Active.Import reading, which stands until its next one (its sample interval), so it "
        "lags a cut.",
        "",
        *report["attribution"],
    ]
    if not report.get("smart"):
        lines.insert(-4, "Smart charging off (--dumb): chargers charge on plug-in, so the two costs match "
                         "(up to the 5-minute metering resolution).")
    return "\n".join(lines) + "\n"
