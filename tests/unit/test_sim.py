"""The simulated EV and charger physics (no network)."""

from datetime import datetime, timedelta, timezone

import pytest

from csms_local.sim import EvCharger, EvVisit, _periods_w

T0 = datetime(2024, 6, 12, 18, tzinfo=timezone.utc)


def _charger(energy_wh=7400):
    model = EvCharger(max_power_w=7400)
    model.visit = EvVisit("s1", T0, T0 + timedelta(hours=8), energy_wh)
    return model


def test_ev_draws_max_power_until_full_then_reports_suspended_ev():
    model = _charger(energy_wh=3700)
    assert model.status(T0) == "Charging"
    for minute in range(60):
        model.advance(T0 + timedelta(minutes=minute), 60)
    assert model.drawn_wh == pytest.approx(3700)
    assert model.status(T0 + timedelta(hours=1)) == "SuspendedEV"


def test_zero_limit_pauses_and_a_later_period_resumes():
    model = _charger()
    model.set_profile("TxDefaultProfile", T0, [(0, 0.0), (1800, 3000.0)])
    assert model.status(T0) == "SuspendedEVSE" and model.advance(T0, 60) == 0
    assert model.advance(T0 + timedelta(minutes=31), 60) == 3000


def test_tx_profile_wins_over_default_and_charge_point_max_caps_both():
    model = _charger()
    model.set_profile("TxDefaultProfile", T0, [(0, 1000.0)])
    model.set_profile("TxProfile", T0, [(0, 5000.0)])
    model.set_profile("ChargePointMaxProfile", T0, [(0, 4000.0)])
    assert model.power_w(T0) == 4000


def test_amp_profiles_convert_with_phases():
    assert _periods_w({"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 16}]}, 3, 230) == [(0, 11040.0)]
