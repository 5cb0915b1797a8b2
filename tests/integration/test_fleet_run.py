"""The fanned-out periodic run (issue 16) end to end on moto's SQS and DynamoDB, through the real
Lambda entry points (``handlers/fleet_run.py``): dispatcher -> shard planner -> sender, with the
queues and dead-letter queues configured as the stack configures them (``infra/fleet_run.py``).
Lambda's SQS poller is played by ``_poll``: receive a batch, invoke, delete what succeeded, and let
what failed become visible again (its visibility timeout, shortened to 0 here)."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from adapters import fanout
from adapters.dynamo import indexes
from adapters.dynamo.models import SessionModel
from adapters.settings import Settings
from adapters.wiring import build_runtime
from csms.timeutil import parse_ts, utcnow
from handlers import _runtime
from handlers import fleet_run
from infra.constants import PLANNER_BATCH, SENDER_BATCH, SENDER_MAX_RECEIVES, SHARD_MAX_RECEIVES
from tests.fakes import MemoryPoster
from tests.integration.test_scheduler_lambda import DATA

FLEET = 200  # vehicles, on every one of the 16 shards (~1,400 moto requests at ~15-50 ms each; the bench,
# bench/bench_fanout.py, runs thousands through the same steps in memory)
PAGE = 8  # sessions per shard task here (5,000 in AWS): most shards take two or more pages


class FlakyPoster(MemoryPoster):
    """The management API: ``failing`` connections answer an error (throttled, 5xx) once each."""

    def __init__(self, failing=()):
        super().__init__()
        self.failing = set(failing)
        self.errors = 0

    def post(self, connection_id, frame):
        if connection_id in self.failing:
            self.failing.discard(connection_id)
            self.errors += 1
            raise RuntimeError("LimitExceededException: throttled")
        return super().post(connection_id, frame)


def _queue(sqs, name, max_receives):
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receives)})})["QueueUrl"]
    return url, dlq


@pytest.fixture
def fleet_run_env(platform, monkeypatch):
    sqs = boto3.client("sqs", region_name="eu-west-2")
    shards, shards_dlq = _queue(sqs, "fleet-shards", SHARD_MAX_RECEIVES)
    sends, sends_dlq = _queue(sqs, "fleet-sends", SENDER_MAX_RECEIVES)
    monkeypatch.setenv(fanout.ENV_SHARD_QUEUE_URL, shards)
    monkeypatch.setenv(fanout.ENV_SEND_QUEUE_URL, sends)
    monkeypatch.setattr(fanout, "PAGE", PAGE)
    monkeypatch.setattr(fleet_run, "_queues", None)
    yield sqs, {"shards": shards, "shards_dlq": shards_dlq, "sends": sends, "sends_dlq": sends_dlq}


def _store_signals(rt):
    """Two days of recorded GB prices and carbon around now (the planners read them once per run)."""
    from csms.charging import signals, tariff

    now = utcnow()
    recorded = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
    rt.signals.put(signals.rows_from_signals(tariff.replayed(recorded, now, days=2)), now)


def _fleet(rt, n, online=()):
    """``n`` plugged-in vehicles on the active-index (as StartTransaction writes them); the chargers
    in ``online`` have a current connection (``conn-<id>``), the others are offline."""
    now = utcnow()
    with SessionModel.batch_write() as batch:
        for i in range(n):
            cp = f"FLEET{i:04d}"
            batch.save(SessionModel(cp, i + 1, connector_id=1, id_tag="T", meter_start_wh=0,
                                    started_at=now - timedelta(minutes=30), start_received_at=now - timedelta(minutes=30),
                                    active=True, active_shard=indexes.shard_of(cp)))
    for cp in online:
        rt.chargers.register(cp, "x" * 64, now)
        rt.chargers.connect(cp, f"conn-{cp}", now)


def _poll(sqs, url, handler, batch):
    """One receive-invoke-delete round of Lambda's SQS poller; returns (records, failed ids)."""
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch, AttributeNames=["ApproximateReceiveCount"])
    messages = got.get("Messages", [])
    if not messages:
        return 0, []
    event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs"} for m in messages]}
    answer = handler(event, None)
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] in failed:  # visible again (the visibility timeout, here at once)
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    done = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(QueueUrl=url, Entries=done)
    return len(messages), sorted(failed)


def _drain(sqs, url, handler, batch):
    records, failures = 0, []
    while True:
        n, failed = _poll(sqs, url, handler, batch)
        if n == 0:
            return records, failures
        records += n
        failures += failed


def _bodies(sqs, url):
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in got.get("Messages", [])]


def test_the_periodic_run_fans_out_per_shard_and_a_failed_send_is_retried_without_planning_again(fleet_run_env):
    sqs, urls = fleet_run_env
    online = ("FLEET0003", "FLEET0050")
    poster = FlakyPoster(failing={"conn-FLEET0003"})
    rt = _runtime.install(build_runtime(Settings.from_env(), poster=poster, counters=_runtime.lambda_counters()))
    _store_signals(rt)
    _fleet(rt, FLEET, online)
    shards_holding = {indexes.shard_of(f"FLEET{i:04d}") for i in range(FLEET)}
    assert len(shards_holding) == 16

    assert fleet_run.dispatch({}, None) == {"tasks": 32}  # a charger task and a site task per shard; no session read
    planned = []
    real_plan = fanout.plan_task

    def counting_plan(*args, **kwargs):
        report = real_plan(*args, **kwargs)
        planned.append(report.planned)
        return report

    fanout.plan_task, saved = counting_plan, fanout.plan_task
    try:
        tasks, failures = _drain(sqs, urls["shards"], fleet_run.plan_shard, PLANNER_BATCH)
    finally:
        fanout.plan_task = saved
    assert failures == [] and tasks > 32  # fuller shards handed their next pages on
    assert sum(planned) == FLEET and max(planned) <= PAGE  # every vehicle planned once, in pages
    assert all(rt.sessions.plan_of(f"FLEET{i:04d}", i + 1) is None for i in range(FLEET))  # nothing sent yet

    orders, failures = _drain(sqs, urls["sends"], fleet_run.send_profiles, SENDER_BATCH)
    assert orders == FLEET + 1  # FLEET0003's order came back once ...
    assert len(failures) == 1 and poster.errors == 1
    assert sum(planned) == FLEET  # ... and was sent again as it was: nothing was planned a second time
    for i in range(FLEET):
        cp = f"FLEET{i:04d}"
        assert json.loads(rt.sessions.plan_of(cp, i + 1)), cp  # every plan is stored with its session
        assert "SetChargingProfile" in [q.action for q in rt.calls.queued(cp)]
    posted = {c: [json.loads(f) for conn, f in poster.sent if conn == f"conn-{c}"] for c in online}
    for cp, frames in posted.items():  # the online chargers got their profile; the failed one after its retry
        assert [f[2] for f in frames] == ["SetChargingProfile"], cp
    assert _bodies(sqs, urls["shards_dlq"]) == [] and _bodies(sqs, urls["sends_dlq"]) == []


def test_poisoned_messages_land_in_the_dead_letter_queues_and_old_orders_are_dropped(fleet_run_env):
    # one test (one moto platform: its tables take seconds to create)
    sqs, urls = fleet_run_env
    rt = _runtime.install(build_runtime(Settings.from_env(), poster=MemoryPoster(), counters=_runtime.lambda_counters()))
    _fleet(rt, 4)
    now = utcnow()
    good = [fanout.ProfileOrder(f"FLEET{i:04d}", 1, i + 1, now, ((now, now + timedelta(hours=1), 7400.0),), "d").body()
            for i in range(3)]
    poisoned = [{"kind": "profile", "chargePointId": "FLEET0001"}, "not an order"]
    old = now - timedelta(minutes=20)  # from the run before last: that vehicle has been planned again since
    stale = fanout.ProfileOrder("FLEET0003", 1, 4, old, ((old, old + timedelta(hours=1), 7400.0),), "d").body()
    fanout.SqsQueue(urls["sends"]).put(good[:2] + poisoned + [stale] + good[2:])
    sent, failures = _drain(sqs, urls["sends"], fleet_run.send_profiles, SENDER_BATCH)
    # Each poisoned message is tried max_receives times, then SQS moves it to the dead-letter queue.
    assert len(failures) == 2 * SENDER_MAX_RECEIVES and sent == 4 + 2 * SENDER_MAX_RECEIVES
    dead = sorted(_bodies(sqs, urls["sends_dlq"]))
    assert dead == sorted(json.dumps(p, separators=(",", ":")) for p in poisoned)
    assert all(rt.sessions.plan_of(f"FLEET{i:04d}", i + 1) for i in range(3))  # the good ones were sent
    assert rt.sessions.plan_of("FLEET0003", 4) is None and rt.calls.queued("FLEET0003") == []  # the old one not

    fanout.SqsQueue(urls["shards"]).put([{"kind": "shard", "shard": "3", "runAt": "yesterday"}])
    _, failures = _drain(sqs, urls["shards"], fleet_run.plan_shard, PLANNER_BATCH)
    assert len(failures) == SHARD_MAX_RECEIVES
    assert [json.loads(b)["runAt"] for b in _bodies(sqs, urls["shards_dlq"])] == ["yesterday"]


def _ddb_requests(monkeypatch):
    from tests.integration.test_request_counts import count_dynamodb_calls

    return count_dynamodb_calls(monkeypatch)


def _planned_by_task(monkeypatch) -> list[tuple[str, int]]:
    """(task kind, vehicles planned) of every shard task planned from here on."""
    planned: list[tuple[str, int]] = []
    real_plan = fanout.plan_task

    def counting_plan(runtime, body, *args, **kwargs):
        report = real_plan(runtime, body, *args, **kwargs)
        planned.append((body["kind"], report.planned))
        return report
    monkeypatch.setattr(fanout, "plan_task", counting_plan)
    return planned


def test_limited_sites_are_planned_by_their_own_tasks_and_the_dispatcher_reads_the_same_whatever_the_fleet(
        fleet_run_env, monkeypatch):
    from csms.charging.scheduler import DEFAULT_ENERGY_KWH
    from csms.charging.sites import Site
    from tests.unit.test_fanout_sites import energy_kwh, peak_kw

    sqs, urls = fleet_run_env
    rt = _runtime.install(build_runtime(Settings.from_env(), poster=MemoryPoster(), counters=_runtime.lambda_counters()))
    _store_signals(rt)
    calls = _ddb_requests(monkeypatch)
    _fleet(rt, 4)
    calls.clear()
    assert fleet_run.dispatch({}, None) == {"tasks": 32}
    small = sorted(calls)
    _fleet(rt, 30)  # more vehicles, and sites: 6 of 3 chargers, 15 kW each (3 x 30 kWh fits in 7 h)
    sites = {f"SITE{i}": [f"FLEET{3 * i + k:04d}" for k in range(3)] for i in range(6)}
    for site_id, members in sites.items():
        rt.sites.put(Site(site_id, 15.0))
        for cp in members:
            rt.sites.assign(site_id, cp)
    assert len({indexes.shard_of(s) for s in sites}) >= 4  # the sites' tasks are several shards
    calls.clear()
    assert fleet_run.dispatch({}, None) == {"tasks": 32}
    assert sorted(calls) == small == ["Query"]  # the events, whatever the fleet: no session, no site read
    _drain(sqs, urls["shards"], lambda e, c: {"batchItemFailures": []}, 10)  # the first dispatch's tasks

    fleet_run.dispatch({}, None)
    planned = _planned_by_task(monkeypatch)
    _, failures = _drain(sqs, urls["shards"], fleet_run.plan_shard, PLANNER_BATCH)
    assert failures == []
    assert sum(n for _, n in planned) == 30 and max(n for _, n in planned) <= PAGE  # each once, in pages
    assert sum(n for kind, n in planned if kind == "sites") == 18  # the sites' vehicles by their site tasks
    _, failures = _drain(sqs, urls["sends"], fleet_run.send_profiles, SENDER_BATCH)
    assert failures == []
    for site_id, members in sites.items():
        stored = [[(parse_ts(a), parse_ts(b), float(w)) for a, b, w in json.loads(rt.sessions.plan_of(cp, int(cp[5:]) + 1))]
                  for cp in members]
        assert peak_kw(stored) <= 15.0 + 1e-3, site_id
        assert all(energy_kwh(p) >= DEFAULT_ENERGY_KWH - 0.05 for p in stored), site_id


def test_the_limited_site_list_follows_each_site_write_and_pages_by_site_id(platform):
    from adapters.dynamo.sites import DynamoSites
    from csms.charging.sites import Site

    store = DynamoSites()
    same = [s for s in (f"P{i}" for i in range(200)) if indexes.shard_of(s) == "0"][:3]
    for site_id in same:
        store.put(Site(site_id, 20.0))
    store.put(Site("FREE", None))  # no limit: never listed
    first, cursor = store.limited("0", 2)
    rest, end = store.limited("0", 2, cursor)
    assert [s.site_id for s in first + rest] == sorted(same) and cursor == sorted(same)[1] and end is None
    store.put(Site(same[0], None))  # it lost its limit: off the list, in the same transaction
    store.put(Site(same[1], 30.0, region="north"))  # a new limit: the listed copy follows
    store.delete(same[2])
    assert [(s.site_id, s.limit_kw) for s in store.limited("0", 10)[0]] == [(same[1], 30.0)]
    assert all(s.site_id != "FREE" for k in indexes.all_shards() for s in store.limited(k, 10)[0])


def test_a_region_event_across_shards_is_held_in_every_slot_through_the_run_ledger(fleet_run_env, monkeypatch):
    from csms.charging.groups import REGION, EventTarget
    from csms.charging.sites import Site
    from tests.unit.test_fanout_sites import peak_kw

    sqs, urls = fleet_run_env
    rt = _runtime.install(build_runtime(Settings.from_env(), poster=MemoryPoster(), counters=_runtime.lambda_counters()))
    _store_signals(rt)
    _fleet(rt, 24)  # 4 limited sites of 3 chargers and a site of 6 with no limit in "north"; 6 elsewhere
    sites = {f"N{i}": ([f"FLEET{3 * i + k:04d}" for k in range(3)], 15.0) for i in range(4)}
    sites["NHOMES"] = ([f"FLEET{k:04d}" for k in range(12, 18)], None)
    for site_id, (members, limit) in sites.items():
        rt.sites.put(Site(site_id, limit, region="north"))
        for cp in members:
            rt.sites.assign(site_id, cp)
    now = utcnow()
    end = now + timedelta(hours=2)
    cap = 20.0
    rt.events.add_targeted(now - timedelta(minutes=5), end, cap_kw=cap, reduction_kw=None,
                           target=EventTarget(REGION, ("north",)))
    calls = _ddb_requests(monkeypatch)
    assert fleet_run.dispatch({}, None) == {"tasks": 32}
    assert sorted(calls) == ["PutItem", "Query"]  # the events, and the run's ledger counter opened: no session read
    planned = _planned_by_task(monkeypatch)
    _, failures = _drain(sqs, urls["shards"], fleet_run.plan_shard, PLANNER_BATCH)
    assert failures == []
    kinds = {kind for kind, _ in planned}
    assert kinds == {"shard", "sites", "share"}  # stage 2 ran after every task of stage 1
    assert sum(n for _, n in planned) == 24 and max(n for _, n in planned) <= PAGE
    assert sum(n for kind, n in planned if kind == "share") == 18  # the region's vehicles, in stage 2
    _, failures = _drain(sqs, urls["sends"], fleet_run.send_profiles, SENDER_BATCH)
    assert failures == []
    stored = {}
    for i in range(24):
        cp = f"FLEET{i:04d}"
        stored[cp] = [(parse_ts(a), parse_ts(b), float(w)) for a, b, w in json.loads(rt.sessions.plan_of(cp, i + 1))]
    region = [stored[cp] for members, _ in sites.values() for cp in members]
    start = now.replace(second=0, microsecond=0)
    during = [[(max(a, start), min(b, end), w) for a, b, w in p if a < end and b > start] for p in region]
    assert peak_kw(region) > cap  # it binds: later the region draws more
    assert peak_kw(during) <= cap + 1e-3  # the summed load never exceeds the cap in any slot of the event
    for site_id, (members, limit) in sites.items():
        if limit is not None:
            assert peak_kw([stored[cp] for cp in members]) <= limit + 1e-3, site_id


def test_the_backfill_lists_limited_sites_stored_before_the_list_existed(platform):
    from adapters.dynamo.backfill import backfill_limited_sites
    from adapters.dynamo.models import GridItemModel
    from adapters.dynamo.sites import DynamoSites
    from csms.charging.sites import Site

    store = DynamoSites()
    store.put(Site("OLD1", 11.0))
    store.put(Site("OLD2", None, phase_limit_a=32.0))  # a per-phase limit is a limit too
    store.put(Site("FREE", None))
    for site_id in ("OLD1", "OLD2"):  # as stored before the list: the site item alone
        GridItemModel(f"limited#{indexes.shard_of(site_id)}", site_id).delete()
    assert all(not store.limited(k, 10)[0] for k in indexes.all_shards())
    assert backfill_limited_sites() == 2
    listed = sorted(s.site_id for k in indexes.all_shards() for s in store.limited(k, 10)[0])
    assert listed == ["OLD1", "OLD2"]
