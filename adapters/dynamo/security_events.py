"""A charger's SecurityEventNotifications (``csms.ocpp.ports.SecurityEventLog``, issue 17) in the
review table under their own partition ``<charge point id>/security`` (``/`` is never in a charge
point id: ``csms.ocpp.connection.valid_charge_point_id``), sort key ``<ISO time>#<uuid>``, with the
review log's TTL (180 days).

Cost: an event is one PutItem (about 0.5 KB: the raw frame). An operator's view reads the latest
``limit`` with one Query, newest first (``Limit``: 20 events are about 10 KB, 1.5 read units).
Nothing is kept on the charger's item, whose every write (``$connect``, ``$disconnect``, set-up
claims, heartbeats) would otherwise pay for the kept list by its size (docs/certificates.md "Cost").
"""

from __future__ import annotations

import uuid
from datetime import datetime

from adapters.dynamo.models import ReviewModel
from adapters.dynamo.review import REVIEW_TTL
from csms.model import ReviewItem
from csms.timeutil import iso

PARTITION = "{}/security"


class DynamoSecurityEvents:
    """``SecurityEventLog`` over ``ReviewModel``."""

    def add(self, item: ReviewItem) -> None:
        ReviewModel(PARTITION.format(item.charge_point_id), f"{iso(item.at)}#{uuid.uuid4().hex}", kind=item.kind,
                    detail=item.detail, action=item.action, raw=item.raw, unique_id=item.unique_id,
                    expires_at=REVIEW_TTL).save()

    def latest(self, charge_point_id: str, limit: int) -> list[ReviewItem]:
        out = []
        for i in ReviewModel.query(PARTITION.format(charge_point_id), scan_index_forward=False, limit=limit):
            stamp = i.review_key.partition("#")[0]
            out.append(ReviewItem(charge_point_id, i.kind, i.detail, datetime.fromisoformat(stamp.replace("Z", "+00:00")),
                                  action=i.action, raw=i.raw, unique_id=i.unique_id))
        return out
