"""A plug-in re-plans that vehicle alone when no shared limit binds: the DynamoDB requests of the
re-plan are the same whatever the fleet's size (counted at the botocore client, as
``test_request_counts.py`` does), and the vehicle's plan is sent. Sizes stay small here; the
bench (``bench/bench_replan.py``) runs 100, 1,000 and 5,000."""

from __future__ import annotations

import json
from datetime import timedelta

from adapters.dynamo.models import SessionModel
from csms.timeutil import utcnow
from handlers import _runtime
from handlers import scheduler as scheduler_handler
from adapters.dynamo import indexes
from tests.integration.test_request_counts import _count, dynamodb_calls  # noqa: F401 (a fixture)
from tests.integration.test_scheduler_lambda import _plug_in, _store_day_around_now


def add_plugged_in_fleet(n: int, start: int = 0) -> None:
    """``n`` other vehicles plugged in (active sessions on other chargers), written in batches."""
    now = utcnow()
    with SessionModel.batch_write() as batch:
        for i in range(start, start + n):
            batch.save(SessionModel(f"FLEET{i:06d}", 1, connector_id=1, id_tag="T", meter_start_wh=0,
                                    started_at=now - timedelta(hours=1), start_received_at=now - timedelta(hours=1),
                                    active=True, active_shard=indexes.shard_of(f"FLEET{i:06d}")))  # on the active-index


def test_a_plug_in_re_plan_costs_the_same_requests_at_any_fleet_size(platform, dynamodb_calls):
    from tests.integration.conftest import ChargerClient

    rt = _runtime.runtime()
    _store_day_around_now(rt)
    counts, sizes = {}, (10, 100, 400)
    added = 0
    for n, size in enumerate(sizes):
        add_plugged_in_fleet(size - added, added)
        added = size
        charger = ChargerClient(rt, f"NEW{n}").register()
        tx = _plug_in(charger)
        dynamodb_calls.clear()
        result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": charger.id}, None)
        counts[size] = _count(dynamodb_calls)
        assert result["planned"] == 1 and result["sent"] == 1  # that vehicle alone, and its plan is sent
        assert json.loads(rt.sessions.plan_of(charger.id, tx))  # the plan is stored with the session
    reads, writes = zip(*[(r, w) for r, w, _ in counts.values()])
    assert "Scan" not in dynamodb_calls and all(r > 0 for r in reads)
    assert len(set(reads)) == 1 and len(set(writes)) == 1, counts  # flat: the same requests at every size
    # The periodic run still plans everyone (and it is what grows with the fleet).
    dynamodb_calls.clear()
    assert scheduler_handler.lambda_handler({}, None)["planned"] == sizes[-1] + len(sizes)


def _site_with_plugged_neighbours(rt, site_id: str, limit_kw: float, neighbours: int):
    """A site whose limit binds: ``neighbours`` vehicles plugged in on it, and a new charger on it."""
    from csms.charging.sites import Site
    from tests.integration.conftest import ChargerClient

    rt.sites.put(Site(site_id, limit_kw, region="north"))
    for k in range(neighbours):
        neighbour = ChargerClient(rt, f"{site_id}-N{k}").register()
        rt.sites.assign(site_id, neighbour.id)
        _plug_in(neighbour)
    charger = ChargerClient(rt, f"{site_id}-NEW").register()
    rt.sites.assign(site_id, charger.id)
    return charger


def test_a_plug_in_on_a_site_whose_limit_binds_re_plans_that_site_alone_at_any_fleet_size(platform, dynamodb_calls):
    rt = _runtime.runtime()
    _store_day_around_now(rt)
    counts, added = {}, 0
    for n, size in enumerate((10, 100, 400)):
        add_plugged_in_fleet(size - added, added)
        added = size
        charger = _site_with_plugged_neighbours(rt, f"DEPOT{n}", 8.0, neighbours=2)
        tx = _plug_in(charger)
        dynamodb_calls.clear()
        result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": charger.id}, None)
        counts[size] = _count(dynamodb_calls)
        # the site's three vehicles, not the fleet, and none of them above the site's 8 kW together
        assert result["planned"] == 3 and result["group"] == f"site:DEPOT{n}", result
        plans = [json.loads(rt.sessions.plan_of(s.charge_point_id, s.transaction_id) or "[]")
                 for cp in rt.sites.members(f"DEPOT{n}") for s in rt.sessions.active(cp)]
        assert len(plans) == 3 and json.loads(rt.sessions.plan_of(charger.id, tx))
        edges = sorted({t for plan in plans for a, b, _ in plan for t in (a, b)})
        for a, b in zip(edges, edges[1:]):
            load = sum(w for plan in plans for s, e, w in plan if s <= a and b <= e)
            assert load <= 8000 + 1, (a, load)
        # each of the site's chargers holds a default of its share of the limit before its plan arrives:
        # 8 kW / 3 is below what an EV can take on three phases (4.14 kW), so 0 (wait for the plan)
        assert set(rt.sites.defaults(f"DEPOT{n}").values()) == {"0"}
    assert "Scan" not in dynamodb_calls
    assert len({(r, w) for r, w, _ in counts.values()}) == 1, counts  # flat: the same requests at every size


def test_a_burst_on_one_site_is_coalesced_into_the_run_under_way(platform):
    rt = _runtime.runtime()
    _store_day_around_now(rt)
    charger = _site_with_plugged_neighbours(rt, "BURST", 8.0, neighbours=1)
    _plug_in(charger)
    now = utcnow()
    # a run of the site is under way (its claim is held): a plug-in there now only marks the claim
    assert rt.sites.claim_replan("site:BURST", now + timedelta(minutes=2), now)
    result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": charger.id}, None)
    assert result["coalesced"] and result["planned"] == 0
    assert rt.sites.release_replan("site:BURST")  # the run under way is told to plan once more
    assert not rt.sites.release_replan("site:BURST")  # and then the claim is gone
    result = scheduler_handler.lambda_handler({"reason": "session-change", "chargePointId": charger.id}, None)
    assert result["planned"] == 2 and not result["coalesced"]
