"""Alert detection (issue 22) with in-memory ports: what raises an alert, what does not, and that a
due check is made once, reading only what it checks."""

from __future__ import annotations

from datetime import timedelta

from csms.console.alerts import AUTH_FAILURES_ALERT_AT, Alerts
from csms.model import Session
from tests.fakes import MemoryAlerts, MemoryChargers, MemorySessions
from tests.unit.test_central import NOW


def _alerts():
    store, chargers, sessions = MemoryAlerts(), MemoryChargers(), MemorySessions()
    chargers.register("CP", "hash", NOW)
    published = []
    return Alerts(store=store, chargers=chargers, sessions=sessions, clock=lambda: NOW, publish=published.append), \
        store, chargers, sessions, published


def test_a_fault_or_an_error_code_is_an_alert_a_healthy_status_is_not():
    alerts, store, _, _, published = _alerts()
    alerts.on_message("CP", "StatusNotification", {"connectorId": 1, "status": "Available", "errorCode": "NoError"}, NOW)
    assert store.alerts == []
    alerts.on_message("CP", "StatusNotification", {"connectorId": 1, "status": "Charging", "errorCode": "PowerMeterFailure"}, NOW)
    alerts.on_message("CP", "StatusNotification", {"connectorId": 2, "status": "Faulted", "errorCode": "OtherError",
                                                   "vendorErrorCode": "E9"}, NOW)
    assert [(a.kind, a.detail.get("error_code")) for a in store.alerts] == [("faulted", "PowerMeterFailure"),
                                                                            ("faulted", "OtherError")]
    assert published == store.alerts  # each one published (EventBridge in AWS)


def test_authentication_failures_alert_once_at_the_threshold():
    alerts, store, *_ = _alerts()
    for count in range(1, AUTH_FAILURES_ALERT_AT + 3):
        alerts.on_auth_failures("CP", "198.51.100.7", count, NOW, known_charger=True)
    (alert,) = store.alerts
    assert alert.detail == {"source": "198.51.100.7", "failures": AUTH_FAILURES_ALERT_AT, "reason": "wrong key"}


def test_due_checks_raise_only_while_the_condition_holds_and_are_made_once():
    alerts, store, chargers, sessions, _ = _alerts()
    chargers.connect("CP", "c1", NOW)
    chargers.disconnect("CP", "c1", NOW)
    alerts.on_disconnect("CP", "c1", NOW)
    tx = sessions.create(Session("CP", 0, 1, "T", 0, NOW, NOW), "k")
    alerts.on_message("CP", "StartTransaction", {"connectorId": 1, "transactionId": tx}, NOW)
    assert alerts.check_due(NOW + timedelta(minutes=10)) == 0 and len(store.checks) == 2
    assert alerts.check_due(NOW + timedelta(minutes=16)) == 1  # offline
    assert alerts.check_due(NOW + timedelta(hours=25)) == 1  # still open
    assert alerts.check_due(NOW + timedelta(hours=26)) == 0 and store.checks == {}
    assert [a.kind for a in store.alerts] == ["offline", "long_transaction"]


def test_a_publisher_that_fails_never_reaches_the_caller():
    alerts, store, *_ = _alerts()

    def broken(alert):
        raise OSError("EventBridge down")

    alerts.publish = broken
    alerts.on_profile_answer("CP", "TxProfile", "Rejected", NOW)
    assert [a.kind for a in store.alerts] == ["profiles_refused"]
