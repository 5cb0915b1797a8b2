"""No CALL the platform sends exceeds API Gateway's 32 KB frame limit (a bigger frame closes the
charger's socket with 1009, and the call would be retried on every connection for ever)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from csms.ocpp.codec import OcppError
from csms.ocpp.commands import MAX_FRAME_BYTES, Commander
from csms.ocpp.setup_policy import setup_calls
from tests.fakes import MemoryCallQueue, MemoryChargers, MemoryPoster

NOW = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)


def _commander(caps: dict[str, str] | None = None) -> tuple[Commander, MemoryCallQueue, MemoryChargers]:
    queue, link = MemoryCallQueue(), MemoryChargers()
    link.register("CP1", "h", NOW)
    link.connect("CP1", "c1", NOW)
    link.record_capabilities("CP1", dict(caps or {}))
    return Commander(queue, link, MemoryPoster(), clock=lambda: NOW), queue, link


def _sizes(queue: MemoryCallQueue) -> list[int]:
    return [len(call.frame().encode()) for call in queue.queued("CP1")]


def test_an_oversized_call_is_refused_before_it_is_queued():
    commander, queue, _ = _commander()
    with pytest.raises(OcppError, match="32768-byte frame limit"):
        commander.enqueue("CP1", "DataTransfer", {"vendorId": "v", "data": "x" * MAX_FRAME_BYTES})
    assert queue.queued("CP1") == []


def test_set_up_calls_fit_and_configure_stop_transaction_data():
    commander, queue, _ = _commander()
    setup_calls(commander, "CP1")
    assert max(_sizes(queue)) < MAX_FRAME_BYTES
    keys = {c.payload.get("key"): c.payload.get("value") for c in queue.queued("CP1") if c.action == "ChangeConfiguration"}
    assert keys["StopTxnSampledData"] == "Energy.Active.Import.Register" and keys["StopTxnAlignedData"] == ""


def test_a_long_plan_for_a_charger_claiming_huge_limits_still_fits_one_frame():
    # Given a charger that says it takes 100,000 periods and a minute-by-minute plan of 2 days
    commander, queue, _ = _commander({"ChargingScheduleMaxPeriods": "100000", "ChargeProfileMaxStackLevel": "9",
                                      "ChargingScheduleAllowedChargingRateUnit": "Current"})
    periods = [(60 * i, 7400.0 + (i % 7) * 1000.123) for i in range(2880)]
    commander.set_limit("CP1", periods, transaction_id=2_147_483_647, start=NOW)
    # Then the SetChargingProfile sent is under the limit
    (size,) = [len(o.call.frame().encode()) for o in [queue.outstanding("CP1")]]
    assert size < MAX_FRAME_BYTES
