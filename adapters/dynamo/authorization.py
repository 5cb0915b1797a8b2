"""The authorization table (``csms.authorization.ports.AuthorizationStore``): one table, keys by kind.

| pk | sk | item |
|---|---|---|
| ``tags#<shard>`` | ``<idTag>`` | a known idTag (shard = ``shard_of(idTag)``: 16 partitions, so no one key is hot) |
| ``charger#<id>`` | ``policy`` | the charger's policy (absent: accept-all) and its local list version |
| ``charger#<id>`` | ``reservation#<id, 10 digits>`` | a reservation (one Query lists a charger's) |
| ``counter`` | ``reservation`` | the reservationId counter (atomic ADD) |

Costs (``csms cost``): Authorize / StartTransaction / a StopTransaction with an idTag read the
policy and the tag in ONE BatchGetItem (two eventually consistent items of < 4 KB: 1 read unit);
a StartTransaction with a reservationId reads and writes the reservation (1 + 1). Operators' writes
(a tag, a policy, a reservation) are one PutItem each; the tag listing is 16 Queries, never a Scan.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from pynamodb.exceptions import DeleteError

from adapters.dynamo.indexes import all_shards, shard_of
from adapters.dynamo.models import AuthorizationModel
from csms.authorization.model import IdTag, Policy, Reservation
from csms.timeutil import iso, parse_ts

POLICY = "policy"
RESERVATION = "reservation#"


def _charger(charge_point_id: str) -> str:
    return f"charger#{charge_point_id}"


def _tag_pk(id_tag: str) -> str:
    return f"tags#{shard_of(id_tag)}"


def _dump(obj) -> str:
    return json.dumps({k: iso(v) if isinstance(v, datetime) else (list(v) if isinstance(v, tuple) else v)
                       for k, v in asdict(obj).items()}, separators=(",", ":"))


def _tag(data: str) -> IdTag:
    d = json.loads(data)
    return IdTag(d["id_tag"], bool(d.get("blocked")), parse_ts(d["expiry"]) if d.get("expiry") else None,
                 d.get("parent"), d.get("note"))


def _policy(data: str) -> Policy:
    return Policy(**json.loads(data))


def _reservation(data: str) -> Reservation:
    d = json.loads(data)
    for k in ("expires_at", "created_at"):
        d[k] = parse_ts(d[k])
    d["history"] = tuple(d.get("history") or ())
    return Reservation(**d)


class DynamoAuthorization:
    def lookup(self, charge_point_id: str, id_tag: str) -> tuple[Policy | None, IdTag | None]:
        policy = tag = None
        for item in AuthorizationModel.batch_get([(_charger(charge_point_id), POLICY), (_tag_pk(id_tag), id_tag)]):
            if item.sk == POLICY:
                policy = _policy(item.data)
            else:
                tag = _tag(item.data)
        return policy, tag

    def policy(self, charge_point_id: str) -> Policy | None:
        try:
            return _policy(AuthorizationModel.get(_charger(charge_point_id), POLICY, consistent_read=True).data)
        except AuthorizationModel.DoesNotExist:
            return None

    def set_policy(self, charge_point_id: str, policy: Policy) -> None:
        AuthorizationModel(_charger(charge_point_id), POLICY, data=_dump(policy)).save()

    def get_tag(self, id_tag: str) -> IdTag | None:
        try:
            return _tag(AuthorizationModel.get(_tag_pk(id_tag), id_tag, consistent_read=True).data)
        except AuthorizationModel.DoesNotExist:
            return None

    def put_tag(self, tag: IdTag) -> None:
        AuthorizationModel(_tag_pk(tag.id_tag), tag.id_tag, data=_dump(tag)).save()

    def delete_tag(self, id_tag: str) -> bool:
        try:
            AuthorizationModel(_tag_pk(id_tag), id_tag).delete(condition=AuthorizationModel.pk.exists())
        except DeleteError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def tags(self) -> list[IdTag]:
        out = [_tag(i.data) for shard in all_shards() for i in AuthorizationModel.query(f"tags#{shard}")]
        return sorted(out, key=lambda t: t.id_tag)

    def next_reservation_id(self) -> int:
        item = AuthorizationModel("counter", "reservation")
        item.update(actions=[AuthorizationModel.counter.add(1)])
        return int(item.counter or 0)

    def put_reservation(self, reservation: Reservation) -> None:
        AuthorizationModel(_charger(reservation.charge_point_id), f"{RESERVATION}{reservation.reservation_id:010d}",
                           data=_dump(reservation)).save()

    def reservation(self, charge_point_id: str, reservation_id: int) -> Reservation | None:
        try:
            item = AuthorizationModel.get(_charger(charge_point_id), f"{RESERVATION}{reservation_id:010d}",
                                          consistent_read=True)
        except AuthorizationModel.DoesNotExist:
            return None
        return _reservation(item.data)

    def reservations(self, charge_point_id: str) -> list[Reservation]:
        return [_reservation(i.data) for i in AuthorizationModel.query(
            _charger(charge_point_id), AuthorizationModel.sk.startswith(RESERVATION), scan_index_forward=False)]
