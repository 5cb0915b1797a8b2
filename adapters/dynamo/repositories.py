"""DynamoDB implementations of the domain's repositories (``csms.ocpp.ports``).

Every write that must not clobber newer state is conditional; every method
costs a known number of requests (see docs and the request-count test):
MeterValues = 1 PutItem, Heartbeat = 1 UpdateItem, no reads on the hot path.
Call :func:`adapters.dynamo.models.bind` before using these.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterable

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from adapters.dynamo.models import (
    ChargerModel,
    ConnectorModel,
    KeyModel,
    MeterSampleModel,
    GridEventModel,
    ReviewModel,
    SessionModel,
    SignalModel,
)
from csms.charging.signals import DemandEvent, SignalRow, to_signals
from csms.charging.tariff import Signals
from csms.model import (BootInfo, ChargerAuth, ChargerView, ConnectorStatus, MeterSample, Preference, Reading, ReviewItem,
                        Session)
from csms.ocpp.ports import AlreadyExists
from csms.timeutil import iso, parse_ts

log = logging.getLogger(__name__)

TRANSACTION_COUNTER = "counter#transaction"
START_KEY_TTL_S = 90 * 24 * 3600  # retries of a StartTransaction come within days, not months


def _conditional_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def _boot_from(item: ChargerModel) -> BootInfo | None:
    if item.boot is None:
        return None
    data = item.boot.as_dict() if hasattr(item.boot, "as_dict") else dict(item.boot)
    return BootInfo(**{k: data.get(k) for k in BootInfo.__dataclass_fields__})


def _preference_from(charge_point_id: str, stored: dict) -> Preference:
    departure = None
    if stored.get("departure"):
        try:
            departure = parse_ts(stored["departure"])
        except ValueError:
            log.warning("unreadable departure in %s's preference", charge_point_id)
    return Preference(departure, stored.get("energy_kwh"), bool(stored.get("charge_now")), stored.get("carbon_price"))


def _view(item: ChargerModel) -> ChargerView:
    return ChargerView(
        charge_point_id=item.charge_point_id,
        online=bool(item.online),
        connection_id=item.connection_id,
        last_seen=item.last_seen,
        boot=_boot_from(item),
        firmware_status=item.firmware_status,
        diagnostics_status=item.diagnostics_status,
        driver=item.driver,
        security_profile=int(item.security_profile or 2),
        security=_map(item.security),
        certificate=_map(item.certificate),
        security_events=tuple(_map(e) for e in (item.security_events or ())),
    )


def _map(value) -> dict | None:
    if value is None:
        return None
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


class DynamoChargers:
    def register(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        item = ChargerModel(
            charge_point_id, password_hash=password_hash, created_at=at, enabled=True, online=False, capabilities={}
        )
        try:
            item.save(condition=ChargerModel.charge_point_id.does_not_exist())
        except PutError as exc:
            if _conditional_failed(exc):
                raise AlreadyExists(charge_point_id) from exc
            raise

    def set_password_hash(self, charge_point_id: str, password_hash: str) -> bool:
        return self._update(charge_point_id, [ChargerModel.password_hash.set(password_hash)])

    def delete(self, charge_point_id: str) -> bool:
        try:
            ChargerModel(charge_point_id).delete(condition=ChargerModel.charge_point_id.exists())
            return True
        except Exception as exc:  # DeleteError
            if _conditional_failed(exc):
                return False
            raise

    def get_auth(self, charge_point_id: str) -> ChargerAuth | None:
        try:
            item = ChargerModel.get(
                charge_point_id,
                attributes_to_get=["charge_point_id", "password_hash", "enabled", "auth_failures", "auth_failures_since",
                                   "security_profile", "revoked_certs"],
            )
        except DoesNotExist:
            return None
        return ChargerAuth(item.charge_point_id, item.password_hash, item.enabled is not False,
                           int(item.auth_failures or 0), item.auth_failures_since,
                           int(item.security_profile or 2), frozenset(item.revoked_certs or ()))

    def record_auth_failure(self, charge_point_id: str, at: datetime, window: timedelta) -> None:
        """Count a wrong key in the current window (one UpdateItem; a new window restarts at 1)."""
        in_window = ChargerModel.auth_failures_since > at - window
        try:
            ChargerModel(charge_point_id).update(actions=[ChargerModel.auth_failures.add(1)],
                                                 condition=ChargerModel.charge_point_id.exists() & in_window)
            return
        except UpdateError as exc:
            if not _conditional_failed(exc):
                raise
        self._update(charge_point_id, [ChargerModel.auth_failures.set(1), ChargerModel.auth_failures_since.set(at)])

    def _update(self, charge_point_id: str, actions, condition=None) -> bool:
        exists = ChargerModel.charge_point_id.exists()
        try:
            ChargerModel(charge_point_id).update(actions=actions, condition=exists & condition if condition is not None else exists)
            return True
        except UpdateError as exc:
            if _conditional_failed(exc):
                return False
            raise

    def connect(self, charge_point_id: str, connection_id: str, at: datetime, security=None) -> bool:
        """``security`` (csms.ocpp.certificates.ConnectionSecurity) is recorded in the same UpdateItem;
        a certificate connection raises the charger's profile floor to 3."""
        from csms.ocpp.certificates import security_record

        actions = [
            ChargerModel.connection_id.set(connection_id),
            ChargerModel.online.set(True),
            ChargerModel.connected_at.set(at),
            ChargerModel.last_seen.set(at),
        ]
        if security is not None:
            record, certificate = security_record(security, at)
            actions.append(ChargerModel.security.set(record))
            if certificate is not None:
                actions += [ChargerModel.certificate.set(certificate), ChargerModel.security_profile.set(security.profile)]
        return self._update(charge_point_id, actions)

    def set_security_profile(self, charge_point_id: str, profile: int) -> bool:
        """Raise the charger's profile floor; False when unknown or already higher (never lowers)."""
        floor = ChargerModel.security_profile.does_not_exist() | (ChargerModel.security_profile <= profile)
        return self._update(charge_point_id, [ChargerModel.security_profile.set(profile)], condition=floor)

    def record_security_event(self, charge_point_id: str, event: dict, keep: int) -> None:
        """Append to the charger's latest security events and drop the oldest beyond ``keep``: one
        UpdateItem, and a second (conditional, on the list's size) only when the list is full."""
        self._update(charge_point_id, [ChargerModel.security_events.set((ChargerModel.security_events | []).append([event]))])
        self._update(charge_point_id, [ChargerModel.security_events[0].remove()],
                     condition=size(ChargerModel.security_events) > keep)

    def revoke(self, charge_point_id: str, keys: Iterable[str]) -> bool:
        """Add ``serial:``/``sha256:`` entries to the charger's revocation list (one UpdateItem)."""
        return self._update(charge_point_id, [ChargerModel.revoked_certs.add(set(keys))])

    def disconnect(self, charge_point_id: str, connection_id: str, at: datetime) -> bool:
        # Only the current connection may mark the charger offline: a late
        # $disconnect of an old socket must not hide a charger that reconnected.
        return self._update(
            charge_point_id,
            [ChargerModel.online.set(False), ChargerModel.disconnected_at.set(at), ChargerModel.connection_id.remove()],
            condition=ChargerModel.connection_id == connection_id,
        )

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> None:
        data = {k: v for k, v in boot.__dict__.items() if v is not None}
        self._update(
            charge_point_id,
            [ChargerModel.boot.set(data), ChargerModel.boot_at.set(at), ChargerModel.last_seen.set(at)],
        )

    def touch(self, charge_point_id: str, at: datetime) -> None:
        self._update(charge_point_id, [ChargerModel.last_seen.set(at)])

    def record_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        self._update(
            charge_point_id,
            [
                ChargerModel.firmware_status.set(status),
                ChargerModel.firmware_status_at.set(at),
                # one UpdateItem still: the history is appended in the same write
                ChargerModel.firmware_history.set((ChargerModel.firmware_history | []).append([f"{iso(at)} {status}"])),
            ],
        )

    def record_diagnostics_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        self._update(
            charge_point_id, [ChargerModel.diagnostics_status.set(status), ChargerModel.diagnostics_status_at.set(at)]
        )

    def get(self, charge_point_id: str) -> ChargerView | None:
        try:
            return _view(ChargerModel.get(charge_point_id, consistent_read=True))
        except DoesNotExist:
            return None

    def list(self) -> list[ChargerView]:
        return sorted((_view(i) for i in ChargerModel.scan()), key=lambda v: v.charge_point_id)

    # ChargerLink (csms.ocpp.ports): what the outbound call queue needs
    def connection(self, charge_point_id: str) -> tuple[str | None, str | None, datetime | None]:
        try:
            item = ChargerModel.get(
                charge_point_id,
                consistent_read=True,
                attributes_to_get=["connection_id", "setup_connection_id", "boot_at", "online"],
            )
        except DoesNotExist:
            return None, None, None
        current = item.connection_id if item.online else None
        return current, item.setup_connection_id, item.boot_at

    def mark_setup(self, charge_point_id: str, connection_id: str) -> bool:
        return self._update(
            charge_point_id,
            [ChargerModel.setup_connection_id.set(connection_id)],
            condition=ChargerModel.setup_connection_id.does_not_exist()
            | (ChargerModel.setup_connection_id != connection_id),
        )

    def mark_stale(self, charge_point_id: str, connection_id: str) -> None:
        self._update(
            charge_point_id,
            [ChargerModel.online.set(False), ChargerModel.connection_id.remove()],
            condition=ChargerModel.connection_id == connection_id,
        )

    def record_capabilities(self, charge_point_id: str, values: dict[str, str]) -> None:
        if not values:
            return
        self._update(charge_point_id, [ChargerModel.capabilities[k].set(str(v)[:500]) for k, v in values.items()])

    def set_preference(self, charge_point_id: str, departure: datetime | None, energy_kwh: float | None,
                       charge_now: bool = False, carbon_price: float | None = None) -> bool:
        value = {"charge_now": charge_now}
        if carbon_price is not None:
            value["carbon_price"] = float(carbon_price)
        if departure is not None:
            value["departure"] = iso(departure)
        if energy_kwh is not None:
            value["energy_kwh"] = float(energy_kwh)
        return self._update(charge_point_id, [ChargerModel.preference.set(value)])

    def set_driver(self, charge_point_id: str, driver: str | None) -> bool:
        action = ChargerModel.driver.set(driver) if driver else ChargerModel.driver.remove()
        return self._update(charge_point_id, [action])

    def count_online(self) -> int:
        """Chargers with a live connection (the ConnectedChargers metric). A scan reading only the
        flag: about 0.5 RCU per 4 KB of the table per call; a sparse index is the step for a large fleet."""
        return sum(1 for _ in ChargerModel.scan(ChargerModel.online == True,  # noqa: E712
                                                 attributes_to_get=["charge_point_id"]))

    def of_driver(self, driver: str) -> list[ChargerView]:
        """The chargers linked to a driver. A scan with a filter: fine for thousands of chargers; a
        GSI on ``driver`` is the step for a large fleet."""
        return [_view(i) for i in ChargerModel.scan(ChargerModel.driver == driver)]

    def preference(self, charge_point_id: str) -> Preference:
        try:
            item = ChargerModel.get(charge_point_id, attributes_to_get=["preference"])
        except DoesNotExist:
            return Preference()
        pref = item.preference
        return _preference_from(charge_point_id, dict(pref.as_dict() if hasattr(pref, "as_dict") else pref or {}))

    def firmware_history(self, charge_point_id: str) -> list[str]:
        try:
            item = ChargerModel.get(charge_point_id, consistent_read=True, attributes_to_get=["firmware_history"])
        except DoesNotExist:
            return []
        return list(item.firmware_history or [])

    def capabilities(self, charge_point_id: str) -> dict[str, str]:
        try:
            item = ChargerModel.get(charge_point_id, consistent_read=True, attributes_to_get=["capabilities"])
        except DoesNotExist:
            return {}
        caps = item.capabilities
        return dict(caps.as_dict() if hasattr(caps, "as_dict") else caps or {})


def _status_from(item: ConnectorModel) -> ConnectorStatus:
    return ConnectorStatus(
        connector_id=int(item.connector_id),
        status=item.status,
        error_code=item.error_code,
        timestamp=item.status_at,
        received_at=item.received_at,
        info=item.info,
        vendor_id=item.vendor_id,
        vendor_error_code=item.vendor_error_code,
    )


class DynamoConnectors:
    def record_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        newer_or_first = ConnectorModel.status_at.does_not_exist() | (ConnectorModel.status_at <= status.timestamp)
        actions = [
            ConnectorModel.status.set(status.status),
            ConnectorModel.error_code.set(status.error_code),
            ConnectorModel.status_at.set(status.timestamp),
            ConnectorModel.received_at.set(status.received_at),
        ]
        for attr, value in (
            (ConnectorModel.info, status.info),
            (ConnectorModel.vendor_id, status.vendor_id),
            (ConnectorModel.vendor_error_code, status.vendor_error_code),
        ):
            actions.append(attr.set(value) if value is not None else attr.remove())
        try:
            ConnectorModel(charge_point_id, status.connector_id).update(actions=actions, condition=newer_or_first)
            return True
        except UpdateError as exc:
            if _conditional_failed(exc):
                return False
            raise

    def list(self, charge_point_id: str) -> list[ConnectorStatus]:
        return [_status_from(i) for i in ConnectorModel.query(charge_point_id, consistent_read=True)]


def _session_from(item: SessionModel) -> Session:
    return Session(
        charge_point_id=item.charge_point_id,
        transaction_id=int(item.transaction_id),
        connector_id=int(item.connector_id),
        id_tag=item.id_tag,
        meter_start_wh=int(item.meter_start_wh),
        started_at=item.started_at,
        start_received_at=item.start_received_at,
        reservation_id=int(item.reservation_id) if item.reservation_id is not None else None,
        stopped_at=item.stopped_at,
        stop_received_at=item.stop_received_at,
        meter_stop_wh=int(item.meter_stop_wh) if item.meter_stop_wh is not None else None,
        stop_reason=item.stop_reason,
        stop_id_tag=item.stop_id_tag,
        energy_wh=float(item.energy_wh) if item.energy_wh is not None else None,
        max_power_w=float(item.max_power_w) if item.max_power_w is not None else None,
        flags=list(item.flags or []),
        plan_hash=item.plan_hash,
    )


def _start_pk(start_key: str) -> str:
    return "txstart#" + hashlib.sha256(start_key.encode("utf-8", "surrogatepass")).hexdigest()


class DynamoSessions:
    def find_by_start_key(self, start_key: str) -> int | None:
        try:
            return int(KeyModel.get(_start_pk(start_key), consistent_read=True).value)
        except DoesNotExist:
            return None

    def _next_id(self) -> int:
        counter = KeyModel(TRANSACTION_COUNTER)
        counter.update(actions=[KeyModel.value.add(1)])  # atomic, returns the new value
        return int(counter.value)

    def create(self, session_without_id: Session, start_key: str) -> int:
        transaction_id = self._next_id()
        s = session_without_id
        item = SessionModel(
            s.charge_point_id,
            transaction_id,
            connector_id=s.connector_id,
            id_tag=s.id_tag,
            meter_start_wh=s.meter_start_wh,
            started_at=s.started_at,
            start_received_at=s.start_received_at,
            reservation_id=s.reservation_id,
            active=True,
            flags=list(s.flags) or None,
        )
        key = KeyModel(_start_pk(start_key), value=transaction_id, expires_at=timedelta(seconds=START_KEY_TTL_S))
        try:
            with TransactWrite(connection=Connection(region=KeyModel.Meta.region, host=KeyModel.Meta.host)) as tx:
                tx.save(key, condition=KeyModel.pk.does_not_exist())
                tx.save(item, condition=SessionModel.transaction_id.does_not_exist())
        except TransactWriteError as exc:
            winner = self.find_by_start_key(start_key)
            if winner is not None:  # a concurrent retry of the same StartTransaction won
                return winner
            raise
        return transaction_id

    def get(self, charge_point_id: str, transaction_id: int) -> Session | None:
        try:
            return _session_from(SessionModel.get(charge_point_id, transaction_id, consistent_read=True))
        except DoesNotExist:
            return None

    def active(self, charge_point_id: str) -> list[Session]:
        return [
            _session_from(i)
            for i in SessionModel.query(charge_point_id, filter_condition=SessionModel.active == True, consistent_read=True)  # noqa: E712
        ]

    def list(self, charge_point_id: str) -> list[Session]:
        return [_session_from(i) for i in SessionModel.query(charge_point_id, consistent_read=True)]

    def all_active(self) -> list[Session]:
        """Every plugged-in session (the scheduler's input). A scan: a sparse GSI on active
        sessions is the next step for large fleets."""
        return [_session_from(i) for i in SessionModel.scan(SessionModel.active == True)]  # noqa: E712

    def save_plan(self, charge_point_id: str, transaction_id: int, plan_json: str, digest: str) -> None:
        try:
            SessionModel(charge_point_id, transaction_id).update(
                actions=[SessionModel.plan.set(plan_json), SessionModel.plan_hash.set(digest)],
                condition=SessionModel.transaction_id.exists(),
            )
        except UpdateError as exc:
            if not _conditional_failed(exc):
                raise

    def plan_of(self, charge_point_id: str, transaction_id: int) -> str | None:
        try:
            return SessionModel.get(charge_point_id, transaction_id, attributes_to_get=["plan"]).plan
        except DoesNotExist:
            return None

    def save_stop(self, session: Session) -> None:
        actions = [
            SessionModel.active.set(False),
            SessionModel.stopped_at.set(session.stopped_at),
            SessionModel.stop_received_at.set(session.stop_received_at),
            SessionModel.energy_wh.set(session.energy_wh),
        ]
        for attr, value in (
            (SessionModel.meter_stop_wh, session.meter_stop_wh),
            (SessionModel.stop_reason, session.stop_reason),
            (SessionModel.stop_id_tag, session.stop_id_tag),
            (SessionModel.max_power_w, session.max_power_w),
            (SessionModel.flags, session.flags or None),
        ):
            if value is not None:
                actions.append(attr.set(value))
        try:
            SessionModel(session.charge_point_id, session.transaction_id).update(
                actions=actions, condition=SessionModel.active == True  # noqa: E712
            )
        except UpdateError as exc:
            if not _conditional_failed(exc):
                raise
            log.info("transaction %s was already stopped", session.transaction_id)


def _stream(charge_point_id: str, connector_id: int) -> str:
    return f"{charge_point_id}#{connector_id}"


def _sample_item(s: MeterSample) -> MeterSampleModel:
    readings = [[r.measurand, r.value, r.unit, r.phase, r.context, r.location] for r in s.readings]
    return MeterSampleModel(
        _stream(s.charge_point_id, s.connector_id),
        f"{iso(s.timestamp)}#{s.source}",
        transaction_id=s.transaction_id,
        power_w=s.power_w,
        energy_wh=s.energy_wh,
        readings=json.dumps(readings, separators=(",", ":")),
        received_at=s.received_at,
    )


def _sample_from(item: MeterSampleModel) -> MeterSample:
    cp, _, connector = item.stream.rpartition("#")
    stamp, _, source = item.sample_key.partition("#")
    readings = tuple(Reading(m, v, u, ph, c, loc) for m, v, u, ph, c, loc in json.loads(item.readings))
    return MeterSample(
        charge_point_id=cp,
        connector_id=int(connector),
        timestamp=datetime.fromisoformat(stamp.replace("Z", "+00:00")),
        source=source,
        readings=readings,
        transaction_id=int(item.transaction_id) if item.transaction_id is not None else None,
        power_w=float(item.power_w) if item.power_w is not None else None,
        energy_wh=float(item.energy_wh) if item.energy_wh is not None else None,
        received_at=item.received_at,
    )


class DynamoMeter:
    def put(self, samples: Iterable[MeterSample]) -> None:
        items = [_sample_item(s) for s in samples]
        if len(items) == 1:
            items[0].save()
        elif items:
            with MeterSampleModel.batch_write() as batch:
                for item in items:
                    batch.save(item)

    def between(self, charge_point_id: str, connector_id: int, start: datetime, end: datetime | None) -> list[MeterSample]:
        upper = iso(end) + "#~" if end is not None else "~"
        return [
            _sample_from(i)
            for i in MeterSampleModel.query(
                _stream(charge_point_id, connector_id),
                MeterSampleModel.sample_key.between(iso(start), upper),
                consistent_read=True,
            )
        ]

    def for_transaction(self, charge_point_id: str, connector_id: int, transaction_id: int) -> list[MeterSample]:
        return [
            _sample_from(i)
            for i in MeterSampleModel.query(
                _stream(charge_point_id, connector_id),
                filter_condition=MeterSampleModel.transaction_id == transaction_id,
            )
        ]

    def latest(self, charge_point_id: str, connector_id: int) -> MeterSample | None:
        for item in MeterSampleModel.query(_stream(charge_point_id, connector_id), scan_index_forward=False, limit=1):
            return _sample_from(item)
        return None


class DynamoReview:
    def add(self, item: ReviewItem) -> None:
        ReviewModel(
            item.charge_point_id,
            f"{iso(item.at)}#{uuid.uuid4().hex}",
            kind=item.kind,
            detail=item.detail,
            action=item.action,
            transaction_id=item.transaction_id,
            raw=item.raw,
        ).save()

    def list(self, charge_point_id: str) -> list[ReviewItem]:
        out = []
        for i in ReviewModel.query(charge_point_id):
            stamp = i.review_key.partition("#")[0]
            out.append(
                ReviewItem(
                    charge_point_id=i.charge_point_id,
                    kind=i.kind,
                    detail=i.detail,
                    at=datetime.fromisoformat(stamp.replace("Z", "+00:00")),
                    action=i.action,
                    transaction_id=int(i.transaction_id) if i.transaction_id is not None else None,
                    raw=i.raw,
                )
            )
        return out


SIGNAL_KEEP = timedelta(days=40)


class DynamoSignals:
    """Half-hourly price and carbon rows per area; the scheduler reads a window of them."""

    def __init__(self, area: str = "GB"):
        self.area = area

    def put(self, rows: Iterable[SignalRow], at: datetime) -> int:
        """Store rows; a row's empty fields keep what is stored (a price feed does not erase carbon)."""
        count = 0
        for row in rows:
            actions = [SignalModel.updated_at.set(at), SignalModel.expires_at.set(row.start + SIGNAL_KEEP)]
            if row.price_p_per_kwh is not None:
                actions.append(SignalModel.price.set(row.price_p_per_kwh))
            if row.carbon_forecast is not None:
                actions.append(SignalModel.carbon_forecast.set(row.carbon_forecast))
            if row.carbon_actual is not None:
                actions.append(SignalModel.carbon_actual.set(row.carbon_actual))
            SignalModel(self.area, iso(row.start)).update(actions=actions)
            count += 1
        return count

    def rows(self, start: datetime, end: datetime) -> list[SignalRow]:
        items = SignalModel.query(self.area, SignalModel.start.between(iso(start), iso(end)))
        return [SignalRow(parse_ts(i.start), i.price, i.carbon_forecast, i.carbon_actual) for i in items]

    def window(self, start: datetime, end: datetime) -> Signals | None:
        return to_signals(self.rows(start, end))


class DynamoEvents:
    """Grid-demand events per area."""

    def __init__(self, area: str = "GB"):
        self.area = area

    def add(self, start: datetime, end: datetime, cap_kw: float) -> str:
        if end <= start or cap_kw < 0:
            raise ValueError("an event needs end > start and cap_kw >= 0")
        event_id = f"{start.astimezone(timezone.utc):%Y%m%dT%H%MZ}-{uuid.uuid4().hex[:8]}"  # URL-safe (the API's path), sorts by start
        GridEventModel(self.area, event_id, start=start, end=end, cap_kw=cap_kw,
                       expires_at=end + SIGNAL_KEEP).save()
        return event_id

    def cancel(self, event_id: str) -> bool:
        try:
            GridEventModel(self.area, event_id).update(actions=[GridEventModel.cancelled.set(True)],
                                                      condition=GridEventModel.event_id.exists())
            return True
        except UpdateError as exc:
            if _conditional_failed(exc):
                return False
            raise

    def listed(self, now: datetime) -> list[tuple[str, DemandEvent, bool]]:
        """(id, event, cancelled) of every event that ends after ``now``, oldest first."""
        return [(i.event_id, DemandEvent(i.start, i.end, i.cap_kw), bool(i.cancelled))
                for i in GridEventModel.query(self.area) if i.end > now]

    def active(self, now: datetime) -> list[DemandEvent]:
        """Events not cancelled that end after ``now``."""
        return [DemandEvent(i.start, i.end, i.cap_kw) for i in GridEventModel.query(self.area)
                if not i.cancelled and i.end > now]
