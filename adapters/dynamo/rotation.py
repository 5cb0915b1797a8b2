"""The pending AuthorizationKey hash of a rotation (``csms.ocpp.rotation.PendingKeys``) on the charger
item. Cost: one conditional UpdateItem to set it, one to drop it (refused) and a GetItem + UpdateItem
to promote it at the charger's first connection with the new key."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, UpdateError

from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import ChargerModel


def _update(charge_point_id: str, actions, condition) -> bool:
    try:
        ChargerModel(charge_point_id).update(actions=actions, condition=condition)
        return True
    except UpdateError as exc:
        if conditional_failed(exc):
            return False
        raise


class DynamoPendingKeys:
    def set_pending(self, charge_point_id: str, password_hash: str, call_id: str) -> bool:
        return _update(charge_point_id, [ChargerModel.pending_password_hash.set(password_hash),
                                         ChargerModel.pending_key_call.set(call_id)],
                       ChargerModel.charge_point_id.exists())

    def drop_pending(self, charge_point_id: str, call_id: str) -> bool:
        return _update(charge_point_id, [ChargerModel.pending_password_hash.remove(), ChargerModel.pending_key_call.remove()],
                       ChargerModel.pending_key_call == call_id)

    def promote_pending(self, charge_point_id: str) -> bool:
        try:
            item = ChargerModel.get(charge_point_id, consistent_read=True,
                                    attributes_to_get=["charge_point_id", "pending_password_hash", "pending_key_call"])
        except DoesNotExist:
            return False
        if not item.pending_password_hash:
            return False
        return _update(charge_point_id, [ChargerModel.password_hash.set(item.pending_password_hash),
                                         ChargerModel.pending_password_hash.remove(),
                                         ChargerModel.pending_key_call.remove()],
                       ChargerModel.pending_key_call == item.pending_key_call)
