"""Metrics the dashboard graphs: messages by action and charging-profile answers, counted in the
container and published as CloudWatch embedded-metric records once a minute (not one per frame),
and the connected-chargers gauge from the sweeper."""

from __future__ import annotations

import json

import pytest

from handlers import observability, sweeper
from handlers.observability import PeriodicCounts


def _records(lines):
    return {(r.get("action") or next(k for k in r if k not in ("_aws", "service"))):
            r.get("Messages", r.get(next(k for k in r if k not in ("_aws", "service")))) for r in map(json.loads, lines)}


def test_counts_are_published_once_a_minute_as_emf(monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)  # (the local platform sets it)
    now, lines = [0.0], []
    counts = PeriodicCounts(clock=lambda: now[0], emit=lines.append)
    for label in ("MeterValues", "MeterValues", "Heartbeat"):
        counts(label)
    assert counts.flush_if_due() == 0 and lines == []  # not a minute yet
    now[0] = 61
    assert counts.flush_if_due() == 2
    record = json.loads(lines[0])
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "action"]]
    assert _records(lines) == {"Heartbeat": 1, "MeterValues": 2}
    assert counts.flush_if_due(force=True) == 0  # nothing new, nothing written


def test_the_message_handler_counts_by_action(charger, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    lines = []
    monkeypatch.setattr(observability.message_counts, "emit", lines.append)
    monkeypatch.setattr(observability.message_counts, "counts", {})
    monkeypatch.setattr(observability.profile_counts, "emit", lines.append)
    charger.handshake()
    charger.result("Heartbeat", {})
    for _ in range(3):
        charger.result("MeterValues", {"connectorId": 1, "meterValue": [
            {"timestamp": "2024-06-12T18:00:00Z", "sampledValue": [{"value": "10"}]}]})
    charger.send("not json")
    charger.send(json.dumps([3, "nobody-asked", {}]))
    observability.message_counts.flush_if_due(force=True)
    assert _records(lines) == {"Heartbeat": 1, "MeterValues": 3, "Malformed": 1, "CallResult": 1}


def test_profile_answers_are_counted(platform, charger, poster, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    lines = []
    monkeypatch.setattr(observability.profile_counts, "emit", lines.append)
    monkeypatch.setattr(observability.profile_counts, "counts", {})
    charger.handshake()
    charger.connected_at_ms = None  # an established connection: no set-up calls first
    charger.result("Heartbeat", {})  # the handler wires the counters
    platform.commander.set_limit("CP001", [(0, 0.0)])
    platform.commander.pump("CP001")
    frame = json.loads(platform.commander.poster.sent[-1][1])
    assert frame[2] == "SetChargingProfile"
    charger.send(json.dumps([3, frame[1], {"status": "Rejected"}]))
    observability.profile_counts.flush_if_due(force=True)
    assert _records(lines) == {"ProfilesRejected": 1}


def test_the_sweeper_reports_connected_chargers(platform, charger, monkeypatch):
    published = {}
    monkeypatch.setattr(sweeper, "GAUGE_EVERY_MINUTES", 1)  # (every 5 minutes in production)
    monkeypatch.setattr(sweeper.metrics, "add_metric", lambda name, unit, value: published.__setitem__(name, value))
    sweeper.lambda_handler({}, None)
    assert published["ConnectedChargers"] == 0
    charger.handshake()
    sweeper.lambda_handler({}, None)
    assert published["ConnectedChargers"] == 1
