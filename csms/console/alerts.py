"""Alerts an operator must hear about (issue 22): a charger offline longer than N minutes, a
connector Faulted (with its errorCode, info, vendorErrorCode), a transaction open longer than N
hours, a charger refusing charging profiles, repeated authentication failures.

Every alert is stored (listed by ``GET /v1/alerts``, kept ``RETENTION``) and published: in AWS an
EventBridge event (an SNS topic and CloudWatch alarms hang off it, ``infra/alerts.py``), locally a
line printed by ``csms local``.

Detection never scans: Faulted, a refused profile and authentication failures are seen in the
message that reports them; "offline too long" and "open too long" are per-event checks scheduled at
the event (the $disconnect, the StartTransaction) for when they would be due, kept in a sparse,
sharded due-index, and looked at once by the sweeper then (one read each: is it still offline /
still open?). Their cost follows events, never the fleet's size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from csms.console.ports import AlertStore
from csms.views.ports import ChargerDirectory, SessionHistory

log = logging.getLogger(__name__)
echo = logging.getLogger("csms.alerts")  # printed by csms local

OFFLINE = "offline"
FAULTED = "faulted"
LONG_TRANSACTION = "long_transaction"
PROFILES_REFUSED = "profiles_refused"
AUTH_FAILURES = "auth_failures"
KINDS = (OFFLINE, FAULTED, LONG_TRANSACTION, PROFILES_REFUSED, AUTH_FAILURES)
RETENTION = timedelta(days=30)
AUTH_FAILURES_ALERT_AT = 5  # wrong keys for a charger from one source (lockout.FORGET_AFTER), or tries of an unknown id in a UTC day
NO_ERROR = "NoError"


@dataclass(frozen=True)
class Alert:
    """``kind`` one of ``KINDS``; ``at`` UTC; ``detail`` what the operator needs to act (JSON-able:
    errorCode, info, vendorErrorCode; offline since; the transaction; the refused purpose; the
    source and count)."""

    kind: str
    charge_point_id: str
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        from csms.timeutil import iso

        return {"kind": self.kind, "charger": self.charge_point_id, "at": iso(self.at), "detail": self.detail}


@dataclass(frozen=True)
class DueCheck:
    """A check to make at ``due_at``: ``kind`` OFFLINE (``ref`` the connection that closed) or
    LONG_TRANSACTION (``ref`` the transaction id)."""

    kind: str
    charge_point_id: str
    ref: str
    due_at: datetime
    since: datetime


Publish = Callable[[Alert], None]


class Alerts:
    """Raise, detect, check. Seams: ``store`` (alerts and due checks), ``publish`` (EventBridge in
    AWS; None: stored and printed only), ``chargers`` / ``sessions`` (what a due check reads),
    ``offline_after`` / ``open_after`` (the thresholds), ``clock`` (UTC). No method raises into
    the caller: an alert never costs a charger its answer."""

    def __init__(self, *, store: AlertStore, chargers: ChargerDirectory, sessions: SessionHistory,
                 clock: Callable[[], datetime], publish: Publish | None = None,
                 offline_after: timedelta = timedelta(minutes=15), open_after: timedelta = timedelta(hours=24)):
        self.store, self.chargers, self.sessions, self.clock = store, chargers, sessions, clock
        self.publish = publish
        self.offline_after, self.open_after = offline_after, open_after

    def raise_alert(self, alert: Alert) -> None:
        echo.warning("ALERT %s %s %s", alert.kind, alert.charge_point_id, alert.detail)
        try:
            self.store.add(alert)
        except Exception:
            log.exception("could not store the %s alert of %s", alert.kind, alert.charge_point_id)
        if self.publish is not None:
            try:
                self.publish(alert)
            except Exception:
                log.exception("could not publish the %s alert of %s", alert.kind, alert.charge_point_id)

    # ------------------------------------------------------------ events
    def on_message(self, charge_point_id: str, action: str, payload: dict[str, Any], at: datetime) -> None:
        """The central system's notification hook (``csms.ocpp.v16.central.NotificationHook``): a
        StatusNotification reporting a fault, a StartTransaction (its check when open too long)."""
        try:
            if action == "StatusNotification":
                self._status(charge_point_id, payload, at)
            elif action == "StartTransaction" and isinstance(payload.get("transactionId"), int):
                self._schedule(DueCheck(LONG_TRANSACTION, charge_point_id, str(payload["transactionId"]),
                                        at + self.open_after, at))
        except Exception:
            log.exception("alert detection failed for %s from %s", action, charge_point_id)

    def _status(self, charge_point_id: str, p: dict[str, Any], at: datetime) -> None:
        if p.get("status") != "Faulted" and p.get("errorCode", NO_ERROR) == NO_ERROR:
            return
        detail = {"connector_id": p.get("connectorId"), "status": p.get("status"), "error_code": p.get("errorCode"),
                  "info": p.get("info"), "vendor_id": p.get("vendorId"), "vendor_error_code": p.get("vendorErrorCode")}
        self.raise_alert(Alert(FAULTED, charge_point_id, at, {k: v for k, v in detail.items() if v is not None}))

    def on_disconnect(self, charge_point_id: str, connection_id: str, at: datetime) -> None:
        """The charger went offline: check at ``at + offline_after`` whether it still is (one write)."""
        self._schedule(DueCheck(OFFLINE, charge_point_id, connection_id, at + self.offline_after, at))

    def on_profile_answer(self, charge_point_id: str, purpose: str, status: str, at: datetime) -> None:
        """A SetChargingProfile answered with anything but Accepted (Rejected, NotSupported, an error)."""
        self.raise_alert(Alert(PROFILES_REFUSED, charge_point_id, at, {"purpose": purpose, "status": status}))

    def on_auth_failures(self, charge_point_id: str | None, source: str | None, count: int, at: datetime,
                         known_charger: bool) -> None:
        """Refused handshakes of one charge point id: one alert when ``count`` reaches
        ``AUTH_FAILURES_ALERT_AT``. The two reasons are counted apart, each under the id it concerns:
        ``known_charger``, wrong keys for that charger from ``source`` (the lockout's pair counter,
        ``csms.ocpp.lockout``); else tries of that unknown id in the UTC day (``csms.console.unknown``).
        A source guessing many ids is the lockout's to throttle (its own counter), not an alert here."""
        if count != AUTH_FAILURES_ALERT_AT:
            return
        reason = "wrong key" if known_charger else "unknown charge point id"
        self.raise_alert(Alert(AUTH_FAILURES, charge_point_id or "-", at,
                               {"source": source, "failures": count, "reason": reason}))

    def on_source_failures(self, source: str | None, count: int, at: datetime) -> None:
        """Refused handshakes from one source, of any charge point id and either reason (wrong key,
        unknown id): one alert, under charger ``"-"``, when ``count`` (the lockout's source counter
        within ``lockout.FORGET_AFTER``) reaches ``lockout.SOURCE_FREE``, the failure from which the
        lockout throttles the source (``csms.ocpp.lockout``). Someone guessing ids or keys from one
        address is seen even when no single id reaches ``AUTH_FAILURES_ALERT_AT``."""
        from csms.ocpp.lockout import SOURCE_FREE

        if count != SOURCE_FREE:
            return
        self.raise_alert(Alert(AUTH_FAILURES, "-", at, {"source": source, "failures": count,
                                                         "reason": "failed handshakes from one source: throttled"}))

    def _schedule(self, check: DueCheck) -> None:
        try:
            self.store.schedule(check)
        except Exception:
            log.exception("could not schedule the %s check of %s", check.kind, check.charge_point_id)

    # ------------------------------------------------------------ periodic
    def check_due(self, now: datetime | None = None) -> int:
        """The sweeper's part: every check whose time has come, one read each. Returns alerts raised."""
        now = now or self.clock()
        raised = 0
        for check in self.store.due(now):
            try:
                alert = self._check(check, now)
                if alert is not None:
                    self.raise_alert(alert)
                    raised += 1
                self.store.done(check)
            except Exception:  # one charger's failure must not stop the sweep
                log.exception("the %s check of %s failed", check.kind, check.charge_point_id)
        return raised

    def _check(self, check: DueCheck, now: datetime) -> Alert | None:
        from csms.timeutil import iso

        if check.kind == OFFLINE:
            view = self.chargers.get(check.charge_point_id)
            if view is None or view.online:
                return None
            minutes = round((now - check.since).total_seconds() / 60)
            return Alert(OFFLINE, check.charge_point_id, now, {"since": iso(check.since), "minutes": minutes})
        if check.kind == LONG_TRANSACTION:
            session = self.sessions.get(check.charge_point_id, int(check.ref))
            if session is None or not session.active:
                return None
            hours = round((now - session.started_at).total_seconds() / 3600, 1)
            return Alert(LONG_TRANSACTION, check.charge_point_id, now,
                         {"transaction_id": session.transaction_id, "connector_id": session.connector_id,
                          "started_at": iso(session.started_at), "hours": hours})
        return None

    def recent(self, since: datetime, limit: int, kind: str | None = None,
               charge_point_id: str | None = None) -> list[Alert]:
        return self.store.recent(since, limit, kind, charge_point_id)
