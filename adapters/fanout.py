"""Wires the fanned-out fleet run (``csms.charging.fanout``) to DynamoDB, the call queue and SQS.

In AWS (``handlers/fleet_run.py``, ``infra/fleet_run.py``): a scheduled dispatcher queues the shard
tasks on the shard queue, the shard planner (batch size 1) queues profile orders on the send queue,
the sender (batches of 10, bounded concurrency) sends them. Locally (``run_in_process``) the same
three steps run in one process through ``InProcessQueue`` (no SQS).

This module imports no numpy: the dispatcher and the sender stay light (only planning loads the
scheduler)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from adapters import fanout_events
from csms.charging.fanout import (FLEET, SHARD_PAGE, SITES, SQS_BATCH, FanoutReport, InProcessQueue, ProfileOrder,
                                  QueuedSink, ShardTask, dispatch, queue_all, run_tasks)
from csms.charging.ports import ActiveShards, WorkQueue
from csms.timeutil import utcnow

log = logging.getLogger(__name__)

ENV_SHARD_QUEUE_URL = "FLEET_SHARD_QUEUE_URL"  # the planners' queue (set by infra/fleet_run.py)
ENV_SEND_QUEUE_URL = "FLEET_SEND_QUEUE_URL"  # the sender's queue
PAGE = SHARD_PAGE  # sessions per shard task


class SqsQueue:
    """A ``WorkQueue`` on one SQS queue: SendMessageBatch, 10 messages a request. A botocore client,
    as ``adapters.management_api`` (boto3 would add to every cold start)."""

    def __init__(self, url: str, region: str | None = None, client=None):
        import botocore.session

        self.url = url
        self._client = client or botocore.session.get_session().create_client(
            "sqs", region_name=region or os.environ.get("AWS_REGION"))

    def put(self, bodies: list[dict]) -> int:
        """Raises RuntimeError naming the messages SQS refused (the caller fails, and is retried)."""
        for i in range(0, len(bodies), SQS_BATCH):
            chunk = bodies[i:i + SQS_BATCH]
            answer = self._client.send_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(n), "MessageBody": json.dumps(body, separators=(",", ":"))} for n, body in enumerate(chunk)])
            if answer.get("Failed"):
                raise RuntimeError(f"SQS refused {len(answer['Failed'])} of {len(chunk)} messages: {answer['Failed'][0]}")
        return len(bodies)


@dataclass
class Queues:
    shards: WorkQueue
    sends: WorkQueue


def queues_from_env() -> Queues:
    """The two SQS queues named by the environment (infra/fleet_run.py sets them)."""
    region = os.environ.get("AWS_REGION")
    return Queues(SqsQueue(os.environ[ENV_SHARD_QUEUE_URL], region), SqsQueue(os.environ[ENV_SEND_QUEUE_URL], region))


def _active_shards() -> ActiveShards:
    from adapters.dynamo.active_sessions import DynamoActiveShards

    return DynamoActiveShards()


def dispatch_run(runtime, shard_queue: WorkQueue, clock: Callable[[], datetime] = utcnow,
                 active: ActiveShards | None = None) -> int:
    """Queue this period's tasks: per shard a task of its chargers and one of its limited sites
    (``csms.charging.fanout.run_tasks``), or the one ``FLEET`` task under the single-depot setting
    ``SITE_CAP_KW``. Reads the events (one Query), never a session or a site; with an active
    grid-demand event it also opens the run's ledger (one write) before queuing: its requests do not
    depend on the fleet's size. Returns tasks queued."""
    now = clock()
    if runtime.settings.site_cap_kw is not None:
        return dispatch([], shard_queue, now, shared_limit=True)
    from csms.charging.event_shares import HORIZON  # light: no numpy

    # the events this run plans for: not cancelled, starting within the planning horizon
    events = tuple(sorted(e.event_id for e in runtime.events.grid_events(now)
                          if not e.cancelled and e.start < now + HORIZON))
    tasks = run_tasks((active or _active_shards()).shards(), now, shared_limit=False, events=events)
    if events:  # the counter exists before any task can count itself done
        runtime.run_ledger.open(fanout_events.run_name(now), len(tasks))
    return queue_all(shard_queue, [t.body() for t in tasks])


def plan_task(runtime, body: dict, shard_queue: WorkQueue, send_queue: WorkQueue, *,
              signals=None, clock: Callable[[], datetime] = utcnow, active: ActiveShards | None = None,
              page_size: int | None = None):
    """Plan one task (``csms.charging.fanout``, step 2); returns the scheduler's RunReport
    (``sent`` = orders queued). Raises BadMessage for a body that is not a task, and whatever the
    reads or the queue raise (the task is then delivered again).

    - a shard of chargers: one page of the shard's active sessions, less those whose charger is on
      a limited site (their site task plans them; one BatchGetItem per 100 chargers), each planned
      on its own (sort-and-fill: exact without a shared limit);
    - a shard of limited sites (``plan_sites``): whole sites, each under its limit;
    - under grid-demand events, the vehicles an event covers are stage 1 of the event's two stages
      (``adapters.fanout_events``), and a ``share`` task is their stage 2;
    - ``FLEET``: every active session together (the single-depot ``SITE_CAP_KW``)."""
    from adapters.smart_charging import plugged_in, stored_signals
    from csms.charging.event_shares import SHARE
    from csms.charging.scheduler import RunReport, SmartScheduler

    if isinstance(body, dict) and body.get("kind") == SHARE:
        run_at = body.get("runAt")
        loader = stored_signals(runtime, clock)
        return fanout_events.plan_share(
            runtime, body, send_queue, clock=clock, in_threads=_in_threads,
            read_signals=signals or _run_signals(runtime, str(run_at), loader),
            plugged=lambda sessions: _plugged_in(runtime, sessions, plugged_in))
    task = ShardTask.from_body(body)
    if task.stale(clock()):
        log.info("%s task %s of %s is older than a period; dropped", task.kind, task.shard, task.run_at)
        return RunReport()
    settings = runtime.settings
    options: dict = {"carbon_price": settings.carbon_price_gbp_per_t}
    sink = QueuedSink(send_queue)
    read_signals = signals or _run_signals(runtime, str(body.get("runAt")), stored_signals(runtime, clock))
    events = fanout_events.coordinated(runtime, task, clock())
    if task.kind == SITES:
        def site_scheduler(into=sink) -> Callable[..., SmartScheduler]:
            def make(**overrides) -> SmartScheduler:
                return SmartScheduler(read_signals, into, clock, **{**options, "site_cap_kw": None, "events": list,
                                                                      **overrides})
            return make
        stage = fanout_events.Stage1(task, events, "sites") if task.events else None
        report = plan_sites(runtime, task, shard_queue, site_scheduler, page_size or PAGE, stage)
        sink.flush()
        if stage is not None:
            stage.finish(runtime, shard_queue, clock)
        return report
    stage = None
    if task.shard == FLEET:  # the single-depot limit: every active session together (the fleet LP)
        sessions = runtime.sessions.all_active()
        fleet_events = list(runtime.events.active(clock()))
        options.update(site_cap_kw=settings.site_cap_kw, events=lambda: fleet_events)
        plugs = _plugged_in(runtime, sessions, plugged_in)
    else:
        sessions, after = (active or _active_shards()).page(task.shard, page_size or PAGE, task.cursor)
        if after is not None:  # the next page plans in parallel with this one
            fanout_events.hand_on(runtime, task, shard_queue, after)
        sessions, site_of = _off_limited_sites(runtime, sessions)
        options.update(site_cap_kw=None, events=list)  # per vehicle: sort-and-fill is exact
        plugs = _plugged_in(runtime, sessions, plugged_in)
        if task.events:
            stage = fanout_events.Stage1(task, events, "shard")
            plugs = _stage1_chargers(stage, plugs, site_of,
                                     lambda into: SmartScheduler(read_signals, into, clock, **options))
    report = SmartScheduler(read_signals, sink, clock, **options).run(plugs)
    sink.flush()
    if stage is not None:
        stage.finish(runtime, shard_queue, clock)
    return report


def _stage1_chargers(stage, plugs: list, site_of: dict, scheduler: Callable) -> list:
    """Stage 1 of a charger page: the covered vehicles planned without the events, by class, their
    load recorded (nothing sent); returns the vehicles no event covers (planned as usual)."""
    free, by_class = [], {}
    for plug in plugs:
        cls = stage.covering([plug.charge_point_id], site_of.get(plug.charge_point_id))
        (by_class.setdefault(cls, []) if cls else free).append(plug)
    for cls, grouped in by_class.items():
        capture = fanout_events.CaptureSink()
        scheduler(capture).run(fanout_events.every_plan(grouped))
        stage.add(cls, capture.plans, sum(p.max_power_w for p in grouped) / 1000,
                  [f"{p.charge_point_id}#{p.transaction_id}" for p in grouped])
    return free


def _off_limited_sites(runtime, sessions: list) -> tuple[list, dict]:
    """The sessions whose charger is on no site with a limit (the others are their site task's),
    and each charger's site (None: on none)."""
    if not sessions:
        return sessions, {}
    site_of = runtime.sites.sites_of(sorted({s.charge_point_id for s in sessions}))
    return [s for s in sessions if (site_of.get(s.charge_point_id) is None
                                    or site_of[s.charge_point_id].connection_kw() is None)], site_of


def plan_sites(runtime, task: ShardTask, shard_queue: WorkQueue, scheduler: Callable, page: int, stage=None):
    """A page of one shard of limited sites: whole sites in site-id order until they hold ``page``
    chargers (at least one site; a site larger than a page is a page of its own), the next page
    handed on as a task before planning. Each site is planned as a plug-in re-plan plans it
    (``adapters.site_replan``: its chargers, their active sessions, ``plan_group`` under its limit,
    then ``site_defaults``); ``scheduler(sink)`` makes the site's schedulers. Under events
    (``stage``), a site an event covers is stage 1: planned into a capture, its load recorded.
    Reads: one Query of the list, per site one Query of its chargers (and one of the defaults sent),
    per charger one Query of its active sessions, per vehicle its meter and preference
    (``READ_WORKERS`` at a time). No claim is taken (it would cost 2 WU per site and run): an order
    of this run that a plug-in's re-plan of the site superseded meanwhile is dropped by the sender
    (``send_order``). A site that fails is logged and its chargers reported skipped; the others are
    planned."""
    from adapters.site_replan import plan_group, site_defaults
    from csms.charging.defaults import DEFAULT_MAX_POWER_W
    from csms.charging.groups import Group
    from csms.charging.scheduler import RunReport
    from adapters.smart_charging import plugged_in

    sites, after = runtime.sites.limited(task.shard, page, task.cursor)
    taken: list = []
    chargers = 0
    for start in range(0, len(sites), 4 * READ_WORKERS):
        chunk = sites[start:start + 4 * READ_WORKERS]
        for site, members in zip(chunk, _in_threads(lambda site: runtime.sites.members(site.site_id), chunk)):
            if taken and chargers + len(members) > page:
                break
            taken.append((site, members))
            chargers += len(members)
        else:
            continue
        break
    if taken and (len(taken) < len(sites) or after is not None):  # the next page plans in parallel
        fanout_events.hand_on(runtime, task, shard_queue, taken[-1][0].site_id)
    all_members = [cp for _, members in taken for cp in members]
    sessions = [s for found in _in_threads(runtime.sessions.active, all_members) for s in found]
    plugs = _plugged_in(runtime, sessions, plugged_in)
    by_charger: dict[str, list] = {}
    for plug in plugs:
        by_charger.setdefault(plug.charge_point_id, []).append(plug)
    report = RunReport(group=f"sites:{task.shard}")
    for site, members in taken:
        group = Group(f"site:{site.site_id}", members, {site.site_id: (site, members)})
        grouped = [p for cp in members for p in by_charger.get(cp, [])]
        cls = stage.covering(members, site) if stage is not None else ""
        try:
            if cls:  # stage 1: without the event; planned again in stage 2 inside its share
                capture = fanout_events.CaptureSink()
                plan_group(group, fanout_events.every_plan(grouped), scheduler(capture), DEFAULT_MAX_POWER_W / 1000)
                stage.add(cls, capture.plans, float(site.connection_kw()), [site.site_id])
            elif grouped:
                done = plan_group(group, grouped, scheduler(), DEFAULT_MAX_POWER_W / 1000)
                report.planned += done.planned
                report.sent += done.sent
                report.unchanged += done.unchanged
                report.skipped += done.skipped
            site_defaults(runtime, group)
        except Exception:
            log.exception("planning site %s failed", site.site_id)
            report.skipped += [p.charge_point_id for p in grouped]
    return report


READ_WORKERS = 16  # a page's reads, this many at a time (5,000 x 2 in series: ~50 s in AWS)


def _in_threads(read: Callable, items: list) -> list:
    """``[read(item) for item in items]`` in ``READ_WORKERS`` threads (botocore clients are
    thread-safe); the order is kept."""
    if len(items) <= 2:
        return [read(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(READ_WORKERS, len(items))) as pool:
        return list(pool.map(read, items))


def _plugged_in(runtime, sessions: list, read: Callable) -> list:
    """``adapters.smart_charging.plugged_in`` for a page, in ``READ_WORKERS`` threads; the order of
    the sessions is kept."""
    if len(sessions) <= 2 * READ_WORKERS:
        return read(runtime, sessions=sessions)
    size = -(-len(sessions) // READ_WORKERS)
    chunks = [sessions[i:i + size] for i in range(0, len(sessions), size)]
    return [plug for part in _in_threads(lambda chunk: read(runtime, sessions=chunk), chunks) for plug in part]


_signals_of_run: dict[str, object] = {}


def _run_signals(runtime, run: str, load: Callable):
    """The stored signals, read once per run in this container (a planner container plans many of
    a run's tasks one after the other): one read of the signals table per container and run, and
    every page a container plans in a run sees the same prices."""
    key = f"{id(runtime)}#{run}"

    def cached():
        if key not in _signals_of_run:
            _signals_of_run.clear()  # only the current run's
            _signals_of_run[key] = load()
        return _signals_of_run[key]
    return cached


def send_order(runtime, body: dict, clock: Callable[[], datetime] = utcnow) -> str:
    """Send one profile order (step 3): SetChargingProfile queued on the charger's call queue and
    posted when its slot is free (``Commander.set_limit``), then the plan stored with the session.
    Returns "sent", "stale" (older than a period, or its session stopped: dropped), "superseded"
    (a newer plan was stored for the session meanwhile, e.g. a plug-in's re-plan of the site:
    dropped, ``ProfileOrder.superseded``) or "refused" (the charger refuses every profile purpose).
    Raises BadMessage, and whatever the call queue or the management API raise
    (the order is then delivered again, as it is: nothing is planned again)."""
    order = ProfileOrder.from_body(body)
    if order.stale(clock()):
        log.info("order for %s/%s is older than a period; dropped", order.charge_point_id, order.transaction_id)
        return "stale"
    if order.previous is not None:  # one GetItem: is it still the session's latest plan?
        session = runtime.sessions.get(order.charge_point_id, order.transaction_id)
        if session is None or not session.active:
            return "stale"  # the vehicle has gone
        if order.superseded(session.plan_hash):
            log.info("order for %s/%s superseded by a newer plan; dropped", order.charge_point_id, order.transaction_id)
            return "superseded"
    call = runtime.commander.set_limit(order.charge_point_id, order.periods(), connector_id=order.connector_id,
                                       transaction_id=order.transaction_id, start=order.at, capped=order.capped)
    if call is None:
        return "refused"
    # remembered only once queued: an order that fails before this is sent again, as it is
    runtime.sessions.save_plan(order.charge_point_id, order.transaction_id, order.plan_json(), order.digest)
    return "sent"


def run_in_process(runtime, *, signals=None, clock: Callable[[], datetime] = utcnow,
                   active: ActiveShards | None = None, page_size: int | None = None,
                   max_receives: int = 3) -> FanoutReport:
    """The whole periodic run in this process (``csms local``): dispatch, every shard task, every
    order, through in-process queues; a failed message is delivered again up to ``max_receives``
    times, then kept in the report's ``dead``."""
    shard_queue, send_queue = InProcessQueue(max_receives), InProcessQueue(max_receives)
    report = FanoutReport()
    dispatch_run(runtime, shard_queue, clock, active)

    def plan(body: dict) -> None:
        result = plan_task(runtime, body, shard_queue, send_queue, signals=signals, clock=clock, active=active,
                           page_size=page_size)
        report.tasks += 1
        report.planned += result.planned
        report.unchanged += result.unchanged
        report.queued += result.sent
        report.skipped.extend(result.skipped)

    def send(body: dict) -> None:
        outcome = send_order(runtime, body, clock)
        if outcome == "sent":
            report.sent += 1
        else:
            report.dropped += 1

    for queue, consume in ((shard_queue, plan), (send_queue, send)):
        _, failed = queue.drain(consume)
        report.failures += failed
        report.dead.extend(queue.dead)
    return report
