"""Meter maths: spec defaults, units, power from A x V, session energy checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.ocpp.meter import (
    import_power_w,
    normalise,
    parse_meter_values,
    register_delta_wh,
    session_energy,
)
from csms.model import MeterSample

T0 = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)


def _sample(minutes, energy_wh=None, power_w=None):
    return MeterSample("CP", 1, T0 + timedelta(minutes=minutes), "mv", (), None, power_w, energy_wh)


def test_sampled_value_defaults_follow_the_spec():
    reading = normalise({"value": "1234.5"})
    assert (reading.measurand, reading.unit, reading.context, reading.location, reading.phase) == (
        "Energy.Active.Import.Register", "Wh", "Sample.Periodic", "Outlet", None)
    assert reading.value == 1234.5


@pytest.mark.parametrize("unit, value, expected_unit, expected", [
    ("kW", "7.2", "W", 7200.0), ("W", "7200", "W", 7200.0), ("kWh", "1.5", "Wh", 1500.0), ("Wh", "1500", "Wh", 1500.0),
    ("A", "16", "A", 16.0), ("V", "230.1", "V", 230.1),
])
def test_units_are_normalised(unit, value, expected_unit, expected):
    measurand = {"W": "Power.Active.Import", "kW": "Power.Active.Import", "A": "Current.Import", "V": "Voltage"}.get(
        unit, "Energy.Active.Import.Register")
    reading = normalise({"value": value, "unit": unit, "measurand": measurand})
    assert reading.unit == expected_unit and reading.value == pytest.approx(expected)


def test_power_is_summed_over_phases_from_current_and_voltage():
    values = [normalise(v) for v in [
        {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "15", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
        {"value": "14", "measurand": "Current.Import", "unit": "A", "phase": "L3"},
        {"value": "230", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
        {"value": "231", "measurand": "Voltage", "unit": "V", "phase": "L2-N"},
        {"value": "229", "measurand": "Voltage", "unit": "V", "phase": "L3-N"},
    ]]
    assert import_power_w(values) == pytest.approx(16 * 230 + 15 * 231 + 14 * 229)


def test_single_phase_current_and_voltage_without_phase():
    values = [normalise({"value": "32", "measurand": "Current.Import", "unit": "A"}),
              normalise({"value": "230", "measurand": "Voltage", "unit": "V"})]
    assert import_power_w(values) == pytest.approx(7360)


def test_power_reading_wins_over_current_times_voltage_and_kw_is_scaled():
    values = [normalise({"value": "7.0", "measurand": "Power.Active.Import", "unit": "kW"}),
              normalise({"value": "32", "measurand": "Current.Import", "unit": "A"}),
              normalise({"value": "230", "measurand": "Voltage", "unit": "V"})]
    assert import_power_w(values) == 7000


def test_unreadable_values_are_reported_not_raised():
    samples, problems = parse_meter_values("CP", 1, [
        {"timestamp": "2024-06-12T18:00:00Z", "sampledValue": [{"value": "abc"}, {"value": "10"}]},
        {"timestamp": "yesterday", "sampledValue": [{"value": "20"}]},
    ], source="mv", transaction_id=None, received_at=T0)
    assert [s.energy_wh for s in samples] == [10]
    assert len(problems) == 2


def test_elements_stamped_alike_are_one_sample_with_all_their_readings():
    # Given a charger that sends each measurand in its own meterValue element with one timestamp
    samples, problems = parse_meter_values("CP", 1, [
        {"timestamp": "2024-06-12T18:00:05Z", "sampledValue": [
            {"value": "5000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]},
        {"timestamp": "2024-06-12T18:00:05.000Z", "sampledValue": [
            {"value": "1234", "measurand": "Power.Active.Import", "unit": "W"}]},
        {"timestamp": "2024-06-12T18:00:10Z", "sampledValue": [{"value": "5010"}]},
    ], source="mv", transaction_id=7, received_at=T0)
    # Then one sample per stored key keeps both readings (none replaces the other)
    assert problems == []
    assert [(s.energy_wh, s.power_w, len(s.readings)) for s in samples] == [(5000, 1234, 2), (5010, None, 1)]


def test_session_energy_from_register_agrees_with_power():
    samples = [_sample(0, 1000, 7200), _sample(30, 4600, 7200), _sample(60, 8200, 7200)]
    result = session_energy(1000, samples, 8200)
    assert result.energy_wh == pytest.approx(7200) and result.flags == ()


def test_register_in_kwh_labelled_wh_is_detected_and_scaled():
    # Given a charger that sends kWh values with unit "Wh" (1.0 -> 8.2 "Wh" in an hour at 7.2 kW)
    samples = [_sample(0, 1.0, 7200), _sample(30, 4.6, 7200), _sample(60, 8.2, 7200)]
    # When the session's energy is computed
    result = session_energy(None, samples, None)
    # Then it is scaled to Wh and flagged
    assert result.energy_wh == pytest.approx(7200)
    assert "register_unit_kwh_labelled_wh" in result.flags


def test_meter_reset_mid_session_counts_from_zero():
    energy, reset = register_delta_wh(5000, [_sample(10, 6000), _sample(20, 300), _sample(30, 1300)], 1300)
    assert reset and energy == pytest.approx(1000 + 300 + 1000)


def test_stop_below_start_is_flagged():
    result = session_energy(5000, [], 4000)
    assert "meter_stop_below_start" in result.flags


def test_no_register_falls_back_to_power_times_time():
    result = session_energy(None, [_sample(0, None, 6000), _sample(60, None, 6000)], None)
    assert result.energy_wh == pytest.approx(6000) and "energy_from_power" in result.flags


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=30))
def test_register_energy_is_never_negative(values):
    energy, _ = register_delta_wh(None, [_sample(i, v) for i, v in enumerate(values)], None)
    assert energy is None or energy >= 0


def test_meter_stop_rounded_below_the_last_sample_is_not_a_reset():
    # Given a charger whose meterStop is truncated while its last sample was rounded up
    energy, reset = register_delta_wh(1_000_000, [_sample(10, 1_005_000), _sample(20, 1_005_914)], 1_005_913)
    # Then the step back is rounding, not a reset
    assert not reset and energy == pytest.approx(5914)


def test_phase_current_without_a_usable_voltage_gives_no_power_not_an_error():
    # Found by bench/fuzz_frames.py: voltage only line-to-line, currents per phase
    readings = [normalise({"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"}),
                normalise({"value": "400", "measurand": "Voltage", "unit": "V", "phase": "L1-L2"})]
    assert import_power_w(readings) is None
