"""Raw messages with data problems, acknowledged to the charger and kept for a person
(``csms.ocpp.ports.ReviewLog``, ``csms.views.ports.ReviewReader``)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from adapters.dynamo.models import ReviewModel
from csms.model import ReviewItem
from csms.timeutil import iso

REVIEW_TTL = timedelta(days=180)  # a person reviews within weeks; the raw frame is kept half a year


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
