"""The evidence rules on power: charging profiles accepted and followed by the power, connector
statuses against the power, and the meter's register against the power (``(facts, params) ->
Verdict``, registered in ``RULES`` like those of :mod:`csms.onboarding.rules`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from csms.onboarding.facts import (FAIL, NOT_SEEN, PASS, ChargerFacts, Evidence, Verdict, frame_of, outcome_frame,
                                   periodic_samples, rule, sample_power_w)


def _profile_outcomes(facts: ChargerFacts) -> list:
    return [o for o in facts.outcomes if o.action == "SetChargingProfile"]


def _purpose(payload: dict) -> str:
    return str((payload.get("csChargingProfiles") or {}).get("chargingProfilePurpose"))


@rule("profile_accepted")
def profile_accepted(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    purposes = set(p.get("purposes", []))
    sent = [o for o in _profile_outcomes(facts) if _purpose(o.payload) in purposes]
    if not sent:
        return Verdict(NOT_SEEN, "no SetChargingProfile of " + " / ".join(sorted(purposes)) + " sent yet")
    accepted = [o for o in sent if o.outcome == "answered" and (o.result or {}).get("status") == "Accepted"]
    if accepted:
        last = accepted[-1]
        return Verdict(PASS, f"{_purpose(last.payload)} accepted", (
            Evidence(f"SetChargingProfile {_purpose(last.payload)}: Accepted", last.at, outcome_frame(last)),))
    last = sent[-1]
    status = (last.result or {}).get("status") or last.outcome
    return Verdict(FAIL, f"every profile refused ({status})", (
        Evidence(f"SetChargingProfile {_purpose(last.payload)}: {status}", last.at, outcome_frame(last)),))


def limit_w(payload: dict, voltage_v: float = 230.0) -> float | None:
    """The first period's limit of a SetChargingProfile request, in W (A x 230 V x phases)."""
    schedule = (payload.get("csChargingProfiles") or {}).get("chargingSchedule") or {}
    periods = schedule.get("chargingSchedulePeriod") or []
    if not periods:
        return None
    first = periods[0]
    limit = float(first["limit"])
    if schedule.get("chargingRateUnit") == "A":
        limit *= voltage_v * float(first.get("numberPhases") or 3)
    return limit


@rule("profile_effective")
def profile_effective(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    """For each accepted limit, the first periodic sample received within ``within_s`` after it
    whose power is at most the limit (+ tolerance, or ``zero_w`` for a pause): effective, with the
    latency; power above the limit through the whole window: not effective."""
    within, zero = float(p.get("within_s", 150)), float(p.get("zero_w", 200))
    tol = float(p.get("tolerance", 0.1))
    samples = [s for s in periodic_samples(facts) if s.received_at is not None]
    followed: list[tuple[float, Evidence, Evidence]] = []
    ignored: list[tuple[Evidence, Evidence]] = []
    no_power = False
    for o in _profile_outcomes(facts):
        if o.outcome != "answered" or (o.result or {}).get("status") != "Accepted":
            continue
        limit = limit_w(o.payload)
        if limit is None:
            continue
        after = [s for s in samples if o.at <= s.received_at <= o.at + timedelta(seconds=within)]
        if not after:
            continue
        powers = [(s, sample_power_w(s)) for s in after]
        if all(w is None for _, w in powers):
            no_power = True
            continue
        bound = zero if limit <= 0 else limit * (1 + tol) + zero
        sent = Evidence(f"limit {limit:.0f} W accepted", o.at, outcome_frame(o))
        hit = next(((s, w) for s, w in powers if w is not None and w <= bound), None)
        if hit is not None:
            assert hit[0].received_at is not None
            latency = (hit[0].received_at - o.at).total_seconds()
            followed.append((latency, sent, Evidence(f"power {hit[1]:.0f} W {latency:.0f} s later",
                                                      hit[0].timestamp, frame_of(hit[0]))))
        elif facts.now - o.at >= timedelta(seconds=within):
            last_s, last_w = powers[-1]
            ignored.append((sent, Evidence(f"power still {last_w or 0:.0f} W after {within:.0f} s",
                                           last_s.timestamp, frame_of(last_s))))
    if ignored:
        sent, power = ignored[-1]
        return Verdict(FAIL, f"power did not follow {len(ignored)} accepted limit(s)", (sent, power))
    if followed:
        latency, sent, power = max(followed, key=lambda f: f[0])
        return Verdict(PASS, f"power followed {len(followed)} limit(s); slowest {latency:.0f} s", (sent, power),
                       facts={"latency_s": round(latency, 1)})
    if no_power:
        return Verdict(NOT_SEEN, "the readings carry no power (nor current and voltage) to compare with a limit")
    return Verdict(NOT_SEEN, "no accepted limit with readings after it yet")


@rule("statuses")
def statuses(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    """The latest status of each connector against its latest reading and open transaction."""
    zero = float(p.get("zero_w", 200))
    active = {s.connector_id for s in facts.sessions if s.active}
    wrong: list[Evidence] = []
    right: list[Evidence] = []
    for c in facts.connectors:
        if c.connector_id == 0:
            continue
        latest = next((s for s in reversed(periodic_samples(facts)) if s.connector_id == c.connector_id), None)
        power = sample_power_w(latest) if latest is not None and latest.timestamp >= c.timestamp else None
        frame = {"connectorId": c.connector_id, "status": c.status, "errorCode": c.error_code}
        problem = None
        if c.status == "Available" and c.connector_id in active:
            problem = "Available while a transaction is open"
        elif c.status == "Charging" and power is not None and power <= zero:
            problem = f"Charging with {power:.0f} W"
        elif c.status in ("SuspendedEV", "SuspendedEVSE") and power is not None and power > zero:
            problem = f"{c.status} while importing {power:.0f} W"
        elif c.status == "Faulted" and c.error_code == "NoError":
            problem = "Faulted with errorCode NoError"
        (wrong if problem else right).append(Evidence(problem or f"{c.status}" + (f" with {power:.0f} W" if power is not None else ""),
                                                      c.received_at, frame))
    if wrong:
        return Verdict(FAIL, wrong[0].what, tuple(wrong))
    if not right:
        return Verdict(NOT_SEEN, "no connector status yet")
    return Verdict(PASS, "; ".join(e.what for e in right), tuple(right))


@rule("meter_consistency")
def meter_consistency(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    """Within the newest session with readings: the register never decreases, StartTransaction's
    meterStart <= the readings <= meterStop, and (with power) the register's energy agrees with
    the integral of power (trapezoid, over intervals where the power held steady) within
    ``energy_tolerance`` once ``min_wh`` is drawn."""
    tol, min_wh = float(p.get("energy_tolerance", 0.15)), float(p.get("min_wh", 500))
    zero = float(p.get("zero_w", 200))
    for session in facts.sessions:
        group = [s for s in facts.samples if s.transaction_id == session.transaction_id and s.energy_wh is not None]
        if len(group) < 2:
            continue
        group.sort(key=lambda s: s.timestamp)
        ev = [Evidence(f"transaction {session.transaction_id}: meterStart {session.meter_start_wh} Wh",
                       session.started_at)]
        for a, b in zip(group, group[1:]):
            assert a.energy_wh is not None and b.energy_wh is not None
            if b.energy_wh < a.energy_wh:
                return Verdict(FAIL, "the register went back within a session", tuple(ev + [
                    Evidence(f"{a.energy_wh:.0f} Wh then {b.energy_wh:.0f} Wh", b.timestamp, frame_of(b))]))
        first, last = group[0], group[-1]
        assert first.energy_wh is not None and last.energy_wh is not None
        if first.energy_wh + 1 < session.meter_start_wh:
            return Verdict(FAIL, "a reading is below meterStart", tuple(ev + [
                Evidence(f"{first.energy_wh:.0f} Wh < meterStart {session.meter_start_wh} Wh", first.timestamp,
                         frame_of(first))]))
        if session.meter_stop_wh is not None and last.energy_wh > session.meter_stop_wh + 1:
            return Verdict(FAIL, "a reading is above meterStop", tuple(ev + [
                Evidence(f"{last.energy_wh:.0f} Wh > meterStop {session.meter_stop_wh} Wh", last.timestamp,
                         frame_of(last))]))
        register = last.energy_wh - first.energy_wh
        # energy against power only where the power held steady between two readings (both ends within
        # 10 % or zero_w): a limit changing between samples is not the meter's error
        steady_wh = steady_integral = 0.0
        for a, b in zip(group, group[1:]):
            pa, pb = sample_power_w(a), sample_power_w(b)
            if pa is None or pb is None or abs(pa - pb) > max(zero, 0.1 * max(pa, pb)):
                continue
            assert a.energy_wh is not None and b.energy_wh is not None
            steady_integral += (b.timestamp - a.timestamp).total_seconds() / 3600 * (pa + pb) / 2
            steady_wh += b.energy_wh - a.energy_wh
        if steady_wh >= min_wh or steady_integral >= min_wh:
            ev.append(Evidence(f"steady intervals: register {steady_wh:.0f} Wh, ∫power dt {steady_integral:.0f} Wh",
                               last.timestamp, frame_of(last)))
            if abs(steady_integral - steady_wh) > tol * max(steady_wh, steady_integral):
                return Verdict(FAIL, f"energy {steady_wh:.0f} Wh but ∫power dt {steady_integral:.0f} Wh", tuple(ev))
            return Verdict(PASS, f"monotonic; energy agrees with power within {tol:.0%}", tuple(ev),
                           facts={"register_wh": round(steady_wh), "integral_wh": round(steady_integral)})
        ev.append(Evidence(f"register rose {register:.0f} Wh over {len(group)} readings", last.timestamp, frame_of(last)))
        return Verdict(PASS, "register monotonic within the session", tuple(ev))
    return Verdict(NOT_SEEN, "no session with two register readings yet")
