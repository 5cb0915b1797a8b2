"""The scheduler against stored sessions (moto): a plugged-in vehicle gets a charging profile
that follows the prices and its driver's departure; an unchanged plan is not sent again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from adapters.smart_charging import run_scheduler
from csms.charging.tariff import SLOT, Signals
from csms.timeutil import iso, utcnow


def _signals(now, prices):
    start = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    starts = tuple(start + SLOT * i for i in range(len(prices)))
    return Signals(starts, tuple(prices), tuple([150.0] * len(prices)), tuple([150.0] * len(prices)))


def test_plugged_in_vehicle_gets_a_profile_once_and_its_plan_is_kept(charger, poster):
    rt = charger.rt
    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W"})
    now = utcnow()
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "T1", "meterStart": 1000,
                                             "timestamp": iso(now)})["transactionId"]
    # The driver leaves in 6 hours and needs 6 kWh; the cheapest hour is 3 hours from now.
    rt.chargers.set_preference(charger.id, now + timedelta(hours=6), 6.0)
    prices = [30, 30, 30, 30, 30, 30, 2, 2, 30, 30, 30, 30, 30]
    signals = _signals(now, prices)

    report = run_scheduler(rt, lambda: signals, lambda: now)

    assert report.planned == 1 and report.sent == 1
    # The profile waits in the charger's queue behind the set-up calls (one CALL at a time).
    profiles = [c for c in rt.calls.queued(charger.id) if c.action == "SetChargingProfile"]
    assert len(profiles) == 1
    assert profiles[0].payload["csChargingProfiles"]["transactionId"] == tx
    plan = json.loads(rt.sessions.plan_of(charger.id, tx))
    charging = [p for p in plan if p[2] > 0]
    # All 6 kWh fit into the cheap hour at (0.9 x) 7.4 kW: that is where it charges, and (as a
    # safety net) at full power in the last half hour before departure, if anything is still missing.
    first_cheap = signals.starts[6]
    assert charging[0][0] == iso(first_cheap)
    cheap = [p for p in charging if _t(p[1]) <= first_cheap + 2 * SLOT]
    assert sum(p[2] * (_t(p[1]) - _t(p[0])).total_seconds() / 3600 for p in cheap) == pytest.approx(6000, abs=1)
    assert [p[1] for p in charging[len(cheap):]] == [iso(now + timedelta(hours=6))]

    # A second run a minute later with nothing changed sends nothing new.
    report = run_scheduler(rt, lambda: signals, lambda: now + timedelta(minutes=1))
    assert report.unchanged == 1 and report.sent == 0
    assert len([c for c in rt.calls.queued(charger.id) if c.action == "SetChargingProfile"]) == 1


def _t(text):
    from csms.timeutil import parse_ts

    return parse_ts(text)
