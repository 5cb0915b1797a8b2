"""The brute-force policy on its own: back-off per source and per charger/source pair, nothing
ever refused for another source's failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from csms.ocpp import lockout
from csms.ocpp.lockout import Attempt
from tests.fakes import MemoryFailures

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def _fail(store, source, cp, at, n=1):
    for _ in range(n):
        attempt = Attempt(store, source, at)
        assert attempt.gate(cp) is None
        attempt.failed(cp, known_charger=True)


def test_back_off_doubles_after_the_free_failures_and_is_capped():
    assert [lockout.delay(n, 5) for n in (0, 4)] == [timedelta(0)] * 2
    assert [lockout.delay(n, 5).total_seconds() for n in (5, 6, 7, 8)] == [1, 2, 4, 8]
    assert lockout.delay(10_000, 5) == lockout.MAX_DELAY


def test_a_pair_in_back_off_refuses_only_that_source_for_that_charger():
    store = MemoryFailures()
    _fail(store, "198.51.100.7", "CP001", T0, lockout.PAIR_FREE)
    assert Attempt(store, "198.51.100.7", T0).gate("CP001") == lockout.THROTTLED
    assert Attempt(store, "203.0.113.10", T0).gate("CP001") is None  # the charger's own address
    assert Attempt(store, "198.51.100.7", T0).gate("CP002") is None  # another charger
    assert Attempt(store, "198.51.100.7", T0 + timedelta(seconds=1)).gate("CP001") is None  # 1 s later


def test_a_source_failing_across_chargers_waits_for_all_of_them():
    store = MemoryFailures()
    for i in range(lockout.SOURCE_FREE):
        _fail(store, "198.51.100.7", f"CP{i}", T0)
    assert Attempt(store, "198.51.100.7", T0).gate("CP999") == lockout.THROTTLED
    assert Attempt(store, "203.0.113.10", T0).gate("CP999") is None


def test_counts_are_forgotten_an_hour_after_the_last_failure_and_cleared_by_the_right_key():
    store = MemoryFailures()
    _fail(store, "198.51.100.7", "CP001", T0, 3)
    later = T0 + lockout.FORGET_AFTER
    assert lockout.charger_failures(store, "CP001", later)["failures"] == 0
    attempt = Attempt(store, "198.51.100.7", T0)
    assert attempt.gate("CP001") is None
    attempt.succeeded("CP001")
    assert store.read([lockout.pair_key("CP001", "198.51.100.7")], T0) == {}
    # the charger-wide count (operators' view) is kept
    assert lockout.charger_failures(store, "CP001", T0)["failures"] == 3
