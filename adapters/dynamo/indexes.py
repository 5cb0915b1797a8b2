"""Reads through the sparse global secondary indexes (``adapters.dynamo.models``), so that no
per-message, per-request or periodic path scans a table (issue 15).

Sharding: an index whose hash key would be one hot value (every connected charger, every due call,
every active session) uses ``shard_of(charge_point_id)`` — a stable hash of the charge point id into
``SHARDS`` values. 16 shards keep each shard's write rate far below a partition's 1,000 WCU/s in a
100,000-charger reconnect storm (500 connects/s account-wide / 16 = 31 writes/s per shard), and a
reader's cost is one Query per shard (16 requests) plus the items it actually returns.

Pages: a listing returns at most ``limit`` items and an opaque cursor (the last key, URL-safe
base64 JSON) that continues after it; ``None`` when the listing is complete.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any, Iterator

from csms.timeutil import iso

SHARDS = 16
FLEET = "charger"  # the fleet-index hash key of every registered charger
MAX_PAGE = 100


def shard_of(charge_point_id: str) -> str:
    """The index shard ("0".."15") of a charger: stable across processes (not Python's ``hash``)."""
    digest = hashlib.sha256(charge_point_id.encode("utf-8", "surrogatepass")).digest()
    return str(int.from_bytes(digest[:4], "big") % SHARDS)


def all_shards() -> list[str]:
    return [str(i) for i in range(SHARDS)]


class BadCursor(ValueError):
    """A cursor that this API did not hand out."""


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The DynamoDB ExclusiveStartKey of ``cursor``; raises BadCursor when it is not one of ours."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise BadCursor("cursor is not valid") from exc
    if not isinstance(key, dict) or not all(isinstance(v, dict) and len(v) == 1 for v in key.values()):
        raise BadCursor("cursor is not valid")
    return key


def query_page(query, limit: int, cursor: str | None) -> tuple[list, str | None]:
    """Run a pynamodb ``query(...)`` partial (a callable taking limit, last_evaluated_key) for one
    page: at most ``limit`` items and the cursor after the last one (None when there is no more)."""
    result = query(limit=limit, last_evaluated_key=decode_cursor(cursor), page_size=limit)
    items = list(result)
    return items, encode_cursor(result.last_evaluated_key) if len(items) == limit else None


def due_before(index, attribute, now: datetime) -> Iterator:
    """Every item of a sharded index (hash a shard, range ``attribute``, an ISO time) whose time is
    <= ``now``: one Query per shard, plus the pages of what is due. Cost follows the work due, not
    the table's size."""
    upper = iso(now)
    for shard in all_shards():
        yield from index.query(shard, attribute <= upper)
