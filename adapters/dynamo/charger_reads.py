"""The charger item as the operator read side and the scheduler read it (``csms.views.ports.ChargerDirectory``,
``csms.ocpp.ports.ChargerReader``): views, fleet and driver pages, preference, learnt capabilities."""

from __future__ import annotations

import logging
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from adapters.dynamo import indexes
from adapters.dynamo.models import ChargerModel
from csms.model import BootInfo, ChargerView, Preference
from csms.timeutil import parse_ts

log = logging.getLogger(__name__)


def _boot_from(item: ChargerModel) -> BootInfo | None:
    if item.boot is None:
        return None
    data = item.boot.as_dict() if hasattr(item.boot, "as_dict") else dict(item.boot)
    return BootInfo(**{k: data.get(k) for k in BootInfo.__dataclass_fields__})


def _preference_from(charge_point_id: str, stored: dict) -> Preference:
    departure = None
    if stored.get("departure"):
        try:
            departure = parse_ts(stored["departure"])
        except ValueError:
            log.warning("unreadable departure in %s's preference", charge_point_id)
    return Preference(departure, stored.get("energy_kwh"), bool(stored.get("charge_now")), stored.get("carbon_price"))


def _view(item: ChargerModel) -> ChargerView:
    return ChargerView(
        charge_point_id=item.charge_point_id,
        online=bool(item.online),
        connection_id=item.connection_id,
        last_seen=item.last_seen,
        boot=_boot_from(item),
        firmware_status=item.firmware_status,
        diagnostics_status=item.diagnostics_status,
        driver=item.driver,
        security_profile=int(item.security_profile or 2),
        security=_map(item.security),
        certificate=_map(item.certificate),
    )


def _map(value) -> dict | None:
    if value is None:
        return None
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


class ChargerReads:
    """Reads of the charger table; every list goes through an index (no Scan)."""

    def get(self, charge_point_id: str) -> ChargerView | None:
        try:
            return _view(ChargerModel.get(charge_point_id, consistent_read=True))
        except DoesNotExist:
            return None

    def list(self) -> list[ChargerView]:
        """Every charger (CLI, demo): the fleet index's pages, then the items. O(fleet): never on a
        per-message or per-request path (the HTTP API pages with ``page``)."""
        out, cursor = [], None
        while True:
            views, cursor = self.page(indexes.MAX_PAGE, cursor)
            out.extend(views)
            if cursor is None:
                return out

    def _views(self, ids: list[str]) -> list[ChargerView]:
        """The chargers of ``ids`` in that order (BatchGetItem, 100 keys a request)."""
        found = {i.charge_point_id: _view(i) for i in ChargerModel.batch_get(ids)} if ids else {}
        return [found[i] for i in ids if i in found]

    def page(self, limit: int, cursor: str | None = None) -> tuple[list[ChargerView], str | None]:
        """One page of the fleet in id order: a Query of the keys-only fleet index and one
        BatchGetItem, whatever the fleet's size. Raises indexes.BadCursor."""
        keys, after = indexes.query_page(lambda **kw: ChargerModel.fleet_index.query(indexes.FLEET, **kw), limit, cursor)
        return self._views([k.charge_point_id for k in keys]), after

    def page_of_driver(self, driver: str, limit: int, cursor: str | None = None) -> tuple[list[ChargerView], str | None]:
        """One page of a driver's chargers (driver index, then one BatchGetItem)."""
        keys, after = indexes.query_page(lambda **kw: ChargerModel.driver_index.query(driver, **kw), limit, cursor)
        return self._views([k.charge_point_id for k in keys]), after

    def due_to_close(self, now: datetime) -> list[tuple[str, str]]:
        """(charge point id, connection id) of connections whose random close age has passed: one
        Query per online-index shard, returning only those due."""
        return [(i.charge_point_id, i.connection_id) for i in
                indexes.due_before(ChargerModel.online_index, ChargerModel.close_at, now) if i.connection_id]

    def count_online(self) -> int:
        """Chargers with a live connection (the ConnectedChargers metric): ``Select=COUNT`` on each
        online-index shard (16 Queries; 0.5 RCU per 4 KB of index entries, ~40 B each)."""
        return sum(ChargerModel.online_index.count(shard) for shard in indexes.all_shards())

    def of_driver(self, driver: str) -> list[ChargerView]:
        """The chargers linked to a driver (driver index, all pages)."""
        out, cursor = [], None
        while True:
            views, cursor = self.page_of_driver(driver, indexes.MAX_PAGE, cursor)
            out.extend(views)
            if cursor is None:
                return out

    def preference(self, charge_point_id: str) -> Preference:
        try:
            item = ChargerModel.get(charge_point_id, attributes_to_get=["preference"])
        except DoesNotExist:
            return Preference()
        pref = item.preference
        return _preference_from(charge_point_id, dict(pref.as_dict() if hasattr(pref, "as_dict") else pref or {}))

    def firmware_history(self, charge_point_id: str) -> list[str]:
        try:
            item = ChargerModel.get(charge_point_id, consistent_read=True, attributes_to_get=["firmware_history"])
        except DoesNotExist:
            return []
        return list(item.firmware_history or [])

    def capabilities(self, charge_point_id: str) -> dict[str, str]:
        try:
            item = ChargerModel.get(charge_point_id, consistent_read=True, attributes_to_get=["capabilities"])
        except DoesNotExist:
            return {}
        caps = item.capabilities
        return dict(caps.as_dict() if hasattr(caps, "as_dict") else caps or {})
