"""The brute-force policy on its own: back-off per source and per charger/source pair, nothing
ever refused for another source's failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

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


# Behind CloudFront: the viewer's address (CloudFront-Viewer-Address), trusted only with the origin secret

@pytest.mark.parametrize("value, ip", [
    ("198.51.100.10:46532", "198.51.100.10"),
    (" 198.51.100.10:443 ", "198.51.100.10"),
    ("2001:db8::8:46532", "2001:db8::8"),  # CloudFront's IPv6 form: unbracketed, the port after the last colon
    ("2001:0db8:0000:0000:0000:0000:0000:0008:443", "2001:db8::8"),  # one viewer, one text
    ("[2001:db8::8]:46532", "2001:db8::8"),
    ("[2001:DB8::8]:1", "2001:db8::8"),
])
def test_the_viewer_ip_is_read_from_cloudfront_viewer_address_without_its_port(value, ip):
    assert lockout.viewer_ip(value) == ip


@pytest.mark.parametrize("value", [
    None, "", "198.51.100.10", "198.51.100.10:", "198.51.100.10:x", "198.51.100.10:70000", "198.51.100.10:-1",
    "198.51.100.10:٣", "198.51.100.999:1", "[2001:db8::8]", "[2001:db8::8]46532", "[2001:db8::8:46532",
    "2001:db8::8", "::1", "attacker:1", "1.2.3.4:5, 6.7.8.9:10", "[]:1",
    "198.51.100.10:" + "9" * 5000,  # past int()'s digit limit: no ValueError escapes
])
def test_an_unreadable_viewer_address_gives_no_ip(value):
    assert lockout.viewer_ip(value) is None


EDGE_IP = "130.176.0.1"  # a CloudFront edge's address: what API Gateway sees as sourceIp


def test_the_viewer_address_is_the_source_only_on_a_request_from_the_edge():
    assert lockout.handshake_source(EDGE_IP, "198.51.100.7:5000", trusted_edge=True) == "198.51.100.7"
    # a direct caller (no origin secret) cannot pick the address its failures are counted under
    assert lockout.handshake_source("198.51.100.7", "203.0.113.10:5000", trusted_edge=False) == "198.51.100.7"
    # from the edge, an unreadable or missing value falls back to the TCP source
    assert lockout.handshake_source(EDGE_IP, "garbage", trusted_edge=True) == EDGE_IP
    assert lockout.handshake_source(EDGE_IP, None, trusted_edge=True) == EDGE_IP


def test_viewers_sharing_an_edge_are_throttled_apart():
    store = MemoryFailures()
    attacker = lockout.handshake_source(EDGE_IP, "198.51.100.7:40001", trusted_edge=True)
    _fail(store, attacker, "CP001", T0, lockout.PAIR_FREE)
    assert Attempt(store, lockout.handshake_source(EDGE_IP, "198.51.100.7:40002", True), T0).gate("CP001") \
        == lockout.THROTTLED  # the attacker's next connection: another port, the same viewer
    charger = lockout.handshake_source(EDGE_IP, "203.0.113.10:50000", trusted_edge=True)
    assert Attempt(store, charger, T0).gate("CP001") is None


def test_concurrent_failures_each_get_their_own_count_so_the_alert_threshold_is_never_skipped():
    # new-user probe: 22 wrong keys at once from one address counted 21 failures and raised no alert,
    # because each handshake added 1 to the count its gate had read: two that read 18 both said 19,
    # the next read 20 and said 21, and the source alert (at exactly SOURCE_FREE) never fired
    store = MemoryFailures()
    for _ in range(lockout.SOURCE_FREE - 2):
        store.add(lockout.source_key("203.0.113.9"), T0, None, lockout.FORGET_AFTER)
    first, second = Attempt(store, "203.0.113.9", T0), Attempt(store, "203.0.113.9", T0)
    assert first.gate("CP-X") is None and second.gate("CP-Y") is None  # both read 18 before either failed
    first.failed("CP-X", known_charger=False)
    second.failed("CP-Y", known_charger=False)
    assert sorted([first.count_after_failure(False), second.count_after_failure(False)]) == [
        lockout.SOURCE_FREE - 1, lockout.SOURCE_FREE]
