"""Authorization as the OCPP handlers use it (``csms.ocpp.ports.IdTagAuthority``): the IdTagInfo of
an idTag at a charger, and a reservation closed by the StartTransaction that uses it."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from csms.authorization.model import USED
from csms.authorization.ports import AuthorizationStore
from csms.authorization.rules import id_tag_info

log = logging.getLogger(__name__)


class Authorization:
    """``id_tag_info``: one read request per answer (``AuthorizationStore.lookup``). Raises what the
    store raises: the charger then gets InternalError and retries (nothing was stored yet)."""

    def __init__(self, store: AuthorizationStore):
        self.store = store

    def id_tag_info(self, charge_point_id: str, id_tag: str, at: datetime) -> dict[str, Any]:
        policy, tag = self.store.lookup(charge_point_id, id_tag)
        return id_tag_info(policy, tag, at)

    def reservation_used(self, charge_point_id: str, reservation_id: int, transaction_id: int, at: datetime) -> None:
        """A StartTransaction carrying ``reservationId`` ends that reservation (OCPP 1.6 section
        5.13). An unknown id (made by another system, or never sent) is only logged."""
        found = self.store.reservation(charge_point_id, reservation_id)
        if found is None:
            log.info("StartTransaction of %s names reservation %s, unknown here", charge_point_id, reservation_id)
            return
        self.store.put_reservation(replace(found, status=USED, transaction_id=transaction_id,
                                           history=found.history + (f"{at.isoformat()} used by transaction {transaction_id}",)))
