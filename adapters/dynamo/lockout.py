"""Handshake failure counters (``csms.ocpp.lockout.FailureStore``) in the keys table.

One item per key (``authfail#src#<ip>``, ``authfail#cp#<id>#src#<ip>``, ``authfail#cp#<id>``) with
the count, first and last failure and a TTL an hour after the last failure. DynamoDB deletes
expired items late (up to days), so reads ignore items whose last failure is older than the window.
Cost: a handshake reads two items (one BatchGetItem, eventually consistent: 1 read unit); a failure
writes three (one for an unknown id); the right key after failures deletes one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import KeyModel
from csms.ocpp.lockout import FORGET_AFTER, FailureCount


class DynamoFailures:
    """``csms.ocpp.lockout.FailureStore`` over ``KeyModel``."""

    def read(self, keys: list[str], now: datetime) -> dict[str, FailureCount]:
        found: dict[str, FailureCount] = {}
        for item in KeyModel.batch_get(keys, attributes_to_get=["pk", "value", "first_at", "last_at", "source"]):
            if item.last_at is None or now - item.last_at >= FORGET_AFTER:
                continue
            found[item.pk] = FailureCount(int(item.value or 0), item.first_at or item.last_at, item.last_at, item.source)
        return found

    def add(self, key: str, now: datetime, source: str | None, forget_after: timedelta) -> int:
        """Count one failure; the count after it is the update's own answer (ALL_NEW: no extra read)."""
        actions = [KeyModel.value.add(1), KeyModel.last_at.set(now), KeyModel.expires_at.set(now + forget_after)]
        if source is not None:
            actions.append(KeyModel.source.set(source))
        try:
            item = KeyModel(key)
            item.update(actions=actions, condition=KeyModel.last_at > now - forget_after)
            return int(item.value or 1)
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise
        # New, or the old count is forgotten: start again at 1 (a concurrent failure may be lost)
        KeyModel(key, value=1, first_at=now, last_at=now, source=source, expires_at=now + forget_after).save()
        return 1

    def clear(self, key: str) -> None:
        KeyModel(key).delete()
