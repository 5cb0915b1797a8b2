"""What the DynamoDB stores here share: recognising a failed condition (every store), and the conditional
UpdateItem on an existing charger item (the charger stores are split by role over several modules)."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from adapters.dynamo.models import ChargerModel


def conditional_failed(exc: Exception) -> bool:
    """True when ``exc`` (a pynamodb write error) is a ConditionalCheckFailedException."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


class ChargerItemStore:
    """Base of the charger stores: one conditional UpdateItem on the charger item."""

    def _update(self, charge_point_id: str, actions, condition=None) -> bool:
        exists = ChargerModel.charge_point_id.exists()
        try:
            ChargerModel(charge_point_id).update(actions=actions, condition=exists & condition if condition is not None else exists)
            return True
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
