"""The evidence rules: one function per rule kind, ``(facts, params) -> Verdict``.

A rule decides from stored facts only (``ChargerFacts``), says ``not_seen`` when the facts cannot
decide yet, and names the frames or readings that decided it. The table
(``requirements.json``) picks a rule kind and its parameters per requirement. ``RULES`` (every kind,
registered with ``@rule``) is complete once this module is imported; the rules on charging profiles,
statuses and the meter are in :mod:`csms.onboarding.power_rules`."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from csms.model import MeterSample
from csms.ocpp.commands import ANSWER_TIMEOUT
# RULES, Rule and rule (the registry) live in facts.py, below both rule modules; named here as before
from csms.onboarding.facts import (FAIL, NOT_SEEN, PASS, RULES, ChargerFacts, Evidence, Rule, Verdict, frame_of,
                                   outcome_frame, periodic_samples, rule)
# the rules on power and the meter (registered in RULES on import; their names kept here for callers)
from csms.onboarding.power_rules import (limit_w, meter_consistency, profile_accepted, profile_effective,
                                         statuses)
from csms.timeutil import parse_ts


def _at(value: Any) -> datetime | None:
    try:
        return parse_ts(value) if value else None
    except ValueError:
        return None


@rule("tls")
def tls(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    sec = facts.security or {}
    version, cipher = sec.get("tls_version"), sec.get("tls_cipher")
    if not version:
        return Verdict(NOT_SEEN, "no connection with a recorded TLS handshake yet")
    ev = (Evidence(f"connection negotiated {version} {cipher or '(cipher not recorded)'}", _at(sec.get("at")),
                   {"tls_version": version, "tls_cipher": cipher}),)
    if version not in p.get("versions", []):
        return Verdict(FAIL, f"{version} is not allowed", ev)
    if version == "TLSv1.2" and cipher not in p.get("tls12_ciphers", []):
        return Verdict(FAIL, f"TLS 1.2 suite {cipher} is not in the policy", ev)
    return Verdict(PASS, f"{version} {cipher}", ev)


@rule("auth")
def auth(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    sec = facts.security or {}
    method = sec.get("method")
    if not method:
        return Verdict(NOT_SEEN, "no authenticated connection recorded yet")
    profile = int(sec.get("profile") or facts.security_profile)
    ev = (Evidence(f"connected with {method} (security profile {profile})", _at(sec.get("at")),
                   {"method": method, "profile": profile}),)
    if method not in p.get("methods", []) or profile < int(p.get("min_profile", 2)):
        return Verdict(FAIL, f"{method}, profile {profile}", ev)
    return Verdict(PASS, f"{method}, security profile {profile}", ev)


@rule("clock")
def clock(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    """Clock offset = charger timestamp - our receipt, for the messages that carry one (OCPP 1.6's
    BootNotification and Heartbeat carry none: their answers' currentTime sets the charger's clock,
    and the next StatusNotification / MeterValues shows whether it took). The median of the newest
    readings counts, so one offline-queued sample (old stamp, late receipt) does not decide."""
    limit = float(p.get("max_offset_s", 10))
    ahead = [r for r in facts.review if r.kind == "clock_ahead"]
    offsets: list[tuple[float, datetime, Any]] = []
    for s in periodic_samples(facts)[-20:]:
        if s.received_at is not None:
            offsets.append(((s.timestamp - s.received_at).total_seconds(), s.received_at, frame_of(s)))
    for c in facts.connectors:
        if c.timestamp != c.received_at:  # a stamp the charger sent (not our receipt time)
            offsets.append(((c.timestamp - c.received_at).total_seconds(), c.received_at,
                            {"connectorId": c.connector_id, "status": c.status, "timestamp": c.timestamp.isoformat()}))
    if len(offsets) < int(p.get("min_readings", 3)) and not ahead:
        return Verdict(NOT_SEEN, f"{len(offsets)} timestamped message(s) so far")
    if ahead:
        newest = ahead[-1]
        return Verdict(FAIL, "the charger stamped messages later than we received them", (
            Evidence(newest.detail, newest.at, newest.raw),), facts={"clock_ahead_messages": len(ahead)})
    median = statistics.median(o for o, _, _ in offsets)
    worst = max(offsets, key=lambda o: abs(o[0] - median))
    ev = (Evidence(f"median offset {median:+.1f} s over {len(offsets)} messages", offsets[-1][1], offsets[-1][2]),
          Evidence(f"largest deviation {worst[0]:+.1f} s", worst[1], worst[2]))
    state = PASS if abs(median) <= limit else FAIL
    return Verdict(state, f"clock offset {median:+.1f} s (limit ±{limit:g} s)", ev, facts={"offset_s": round(median, 1)})


@rule("measurands")
def measurands(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    samples = periodic_samples(facts)
    if not samples:
        return Verdict(NOT_SEEN, "no MeterValues yet")
    recent = samples[-10:]
    seen = set().union(*({r.measurand for r in s.readings} for s in recent))
    ev = (Evidence(f"latest MeterValues carry {', '.join(sorted(seen))}", recent[-1].timestamp, frame_of(recent[-1])),)
    missing = [m for m in p.get("all_of", []) if m not in seen]
    alternatives = [list(a) for a in p.get("any_of", [])]
    if alternatives and not any(all(m in seen for m in alt) for alt in alternatives):
        missing.append(" or ".join(" + ".join(a) for a in alternatives))
    if missing:
        return Verdict(FAIL, "missing " + "; ".join(missing), ev, facts={"measurands": sorted(seen)})
    return Verdict(PASS, ", ".join(sorted(seen)), ev, facts={"measurands": sorted(seen)})


@rule("config_accepted")
def config_accepted(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    key, value = p["key"], str(p["value"])
    asked = [o for o in facts.outcomes if o.action == "ChangeConfiguration" and o.payload.get("key") == key
             and str(o.payload.get("value")) == value]
    if not asked:
        held = facts.capabilities.get(key)
        if held is not None and str(held) == value:
            return Verdict(PASS, f"{key} reads {held}", (Evidence(f"GetConfiguration: {key} = {held}"),))
        return Verdict(NOT_SEEN, f"ChangeConfiguration {key} = {value} not sent yet")
    last = asked[-1]
    status = (last.result or {}).get("status") if last.outcome == "answered" else last.outcome
    ev = (Evidence(f"ChangeConfiguration {key} = {value}: {status}", last.at, outcome_frame(last)),)
    if status in ("Accepted", "RebootRequired"):
        return Verdict(PASS, f"{status}", ev)
    return Verdict(FAIL, f"answered {status}", ev)


def _sessions_samples(facts: ChargerFacts) -> list[list[MeterSample]]:
    by_tx: dict[int | None, list[MeterSample]] = {}
    for s in periodic_samples(facts):
        by_tx.setdefault(s.transaction_id, []).append(s)
    return [v for k, v in by_tx.items() if k is not None]


@rule("sample_interval")
def sample_interval(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    """The median gap between consecutive periodic samples of one transaction (charger timestamps)."""
    expected, tolerance = float(p.get("expected_s", 60)), float(p.get("tolerance_s", 20))
    gaps: list[float] = []
    last_pair: tuple[MeterSample, MeterSample] | None = None
    for group in _sessions_samples(facts):
        periodic = [s for s in group if s.context == "Sample.Periodic"]
        for a, b in zip(periodic, periodic[1:]):
            gap = (b.timestamp - a.timestamp).total_seconds()
            if gap > 0:
                gaps.append(gap)
                last_pair = (a, b)
    if len(gaps) < int(p.get("min_intervals", 2)) or last_pair is None:
        return Verdict(NOT_SEEN, f"{len(gaps)} sample interval(s) observed in a session so far")
    observed = statistics.median(gaps[-20:])
    ev = (Evidence(f"samples {last_pair[0].timestamp:%H:%M:%S} and {last_pair[1].timestamp:%H:%M:%S}: "
                   f"{(last_pair[1].timestamp - last_pair[0].timestamp).total_seconds():.0f} s apart",
                   last_pair[1].timestamp, frame_of(last_pair[1])),)
    state = PASS if abs(observed - expected) <= tolerance else FAIL
    return Verdict(state, f"observed every {observed:.0f} s (expected {expected:.0f} ± {tolerance:.0f} s)", ev,
                   facts={"interval_s": round(observed, 1)})


@rule("trigger")
def trigger(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    """A TriggerMessage answered Accepted, and the triggered message received after the answer
    (the charger's latest boot, or a connector status)."""
    message, within = p["message"], timedelta(seconds=float(p.get("arrive_within_s", 60)))
    asked = [o for o in facts.outcomes if o.action == "TriggerMessage" and o.payload.get("requestedMessage") == message]
    if not asked:
        return Verdict(NOT_SEEN, f"no TriggerMessage {message} sent yet")
    last = asked[-1]
    status = (last.result or {}).get("status") if last.outcome == "answered" else last.outcome
    ev = [Evidence(f"TriggerMessage {message}: {status}", last.at, outcome_frame(last))]
    if status != "Accepted":
        return Verdict(FAIL, f"answered {status}", tuple(ev))
    if message == "BootNotification":
        arrived = facts.boot_at
    else:
        arrived = max((c.received_at for c in facts.connectors), default=None)
    # the trigger went out at most the queue's answer timeout before its answer was recorded
    if arrived is not None and last.at - ANSWER_TIMEOUT <= arrived:
        ev.append(Evidence(f"{message} received {(arrived - last.at).total_seconds():.0f} s after the answer", arrived))
        return Verdict(PASS, "Accepted and received", tuple(ev))
    if facts.now - last.at < within:
        return Verdict(NOT_SEEN, f"Accepted; waiting for the {message}", tuple(ev))
    return Verdict(FAIL, f"Accepted, but no {message} arrived", tuple(ev))


@rule("firmware")
def firmware(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    asked = [o for o in facts.outcomes if o.action == "UpdateFirmware"]
    if not facts.firmware_history and not asked:
        return Verdict(NOT_SEEN, "no firmware update run on this charger yet")
    ev = [Evidence(f"UpdateFirmware: {o.outcome}", o.at, outcome_frame(o)) for o in asked[-1:]]
    if facts.firmware_history:
        ev.append(Evidence("FirmwareStatusNotification: " + ", ".join(h.split(" ", 1)[-1] for h in facts.firmware_history[-6:])))
        return Verdict(PASS, f"reports firmware status ({facts.firmware_status})", tuple(ev))
    if asked and facts.now - asked[-1].at > timedelta(hours=1):
        return Verdict(FAIL, "UpdateFirmware sent but no FirmwareStatusNotification in an hour", tuple(ev))
    return Verdict(NOT_SEEN, "UpdateFirmware sent; waiting for FirmwareStatusNotification", tuple(ev))


@rule("connectivity")
def connectivity(facts: ChargerFacts, p: dict[str, Any]) -> Verdict:
    answered = [o for o in facts.outcomes if o.outcome in ("answered", "error", "invalid_answer")]
    timeouts = [o for o in facts.outcomes if o.outcome == "timeout"]
    ev = []
    # heard from: a Heartbeat or Boot (last_seen), or any stored reading or status (no write of its own)
    heard = [t for t in [facts.last_seen, *(s.received_at for s in facts.samples[-1:]),
                         *(c.received_at for c in facts.connectors)] if t is not None]
    last = max(heard) if heard else None
    if last is not None:
        ev.append(Evidence(f"last message {(facts.now - last).total_seconds():.0f} s ago", last))
    if facts.outcomes:
        ev.append(Evidence(f"{len(answered)} platform call(s) answered, {len(timeouts)} unanswered"))
    if not facts.online and last is None:
        return Verdict(NOT_SEEN, "never connected")
    silent = last is None or (facts.now - last).total_seconds() > (
        float(p.get("heartbeat_slack", 2.5)) * facts.heartbeat_interval_s)
    if not facts.online or silent:
        return Verdict(FAIL, "offline or silent beyond the heartbeat interval", tuple(ev))
    if facts.outcomes and len(timeouts) > float(p.get("max_timeouts", 0.2)) * len(facts.outcomes):
        return Verdict(FAIL, f"{len(timeouts)} of {len(facts.outcomes)} platform calls unanswered", tuple(ev))
    return Verdict(PASS, "connected, heartbeating and answering", tuple(ev))
