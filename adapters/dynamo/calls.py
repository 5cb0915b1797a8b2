"""The per-charger queue of platform-initiated calls (``csms.ocpp.ports.CallQueue``)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from adapters.dynamo import indexes
from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import CallModel
from csms.ocpp.commands import CallOutcome, Outstanding, PendingCall
from csms.timeutil import iso, utcnow

SLOT = "slot"
QUEUED = "q#"
OUTCOME = "r#"
OUTCOME_TTL = timedelta(days=90)  # operators' and the scheduler's commands: their answers are looked up
SETUP_OUTCOME_TTL = timedelta(days=3)  # set-up calls (every boot): kept days, for support, not months
QUEUED_TTL = timedelta(days=14)  # a charger offline for two weeks gets its commands dropped
# A queued call is normally sent at once, with the answer to the call before it, or by the first
# messages of the next connection; the sweeper looks at it only if it is still queued this long after.
SWEEP_GRACE = timedelta(seconds=60)


def _call_from(item: CallModel) -> PendingCall:
    return PendingCall(item.charge_point_id, item.unique_id, item.action, json.loads(item.payload), item.created_at,
                       item.origin or "platform")


class DynamoCallQueue:
    def add(self, call: PendingCall) -> None:
        CallModel(call.charge_point_id, QUEUED + call.seq, unique_id=call.unique_id, action=call.action,
                  payload=json.dumps(call.payload), created_at=call.created_at, origin=call.origin,
                  expires_at=QUEUED_TTL, due_shard=indexes.shard_of(call.charge_point_id),
                  due_at=iso(call.created_at + SWEEP_GRACE)).save()

    def oldest(self, charge_point_id: str) -> PendingCall | None:
        for item in CallModel.query(charge_point_id, CallModel.key.startswith(QUEUED), limit=1, consistent_read=True):
            return _call_from(item)
        return None

    def queued(self, charge_point_id: str) -> list[PendingCall]:
        return [_call_from(i) for i in CallModel.query(charge_point_id, CallModel.key.startswith(QUEUED), consistent_read=True)]

    def remove(self, call: PendingCall) -> None:
        CallModel(call.charge_point_id, QUEUED + call.seq).delete()

    def claim(self, call: PendingCall, connection_id: str, now: datetime, deadline: datetime) -> bool:
        slot = CallModel(call.charge_point_id, SLOT, unique_id=call.unique_id, action=call.action,
                         payload=json.dumps(call.payload), created_at=call.created_at, origin=call.origin,
                         connection_id=connection_id, deadline=deadline,
                         due_shard=indexes.shard_of(call.charge_point_id), due_at=iso(deadline))
        try:
            slot.save(condition=CallModel.key.does_not_exist() | (CallModel.deadline < now))
            return True
        except PutError as exc:
            if conditional_failed(exc):
                return False
            raise

    def outstanding(self, charge_point_id: str) -> Outstanding | None:
        try:
            item = CallModel.get(charge_point_id, SLOT, consistent_read=True)
        except DoesNotExist:
            return None
        return Outstanding(_call_from(item), item.connection_id or "", item.deadline)

    def release(self, charge_point_id: str, unique_id: str) -> bool:
        try:
            CallModel(charge_point_id, SLOT).delete(condition=CallModel.unique_id == unique_id)
            return True
        except DeleteError as exc:
            if conditional_failed(exc):
                return False
            raise

    def record(self, outcome: CallOutcome) -> None:
        CallModel(outcome.charge_point_id, f"{OUTCOME}{iso(outcome.at)}#{outcome.unique_id}", unique_id=outcome.unique_id,
                  action=outcome.action, payload=json.dumps(outcome.payload), created_at=outcome.at,
                  origin=outcome.origin, outcome=outcome.outcome,
                  result=json.dumps(outcome.result) if outcome.result is not None else None,
                  error_code=outcome.error_code,
                  expires_at=SETUP_OUTCOME_TTL if outcome.origin == "setup" else OUTCOME_TTL).save()

    def outcomes(self, charge_point_id: str) -> list[CallOutcome]:
        out = []
        for i in CallModel.query(charge_point_id, CallModel.key.startswith(OUTCOME), consistent_read=True):
            out.append(CallOutcome(i.charge_point_id, i.unique_id, i.action, json.loads(i.payload), i.outcome, i.created_at,
                                   json.loads(i.result) if i.result else None, i.error_code, i.origin or "platform"))
        return out

    def redact(self, call: PendingCall, payload: dict) -> None:
        data = json.dumps(payload)
        for key, condition in ((QUEUED + call.seq, CallModel.key.exists()), (SLOT, CallModel.unique_id == call.unique_id)):
            try:
                CallModel(call.charge_point_id, key).update(actions=[CallModel.payload.set(data)], condition=condition)
            except UpdateError as exc:
                if not conditional_failed(exc):
                    raise

    def chargers_with_work(self, now: datetime | None = None) -> list[str]:
        """Chargers with a slot whose answer is overdue or a call queued longer than SWEEP_GRACE:
        one Query per due-index shard, returning only what is due (outcome records are not in the
        index), so a sweep costs the work due, not the table's size."""
        due = indexes.due_before(CallModel.due_index, CallModel.due_at, now or utcnow())
        return sorted({i.charge_point_id for i in due})
