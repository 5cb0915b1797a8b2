"""What a report is judged from: one charger's stored state, gathered once per report
(``csms.onboarding.ports.FactSource``), the verdict shapes, and the registry of evidence rules
(``RULES``: filled by ``@rule`` in ``csms.onboarding.rules`` and ``csms.onboarding.power_rules``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from csms.model import BootInfo, ConnectorStatus, MeterSample, ReviewItem, Session
from csms.ocpp.commands import CallOutcome
from csms.timeutil import iso

PASS, FAIL, NOT_SEEN = "pass", "fail", "not_seen"
STATES = (PASS, FAIL, NOT_SEEN)


@dataclass(frozen=True)
class ChargerFacts:
    """One charger as the platform stores it, bounded (the newest samples, outcomes and review items,
    so a report costs the same whatever the charger's age). Times UTC; samples and outcomes oldest first."""

    charge_point_id: str
    now: datetime
    online: bool = False
    last_seen: datetime | None = None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    boot: BootInfo | None = None
    boot_at: datetime | None = None
    security: dict[str, Any] | None = None  # method, profile, tls_version, tls_cipher, at
    security_profile: int = 2
    capabilities: dict[str, str] = field(default_factory=dict)  # learnt configuration values, profile evidence
    firmware_status: str | None = None
    firmware_history: tuple[str, ...] = ()  # "<time> <status>", oldest first
    heartbeat_interval_s: int = 300
    connectors: tuple[ConnectorStatus, ...] = ()
    sessions: tuple[Session, ...] = ()  # the newest first
    samples: tuple[MeterSample, ...] = ()
    outcomes: tuple[CallOutcome, ...] = ()
    review: tuple[ReviewItem, ...] = ()
    check: dict[str, Any] | None = None  # the latest active check (csms.onboarding.active.Check.as_dict)


@dataclass(frozen=True)
class Evidence:
    """What decided a verdict: a sentence, when, and the frame or reading it came from."""

    what: str
    at: datetime | None = None
    frame: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"what": self.what, "at": iso(self.at) if self.at else None}
        if self.frame is not None:
            out["frame"] = self.frame
        return out


@dataclass(frozen=True)
class Verdict:
    state: str  # pass | fail | not_seen
    detail: str
    evidence: tuple[Evidence, ...] = ()
    source: str = "passive"  # passive | active check
    facts: dict[str, Any] = field(default_factory=dict)  # measured numbers (offset_s, interval_s, latency_s)


def sample_power_w(sample: MeterSample) -> float | None:
    """Import power (W) of a sample: Power.Active.Import, else the sum over phases of
    Current.Import x Voltage (both needed), else None."""
    if sample.power_w is not None:
        return sample.power_w
    currents = {r.phase: r.value for r in sample.readings if r.measurand == "Current.Import"}
    volts = {r.phase: r.value for r in sample.readings if r.measurand == "Voltage"}
    if not currents or not volts:
        return None
    total = 0.0
    for phase, amps in currents.items():
        volt = volts.get(phase) or volts.get((phase or "")[:2]) or next(iter(volts.values()))
        total += amps * volt
    return total


def frame_of(sample: MeterSample) -> dict[str, Any]:
    """A stored sample as evidence: its timestamp, receipt and readings."""
    return {"timestamp": iso(sample.timestamp), "received_at": iso(sample.received_at) if sample.received_at else None,
            "transactionId": sample.transaction_id,
            "sampledValue": [{"measurand": r.measurand, "value": r.value, "unit": r.unit,
                              **({"phase": r.phase} if r.phase else {})} for r in sample.readings]}


def outcome_frame(outcome: CallOutcome) -> dict[str, Any]:
    """A call and its answer as evidence."""
    return {"action": outcome.action, "request": outcome.payload, "outcome": outcome.outcome,
            "answer": outcome.result, **({"error": outcome.error_code} if outcome.error_code else {})}


Rule = Callable[[ChargerFacts, dict[str, Any]], Verdict]
RULES: dict[str, Rule] = {}


def rule(kind: str) -> Callable[[Rule], Rule]:
    """Decorator: register a rule function under ``kind`` (the ``rule`` of a requirements.json row)."""
    def register(fn: Rule) -> Rule:
        RULES[kind] = fn
        return fn
    return register


def periodic_samples(facts: ChargerFacts) -> list[MeterSample]:
    """MeterValues samples (not Start/Stop readings), oldest first."""
    return [s for s in facts.samples if s.source == "mv"]
