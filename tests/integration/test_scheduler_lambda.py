"""The signal-refresh and scheduler Lambdas against moto: feeds stored (recorded answers, no
network), the fleet planned under the site cap and a grid-demand event, profiles queued once,
and a plug-in asking for a re-plan."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.settings import Settings
from adapters.signal_feeds import refresh
from adapters.wiring import build_runtime
from csms.charging import signals
from csms.charging import tariff
from csms.timeutil import iso, parse_ts, utcnow
from handlers import _runtime
from handlers import scheduler as scheduler_handler

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
DATA = Path(__file__).resolve().parents[2] / "data"
DAY = datetime(2024, 6, 12, tzinfo=timezone.utc)


def _recorded(url: str) -> dict:
    name = "octopus_agile_2024-06-12.json" if "octopus" in url else "carbon_intensity_fw48h_2024-06-12.json"
    return json.loads((FEEDS / name).read_text())


def test_refresh_stores_both_feeds(platform):
    outcome = refresh(platform.signals, DAY + timedelta(minutes=10), fetch_json=_recorded)
    assert outcome == {"prices": 96, "carbon": 96}
    window = platform.signals.window(DAY, DAY + timedelta(days=2))
    assert len(window.starts) == 96 and window.filled_carbon_slots == 0  # two days, as fw48h
    assert window.starts[0] == DAY and window.price_at(DAY) == _recorded("octopus")["results"][-1]["value_inc_vat"]


def test_a_feed_that_fails_leaves_the_other_stored(platform):
    def half_down(url):
        if "carbonintensity" in url:
            raise TimeoutError("carbon API timed out")
        return _recorded(url)

    outcome = refresh(platform.signals, DAY + timedelta(minutes=10), fetch_json=half_down)
    assert outcome["prices"] == 96 and outcome["carbon"].startswith("failed: carbon API timed out")
    window = platform.signals.window(DAY, DAY + timedelta(days=2))
    assert len(window.starts) == 96 and window.filled_carbon_slots == 96  # prices alone still steer


def _store_day_around_now(platform):
    recorded = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    now = utcnow()
    platform.signals.put(signals.rows_from_signals(tariff.replayed(recorded, now, days=3)), now)


def _plug_in(charger, energy_kwh=10.0):
    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                             "timestamp": iso(utcnow())})["transactionId"]
    charger.rt.chargers.set_preference(charger.id, utcnow() + timedelta(hours=10), energy_kwh)
    return tx


def test_scheduler_lambda_plans_the_fleet_under_the_cap_and_an_event(platform, monkeypatch):
    from tests.integration.conftest import ChargerClient

    monkeypatch.setenv("SITE_CAP_KW", "11")
    _runtime.reset()
    rt = _runtime.runtime()
    _store_day_around_now(rt)
    now = utcnow()
    event_start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    rt.events.add(event_start, event_start + timedelta(hours=1), 3.0)
    chargers = [ChargerClient(rt, f"CP{i}").register() for i in range(3)]
    txs = [_plug_in(c) for c in chargers]

    result = scheduler_handler.lambda_handler({}, None)

    assert result["planned"] == 3 and result["sent"] == 3 and result["skipped"] == []
    plans = [[(parse_ts(a), parse_ts(b), w) for a, b, w in json.loads(rt.sessions.plan_of(c.id, tx))]
             for c, tx in zip(chargers, txs)]
    at = now
    while at < now + timedelta(hours=10):
        load = sum(w for plan in plans for a, b, w in plan if a <= at < b)
        cap = 3000 if event_start <= at < event_start + timedelta(hours=1) else 11000
        assert load <= cap + 1, (at, load)
        at += timedelta(minutes=5)
    for c in chargers:  # each queued exactly one profile
        assert [q.action for q in rt.calls.queued(c.id)].count("SetChargingProfile") == 1
    # Nothing changed: the next run sends nothing.
    again = scheduler_handler.lambda_handler({}, None)
    assert again["sent"] == 0 and again["unchanged"] == 3
    _runtime.reset()


def test_plug_in_and_unplug_ask_for_a_re_plan(charger):
    asked = []
    _runtime.install(build_runtime(Settings.from_env(), replan=asked.append, counters=_runtime.lambda_counters()))
    tx = _plug_in(charger)
    charger.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
        {"timestamp": iso(utcnow()), "sampledValue": [{"value": "10"}]}]})
    charger.result("StopTransaction", {"transactionId": tx, "meterStop": 500, "timestamp": iso(utcnow())})
    assert asked == ["CP001", "CP001"]  # StartTransaction and StopTransaction, not the others

