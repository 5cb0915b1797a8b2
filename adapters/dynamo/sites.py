"""Sites, their chargers, targeted grid-demand events and re-plan claims in the events table
(``GridItemModel``: hash ``area``, range ``event_id``), read by key only (no Scan):

| item | area | event_id | holds |
|---|---|---|---|
| site | ``site`` | site id | ``data``: the site's JSON (limits, region, name) |
| a region's site | ``region#<region>`` | site id | (keys only: the sites of a region are one Query) |
| a limited site | ``limited#<shard>`` | site id | ``data``: the site's JSON; only sites with a limit (sparse), in 16 shards by ``indexes.shard_of(site id)``: the periodic run's site tasks page through one shard each (issue 16) |
| a site's charger | ``site#<site id>`` | charge point id | ``data``: the default limit it was sent (a site's chargers are one Query) |
| a charger's site | ``cp#<charge point id>`` | ``site`` | ``data``: the site id |
| re-plan claim | ``replan`` | group key (``site:<id>``, ...) | ``until``: a run holds it until then (its lease; TTL a day); ``cancelled``: requested again meanwhile |
| targeted event | the area (``GB``) | event id | as the fleet-wide events, plus ``target_kind``, ``targets``, ``reduction_kw``; ``data``: ``{"capacity_kw", "chargers"}`` of its group at creation |
| allowance | ``allowance#<unit>`` | event id | see ``adapters.dynamo.allowances`` |

Writes that keep items in step (a site, its region item and its limited item; a charger and its
site's member item) are one TransactWriteItems.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from adapters.dynamo import indexes
from adapters.dynamo.models import GridItemModel
from adapters.dynamo.items import conditional_failed as _conditional_failed
from adapters.dynamo.signals import SIGNAL_KEEP, DynamoEvents
from csms.charging.groups import FLEET, EventTarget, GridEvent
from csms.charging.signals import DemandEvent
from csms.charging.sites import Site

SITES = "site"
LIMITED = "limited#"  # + shard: the sparse, sharded list of sites with a limit
CLAIMS = "replan"
CLAIM_KEEP = timedelta(days=1)


def _site_json(site: Site) -> str:
    return json.dumps(asdict(site), sort_keys=True)


def _site(data: str | None) -> Site | None:
    return Site(**json.loads(data)) if data else None


def _limited_area(site_id: str) -> str:
    return f"{LIMITED}{indexes.shard_of(site_id)}"


def _cancelled(exc: Exception) -> bool:
    """True when a transaction was cancelled by a failed condition (pynamodb's ``cancellation_reasons``;
    the response's ``CancellationReasons``, which not every DynamoDB-compatible server parses)."""
    reasons = getattr(getattr(exc, "cause", None), "response", {}) or {}
    codes = [r.get("Code") for r in reasons.get("CancellationReasons", [])]
    codes += [r.code for r in getattr(exc, "cancellation_reasons", None) or [] if r is not None]
    return _conditional_failed(exc) or "ConditionalCheckFailed" in codes or "TransactionCanceledException" in str(exc)


class DynamoSites:
    """``csms.charging.ports.SiteStore`` on DynamoDB."""

    def _conn(self):
        return GridItemModel._get_connection().connection

    def put(self, site: Site, replace: bool = True) -> bool:
        """Create or replace (``replace``) a site; True when it was created. A create is one conditional
        transaction (the site item's ``attribute_not_exists``), never a read then a write: an existing
        site, or one created meanwhile, is False and unchanged."""
        old = self.get(site.site_id) if replace else None
        try:
            with TransactWrite(connection=self._conn()) as tx:
                tx.save(GridItemModel(SITES, site.site_id, data=_site_json(site)),
                        condition=None if replace else GridItemModel.area.does_not_exist())
                if old is not None and old.region and old.region != site.region:
                    tx.delete(GridItemModel(f"region#{old.region}", site.site_id))
                if site.region and (old is None or old.region != site.region):
                    tx.save(GridItemModel(f"region#{site.region}", site.site_id))
                if site.connection_kw() is not None:  # the periodic run's list of limited sites, in step
                    tx.save(GridItemModel(_limited_area(site.site_id), site.site_id, data=_site_json(site)))
                elif old is not None and old.connection_kw() is not None:  # it lost its limit: off the list
                    tx.delete(GridItemModel(_limited_area(site.site_id), site.site_id))
        except TransactWriteError as exc:
            if replace or not _cancelled(exc):
                raise
            return False  # the site exists (the condition failed): unchanged
        return old is None

    def get(self, site_id: str) -> Site | None:
        try:
            return _site(GridItemModel.get(SITES, site_id, consistent_read=True).data)
        except DoesNotExist:
            return None

    def listed(self) -> list[Site]:
        return [s for s in (_site(i.data) for i in GridItemModel.query(SITES)) if s is not None]

    def delete(self, site_id: str) -> bool:
        site = self.get(site_id)
        if site is None:
            return False
        for charge_point_id in self.members(site_id):
            self.unassign(charge_point_id)
        with TransactWrite(connection=self._conn()) as tx:
            tx.delete(GridItemModel(SITES, site_id))
            if site.region:
                tx.delete(GridItemModel(f"region#{site.region}", site_id))
            if site.connection_kw() is not None:
                tx.delete(GridItemModel(_limited_area(site_id), site_id))
        return True

    def limited(self, shard: str, limit: int, after: str | None = None) -> tuple[list[Site], str | None]:
        """At most ``limit`` sites with a limit in ``shard``, by id after ``after``, and the id to
        continue after (None: the shard is done). One Query of the sparse list (no Scan)."""
        condition = GridItemModel.event_id > after if after else None
        items = list(GridItemModel.query(f"{LIMITED}{shard}", range_key_condition=condition, limit=limit + 1,
                                          page_size=limit + 1))
        sites = [s for s in (_site(i.data) for i in items[:limit]) if s is not None]
        return sites, (items[limit - 1].event_id if len(items) > limit else None)

    def _current(self, charge_point_id: str) -> str | None:
        try:
            return GridItemModel.get(f"cp#{charge_point_id}", SITES, consistent_read=True).data
        except DoesNotExist:
            return None

    def assign(self, site_id: str, charge_point_id: str) -> str | None:
        previous = self._current(charge_point_id)
        try:
            with TransactWrite(connection=self._conn()) as tx:
                tx.condition_check(GridItemModel, SITES, site_id, condition=GridItemModel.area.exists())
                tx.save(GridItemModel(f"cp#{charge_point_id}", SITES, data=site_id),
                        condition=(GridItemModel.data == previous) if previous else GridItemModel.area.does_not_exist())
                if previous != site_id:
                    tx.save(GridItemModel(f"site#{site_id}", charge_point_id))
                    if previous:
                        tx.delete(GridItemModel(f"site#{previous}", charge_point_id))
        except TransactWriteError as exc:
            if self.get(site_id) is None:
                raise LookupError(f"no site {site_id}") from exc
            raise  # a concurrent assignment of the same charger: the caller retries
        return previous

    def unassign(self, charge_point_id: str) -> str | None:
        previous = self._current(charge_point_id)
        if previous is None:
            return None
        with TransactWrite(connection=self._conn()) as tx:
            tx.delete(GridItemModel(f"cp#{charge_point_id}", SITES))
            tx.delete(GridItemModel(f"site#{previous}", charge_point_id))
        return previous

    def members(self, site_id: str) -> list[str]:
        return sorted(i.event_id for i in GridItemModel.query(f"site#{site_id}"))

    def defaults(self, site_id: str) -> dict[str, str | None]:
        """The site's chargers with the default limit each was last sent (``mark_default``): one Query."""
        return {i.event_id: i.data for i in GridItemModel.query(f"site#{site_id}")}

    def mark_default(self, site_id: str, charge_point_id: str, value: str) -> None:
        try:
            GridItemModel(f"site#{site_id}", charge_point_id).update(actions=[GridItemModel.data.set(value)],
                                                                     condition=GridItemModel.area.exists())
        except UpdateError as exc:  # taken off the site meanwhile
            if not _conditional_failed(exc):
                raise

    def site_of(self, charge_point_id: str) -> Site | None:
        site_id = self._current(charge_point_id)
        return self.get(site_id) if site_id else None

    def sites_of(self, charge_point_ids: list[str]) -> dict[str, Site | None]:
        """Every charger's site in two BatchGetItems per 100 chargers (the periodic run)."""
        ids = sorted(set(charge_point_ids))
        site_ids = {i.area[3:]: i.data for i in GridItemModel.batch_get([(f"cp#{cp}", SITES) for cp in ids])} if ids else {}
        wanted = sorted({s for s in site_ids.values() if s})
        sites = {i.event_id: _site(i.data) for i in GridItemModel.batch_get([(SITES, s) for s in wanted])} if wanted else {}
        return {cp: sites.get(site_ids[cp] or "") if cp in site_ids else None for cp in ids}

    def in_region(self, region: str) -> list[Site]:
        ids = [i.event_id for i in GridItemModel.query(f"region#{region}")]
        return [s for s in (self.get(i) for i in ids) if s is not None]

    def claim_replan(self, key: str, until: datetime, now: datetime) -> bool:
        try:
            GridItemModel(CLAIMS, key, until=until, expires_at=until + CLAIM_KEEP).save(
                condition=GridItemModel.area.does_not_exist() | (GridItemModel.until <= now))
            return True
        except PutError as exc:
            if not _conditional_failed(exc):
                raise
        try:  # a run is under way: mark the claim so that it plans once more when it ends
            GridItemModel(CLAIMS, key).update(actions=[GridItemModel.cancelled.set(True)],
                                              condition=GridItemModel.area.exists())
        except UpdateError as exc:  # released in between: this request's change may be missed until
            if not _conditional_failed(exc):  # the next periodic run (never lost for longer)
                raise
        return False

    def release_replan(self, key: str) -> bool:
        try:  # ``cancelled`` on a claim item: "requested again while the run was under way"
            GridItemModel(CLAIMS, key).delete(condition=GridItemModel.cancelled.does_not_exist())
            return False
        except DeleteError as exc:
            if not _conditional_failed(exc):
                raise
        GridItemModel(CLAIMS, key).update(actions=[GridItemModel.cancelled.remove()])
        return True


class DynamoGridEvents(DynamoEvents):
    """The events store with targets (``csms.charging.ports.EventStore`` and ``TargetedEvents``).
    ``active`` keeps its meaning for the fleet-wide run: the events that cap the whole fleet."""

    def add_targeted(self, start: datetime, end: datetime, *, cap_kw: float | None, reduction_kw: float | None,
                     target: EventTarget, group_capacity_kw: float | None = None,
                     group_chargers: int | None = None) -> str:
        event_id = f"{start.astimezone(timezone.utc):%Y%m%dT%H%MZ}-{uuid.uuid4().hex[:8]}"
        group = {"capacity_kw": group_capacity_kw, "chargers": group_chargers}
        GridItemModel(self.area, event_id, start=start, end=end, cap_kw=cap_kw, reduction_kw=reduction_kw,
                      target_kind=target.kind, targets=list(target.ids) or None, cancelled=False,
                      data=json.dumps(group) if group_capacity_kw is not None else None,
                      expires_at=end + SIGNAL_KEEP).save()
        return event_id

    def grid_events(self, now: datetime) -> list[GridEvent]:
        out = []
        for i in GridItemModel.query(self.area):
            if i.end is None or i.start is None or i.end <= now:
                continue
            group = json.loads(i.data) if i.data else {}
            out.append(GridEvent(i.event_id, i.start, i.end, i.cap_kw, i.reduction_kw,
                                 EventTarget(i.target_kind or FLEET, tuple(i.targets or ())), bool(i.cancelled),
                                 group.get("capacity_kw"), group.get("chargers")))
        return out

    def listed(self, now: datetime) -> list[tuple[str, DemandEvent, bool]]:
        """Events with a cap (a reduction has no cap until its group is known: see ``grid_events``)."""
        return [(e.event_id, DemandEvent(e.start, e.end, float(e.cap_kw)), e.cancelled)
                for e in self.grid_events(now) if e.cap_kw is not None]

    def active(self, now: datetime) -> list[DemandEvent]:
        return [DemandEvent(e.start, e.end, float(e.cap_kw)) for e in self.grid_events(now)
                if not e.cancelled and e.target.kind == FLEET and e.cap_kw is not None]
