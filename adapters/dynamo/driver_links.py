"""``csms.views.driver_links.DriverLinks`` on the charger item: ``driver`` + ``driver_since`` for the
current link and ``driver_links`` (``"<driver>|<from ISO>|<to ISO>"``, oldest first) for closed ones.
Linking costs a GetItem and one conditional UpdateItem (it fails, and is retried once, if another
link changed the charger meanwhile); a driver's session listing one GetItem per charger."""

from __future__ import annotations

from datetime import datetime, timezone

from pynamodb.exceptions import DoesNotExist, UpdateError

from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import ChargerModel
from csms.views.driver_links import LinkPeriod
from csms.timeutil import iso, parse_ts


# A link made before periods were kept covers what it covered then: everything before it
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)


class DynamoDriverLinks:
    def link(self, charge_point_id: str, driver: str | None, at: datetime) -> bool:
        for _ in range(2):
            try:
                item = ChargerModel.get(charge_point_id, consistent_read=True, attributes_to_get=["charge_point_id", "driver", "driver_since", "driver_links"])
            except DoesNotExist:
                return False
            actions = [ChargerModel.driver.set(driver) if driver else ChargerModel.driver.remove(),
                       ChargerModel.driver_since.set(at) if driver else ChargerModel.driver_since.remove()]
            if item.driver:
                since = item.driver_since or EARLIEST  # linked before periods were kept
                actions.append(ChargerModel.driver_links.set(
                    ChargerModel.driver_links.append([f"{item.driver}|{iso(since)}|{iso(at)}"])
                    if item.driver_links is not None else [f"{item.driver}|{iso(since)}|{iso(at)}"]))
            condition = (ChargerModel.driver == item.driver) if item.driver else ChargerModel.driver.does_not_exist()
            try:
                ChargerModel(charge_point_id).update(actions=actions, condition=condition)
                return True
            except UpdateError as exc:
                if not conditional_failed(exc):
                    raise
        return False

    def periods(self, charge_point_id: str) -> list[LinkPeriod]:
        try:
            item = ChargerModel.get(charge_point_id, attributes_to_get=["charge_point_id", "driver", "driver_since", "driver_links"])
        except DoesNotExist:
            return []
        out = []
        for entry in item.driver_links or []:
            driver, start, end = entry.rsplit("|", 2)
            out.append(LinkPeriod(driver, parse_ts(start), parse_ts(end)))
        if item.driver:
            out.append(LinkPeriod(item.driver, item.driver_since or EARLIEST))
        return out
