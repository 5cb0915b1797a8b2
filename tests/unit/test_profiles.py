"""Charging profiles in the unit, purpose and limits each charger accepts."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from csms.ocpp import codec as ocpp_j
from csms.ocpp.v16.profiles import ProfileSupport, profile_request, with_purpose


@pytest.mark.parametrize("allowed, unit", [("Current", "A"), ("Power", "W"), ("current,power", "W"), ("Current,Power", "W"),
                                           ("power", "W"), ("", "A")])
def test_unit_follows_the_chargers_allowed_rate_unit(allowed, unit):
    support = ProfileSupport.from_capabilities({"ChargingScheduleAllowedChargingRateUnit": allowed})
    request = profile_request("TxDefaultProfile", [(0, 11000)], support, connector_id=1)
    assert request["csChargingProfiles"]["chargingSchedule"]["chargingRateUnit"] == unit
    ocpp_j.validate(ocpp_j.CALL, "SetChargingProfile", request)


def test_watts_convert_to_amps_with_voltage_and_phases_and_pause_is_zero():
    support = ProfileSupport.from_capabilities({"ChargingScheduleAllowedChargingRateUnit": "Current"})
    request = profile_request("TxProfile", [(0, 11040), (1800, 0), (3600, 1000)], support, connector_id=1, transaction_id=7)
    periods = request["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
    # 11040 W / (230 V x 3) = 16 A; 0 W pauses; 1000 W would be 1.4 A: raised to 6 A so the car resumes
    assert [(p["startPeriod"], p["limit"]) for p in periods] == [(0, 16.0), (1800, 0.0), (3600, 6.0)]
    assert request["csChargingProfiles"]["transactionId"] == 7
    ocpp_j.validate(ocpp_j.CALL, "SetChargingProfile", request)


def test_stack_level_and_period_count_stay_within_the_chargers_limits():
    support = ProfileSupport.from_capabilities({"ChargeProfileMaxStackLevel": "2", "ChargingScheduleMaxPeriods": "3",
                                                "ChargingScheduleAllowedChargingRateUnit": "Power"})
    periods = [(i * 900, 1000 * (i % 2)) for i in range(10)]
    request = profile_request("TxDefaultProfile", periods, support, connector_id=2,
                              start=datetime(2024, 6, 12, 18, tzinfo=timezone.utc))
    profile = request["csChargingProfiles"]
    assert profile["stackLevel"] == 2 and len(profile["chargingSchedule"]["chargingSchedulePeriod"]) <= 3
    assert profile["chargingProfileKind"] == "Absolute"


def test_charge_point_max_profile_goes_to_connector_zero_and_fallback_drops_transaction():
    support = ProfileSupport()
    request = profile_request("TxProfile", [(0, 7000)], support, connector_id=2, transaction_id=5)
    fallback = with_purpose(request, "ChargePointMaxProfile")
    assert fallback["connectorId"] == 0 and "transactionId" not in fallback["csChargingProfiles"]
    ocpp_j.validate(ocpp_j.CALL, "SetChargingProfile", fallback)


def test_rejected_purposes_are_skipped():
    support = ProfileSupport.from_capabilities({"profile.TxProfile": "Rejected"})
    assert support.purposes(has_transaction=True) == ["TxDefaultProfile", "ChargePointMaxProfile"]
    assert ProfileSupport().purposes(has_transaction=False) == ["TxDefaultProfile", "ChargePointMaxProfile"]
