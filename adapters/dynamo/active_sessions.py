"""The active-session index read one shard's page at a time (``csms.charging.ports.ActiveShards``):
what the fleet run's shard planners read (issue 16). One Query of the sparse ``active-index`` per
page (eventually consistent, as every GSI read): its cost follows the sessions returned, never the
table's size, and no page holds more than ``limit`` sessions."""

from __future__ import annotations

from adapters.dynamo import indexes
from adapters.dynamo.models import SessionModel
from adapters.dynamo.sessions import _session_from
from csms.model import Session


class DynamoActiveShards:
    def shards(self) -> list[str]:
        return indexes.all_shards()

    def page(self, shard: str, limit: int, cursor: str | None = None) -> tuple[list[Session], str | None]:
        """Raises indexes.BadCursor for a cursor this index did not hand out."""
        items, after = indexes.query_page(lambda **kw: SessionModel.active_index.query(shard, **kw), limit, cursor)
        return [_session_from(i) for i in items], after
