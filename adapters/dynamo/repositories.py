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
from adapters.dynamo import indexes
from csms.charging.signals import DemandEvent, SignalRow, to_signals
from csms.charging.tariff import Signals
from csms.model import (BootInfo, ChargerAuth, ChargerView, ConnectorStatus, MeterSample, Preference, Reading, ReviewItem,
                        Session)
from csms.ocpp.connection_age import close_at as connection_close_at
from csms.ocpp.ports import AlreadyExists, SetupClaim
from csms.ocpp.quirks import FUTURE_TOLERANCE
from csms.timeutil import iso, parse_ts

log = logging.getLogger(__name__)

TRANSACTION_COUNTER = "counter#transaction"
START_KEY_TTL_S = 90 * 24 * 3600  # retries of a StartTransaction come within days, not months
METER_RETENTION_DAYS = 396  # 13 months in DynamoDB (then only in the S3 archive); Settings can change it
REVIEW_TTL = timedelta(days=180)  # a person reviews within weeks; the raw frame is kept half a year
FIRMWARE_HISTORY_MAX = 50  # entries kept on the charger item (the oldest half is dropped when full)


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
            charge_point_id, password_hash=password_hash, created_at=at, enabled=True, online=False, capabilities={},
            fleet=indexes.FLEET,
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
                attributes_to_get=["charge_point_id", "password_hash", "enabled", "legacy_handshake",
                                   "pending_password_hash", "security_profile", "revoked_certs", "frame_log_until"],
            )
        except DoesNotExist:
            return None
        return ChargerAuth(item.charge_point_id, item.password_hash, item.enabled is not False,
                           bool(item.legacy_handshake), item.pending_password_hash,
                           int(item.security_profile or 2), frozenset(item.revoked_certs or ()), item.frame_log_until)

    def set_legacy_handshake(self, charge_point_id: str, legacy: bool) -> bool:
        """Admit (or stop admitting) the charger as OCPP 1.6 when it offers no subprotocol or a variant
        spelling. False when the charger does not exist."""
        action = ChargerModel.legacy_handshake.set(True) if legacy else ChargerModel.legacy_handshake.remove()
        return self._update(charge_point_id, [action])

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
            # online-index: counted by the gauge; closed by the sweeper at close_at (storm spreading)
            ChargerModel.online_shard.set(indexes.shard_of(charge_point_id)),
            ChargerModel.close_at.set(iso(connection_close_at(at))),
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
            [ChargerModel.online.set(False), ChargerModel.disconnected_at.set(at), ChargerModel.connection_id.remove(),
             ChargerModel.online_shard.remove(), ChargerModel.close_at.remove()],
            condition=ChargerModel.connection_id == connection_id,
        )

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> dict[str, str] | None:
        """One UpdateItem; its ALL_NEW answer carries the learnt capabilities at no extra cost."""
        data = {k: v for k, v in boot.__dict__.items() if v is not None}
        item = ChargerModel(charge_point_id)
        try:
            item.update(actions=[ChargerModel.boot.set(data), ChargerModel.boot_at.set(at), ChargerModel.last_seen.set(at)],
                        condition=ChargerModel.charge_point_id.exists())
        except UpdateError as exc:
            if _conditional_failed(exc):
                return None
            raise
        caps = item.capabilities
        return dict(caps.as_dict() if hasattr(caps, "as_dict") else caps or {})

    def touch(self, charge_point_id: str, at: datetime) -> None:
        self._update(charge_point_id, [ChargerModel.last_seen.set(at)])

    def record_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        entry = f"{iso(at)} {status}"
        status_actions = [ChargerModel.firmware_status.set(status), ChargerModel.firmware_status_at.set(at)]
        # one UpdateItem still: the history is appended in the same write, while it has room
        room = ChargerModel.firmware_history.does_not_exist() | (size(ChargerModel.firmware_history) < FIRMWARE_HISTORY_MAX)
        if self._update(charge_point_id,
                        status_actions + [ChargerModel.firmware_history.set((ChargerModel.firmware_history | []).append([entry]))],
                        condition=room):
            return
        # Full (once every FIRMWARE_HISTORY_MAX / 2 statuses): keep the newer half and the new entry.
        kept = self.firmware_history(charge_point_id)[-(FIRMWARE_HISTORY_MAX // 2):]
        self._update(charge_point_id, status_actions + [ChargerModel.firmware_history.set(kept + [entry])])

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
        """Every charger (CLI, demo): the fleet index's pages, then the items. O(fleet): never on a
        per-message or per-request path (the HTTP API pages with ``page``)."""
        out, cursor = [], None
        while True:
            views, cursor = self.page(indexes.MAX_PAGE, cursor)
            out.extend(views)
            if cursor is None:
                return out

    def _views(self, ids: list[str]) -> list[ChargerView]:
        """The chargers of ``ids`` in that order (BatchGetItem, 100 keys a request)."""
        found = {i.charge_point_id: _view(i) for i in ChargerModel.batch_get(ids)} if ids else {}
        return [found[i] for i in ids if i in found]

    def page(self, limit: int, cursor: str | None = None) -> tuple[list[ChargerView], str | None]:
        """One page of the fleet in id order: a Query of the keys-only fleet index and one
        BatchGetItem, whatever the fleet's size. Raises indexes.BadCursor."""
        keys, after = indexes.query_page(lambda **kw: ChargerModel.fleet_index.query(indexes.FLEET, **kw), limit, cursor)
        return self._views([k.charge_point_id for k in keys]), after

    def page_of_driver(self, driver: str, limit: int, cursor: str | None = None) -> tuple[list[ChargerView], str | None]:
        """One page of a driver's chargers (driver index, then one BatchGetItem)."""
        keys, after = indexes.query_page(lambda **kw: ChargerModel.driver_index.query(driver, **kw), limit, cursor)
        return self._views([k.charge_point_id for k in keys]), after

    def due_to_close(self, now: datetime) -> list[tuple[str, str]]:
        """(charge point id, connection id) of connections whose random close age has passed: one
        Query per online-index shard, returning only those due."""
        return [(i.charge_point_id, i.connection_id) for i in
                indexes.due_before(ChargerModel.online_index, ChargerModel.close_at, now) if i.connection_id]

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
            [ChargerModel.online.set(False), ChargerModel.connection_id.remove(),
             ChargerModel.online_shard.remove(), ChargerModel.close_at.remove()],
            condition=ChargerModel.connection_id == connection_id,
        )

    def claim_setup(self, charge_point_id: str, connection_id: str) -> SetupClaim | None:
        """``csms.ocpp.ports.ChargerLink.claim_setup``: an eventually consistent GetItem of three
        attributes (0.5 read unit: the messages after the first of a young connection stop here), then
        one conditional UpdateItem returning the old item (ALL_OLD): the claim and the read of boot
        time and configuration version in one request. A failed conditional write would cost a whole
        write unit, ten times the read."""
        try:
            seen = ChargerModel.get(charge_point_id, attributes_to_get=["connection_id", "setup_connection_id", "setup_pump"])
        except DoesNotExist:
            return None
        if seen.connection_id != connection_id or (seen.setup_connection_id == connection_id
                                                   and seen.setup_pump != connection_id):
            return None
        current = ChargerModel.connection_id == connection_id
        not_yet = (ChargerModel.setup_connection_id.does_not_exist() | (ChargerModel.setup_connection_id != connection_id)
                   | (ChargerModel.setup_pump == connection_id))
        try:
            data = ChargerModel._get_connection().update_item(
                charge_point_id, actions=[ChargerModel.setup_connection_id.set(connection_id), ChargerModel.setup_pump.remove()],
                condition=current & not_yet, return_values="ALL_OLD")
        except UpdateError as exc:
            if _conditional_failed(exc):
                return None
            raise
        old = ChargerModel.from_raw_data(data["Attributes"])
        return SetupClaim(old.setup_pump == connection_id, old.boot_at, old.setup_version)

    def boot_setup(self, charge_point_id: str, connection_id: str, version: str) -> str | None:
        """``csms.ocpp.ports.ChargerLink.boot_setup``: one UpdateItem when the configuration changed
        (the set-up calls are then sent by the next message), two when it is current."""
        changed = ChargerModel.setup_version.does_not_exist() | (ChargerModel.setup_version != version)
        if self._update(charge_point_id, [ChargerModel.setup_connection_id.set(connection_id),
                                          ChargerModel.setup_version.set(version),
                                          ChargerModel.setup_pump.set(connection_id)], condition=changed):
            return None
        self._update(charge_point_id, [ChargerModel.setup_connection_id.set(connection_id)])
        return version

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
        """Chargers with a live connection (the ConnectedChargers metric): ``Select=COUNT`` on each
        online-index shard (16 Queries; 0.5 RCU per 4 KB of index entries, ~40 B each)."""
        return sum(ChargerModel.online_index.count(shard) for shard in indexes.all_shards())

    def of_driver(self, driver: str) -> list[ChargerView]:
        """The chargers linked to a driver (driver index, all pages)."""
        out, cursor = [], None
        while True:
            views, cursor = self.page_of_driver(driver, indexes.MAX_PAGE, cursor)
            out.extend(views)
            if cursor is None:
                return out

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
        # A stored stamp later than this receipt (beyond the tolerance) came from a clock that ran ahead:
        # it never outranks a message received after it (csms.ocpp.quirks, issue 14).
        newer_or_first = (ConnectorModel.status_at.does_not_exist() | (ConnectorModel.status_at <= status.timestamp)
                          | (ConnectorModel.status_at > status.received_at + FUTURE_TOLERANCE))
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
            active_shard=indexes.shard_of(s.charge_point_id),
        )
        key = KeyModel(_start_pk(start_key), value=transaction_id, expires_at=timedelta(seconds=START_KEY_TTL_S))
        try:
            # The models' own connection: a new Connection per call built a new botocore client
            # (its service model loaded again, ~100 ms of CPU) for every StartTransaction.
            with TransactWrite(connection=KeyModel._get_connection().connection) as tx:
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

    def recent(self, charge_point_id: str, limit: int) -> list[Session]:
        """One Query, newest transaction first, at most ``limit`` items (bounded read units)."""
        return [_session_from(i) for i in SessionModel.query(charge_point_id, consistent_read=True,
                                                             scan_index_forward=False, limit=limit)]
    def page(self, charge_point_id: str, limit: int, cursor: str | None = None) -> tuple[list[Session], str | None]:
        """One page of a charger's sessions, newest first. Raises indexes.BadCursor."""
        items, after = indexes.query_page(
            lambda **kw: SessionModel.query(charge_point_id, scan_index_forward=False, **kw), limit, cursor)
        return [_session_from(i) for i in items], after

    def all_active(self) -> list[Session]:
        """Every plugged-in session (the scheduler's input): one Query per active-index shard,
        reading only the active sessions, whatever the number of stopped ones."""
        return [_session_from(i) for shard in indexes.all_shards() for i in SessionModel.active_index.query(shard)]

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
            SessionModel.active_shard.remove(),  # leaves the active-index
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


def _sample_item(s: MeterSample, retention: timedelta = timedelta(days=METER_RETENTION_DAYS)) -> MeterSampleModel:
    readings = [[r.measurand, r.value, r.unit, r.phase, r.context, r.location] for r in s.readings]
    return MeterSampleModel(
        _stream(s.charge_point_id, s.connector_id),
        f"{iso(s.timestamp)}#{s.source}",
        transaction_id=s.transaction_id,
        power_w=s.power_w,
        energy_wh=s.energy_wh,
        readings=json.dumps(readings, separators=(",", ":")),
        received_at=s.received_at,
        # TTL from the sample's own time, so a late-delivered old sample does not outlive its peers
        expires_at=max(s.timestamp, s.received_at or s.timestamp) + retention,
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
    def __init__(self, retention_days: int = METER_RETENTION_DAYS):
        self.retention = timedelta(days=retention_days)

    def put(self, samples: Iterable[MeterSample]) -> None:
        items = [_sample_item(s, self.retention) for s in samples]
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

    def for_transaction(self, charge_point_id: str, connector_id: int, transaction_id: int,
                        start: datetime | None = None, stop: datetime | None = None) -> list[MeterSample]:
        """The transaction's samples. With ``start`` (and ``stop``; None = still open) only that key
        range of the connector's stream is read: a session view costs its own samples, not the
        connector's whole history."""
        lower = iso(start) if start is not None else "0"  # every ISO key sorts after "0"
        upper = iso(stop) + "#~" if stop is not None else "~"
        return [
            _sample_from(i)
            for i in MeterSampleModel.query(
                _stream(charge_point_id, connector_id),
                MeterSampleModel.sample_key.between(lower, upper),
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
            unique_id=item.unique_id,
            expires_at=REVIEW_TTL,
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
                    unique_id=i.unique_id,
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
