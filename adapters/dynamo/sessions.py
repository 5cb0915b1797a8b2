"""Transactions (``csms.ocpp.ports.SessionRepository``): one item per transaction keyed by charger,
the transaction-id counter and StartTransaction idempotency keys (keys table), the active-index."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from adapters.dynamo import indexes
from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import KeyModel, SessionModel
from csms.model import Session

log = logging.getLogger(__name__)

TRANSACTION_COUNTER = "counter#transaction"
START_KEY_TTL_S = 90 * 24 * 3600  # retries of a StartTransaction come within days, not months


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
            if not conditional_failed(exc):
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
            if not conditional_failed(exc):
                raise
            log.info("transaction %s was already stopped", session.transaction_id)
