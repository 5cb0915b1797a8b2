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

from csms.charging.fanout import (FLEET, SHARD_PAGE, SQS_BATCH, FanoutReport, InProcessQueue, ProfileOrder, QueuedSink,
                                  ShardTask, dispatch)
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
    """Queue this period's shard tasks (one events Query; no session read). Returns tasks queued."""
    now = clock()
    # A shared limit (the fleet-wide SITE_CAP_KW, a grid-demand event, a site with its own limit) binds
    # vehicles of different shards together: one FLEET task plans them by site and event group
    # (``adapters.site_replan.plan_by_group``). One Query each for the events and the sites.
    shared = (runtime.settings.site_cap_kw is not None or bool(runtime.events.active(now))
              or any(site.connection_kw() is not None for site in runtime.sites.listed()))
    return dispatch((active or _active_shards()).shards(), shard_queue, now, shared_limit=shared)


def plan_task(runtime, body: dict, shard_queue: WorkQueue, send_queue: WorkQueue, *,
              signals=None, clock: Callable[[], datetime] = utcnow, active: ActiveShards | None = None,
              page_size: int | None = None):
    """Plan one shard task (``csms.charging.fanout``, step 2); returns the scheduler's RunReport
    (``sent`` = orders queued). Raises BadMessage for a body that is not a task, and whatever the
    reads or the queue raise (the task is then delivered again)."""
    from adapters.smart_charging import plugged_in, stored_signals
    from csms.charging.scheduler import RunReport, SmartScheduler

    task = ShardTask.from_body(body)
    if task.stale(clock()):
        log.info("shard task %s of %s is older than a period; dropped", task.shard, task.run_at)
        return RunReport()
    settings = runtime.settings
    options: dict = {"carbon_price": settings.carbon_price_gbp_per_t}
    if task.shard == FLEET:  # a shared limit: every active session together (the fleet LP)
        sessions = runtime.sessions.all_active()
        events = list(runtime.events.active(clock()))
        options.update(site_cap_kw=settings.site_cap_kw, events=lambda: events)
    else:
        sessions, after = (active or _active_shards()).page(task.shard, page_size or PAGE, task.cursor)
        if after is not None:  # the next page plans in parallel with this one
            shard_queue.put([ShardTask(task.shard, task.run_at, after).body()])
        options.update(site_cap_kw=None, events=list)  # per vehicle: sort-and-fill is exact
    sink = QueuedSink(send_queue)
    read_signals = signals or _run_signals(runtime, task, stored_signals(runtime, clock))
    plugs = _plugged_in(runtime, sessions, plugged_in)
    report = None
    if task.shard == FLEET and settings.site_cap_kw is None:  # sites and event groups, each on its own
        from adapters.site_replan import plan_by_group
        from csms.charging.defaults import DEFAULT_MAX_POWER_W

        def group_scheduler(**overrides) -> SmartScheduler:
            return SmartScheduler(read_signals, sink, clock, **{**options, "site_cap_kw": None, "events": list,
                                                                  **overrides})

        report = plan_by_group(runtime, plugs, clock(), group_scheduler, DEFAULT_MAX_POWER_W / 1000)
    if report is None:
        report = SmartScheduler(read_signals, sink, clock, **options).run(plugs)
    sink.flush()
    return report


READ_WORKERS = 16  # a page's two reads per vehicle, this many at a time (5,000 x 2 in series: ~50 s in AWS)


def _plugged_in(runtime, sessions: list, read: Callable) -> list:
    """``adapters.smart_charging.plugged_in`` for a page, in ``READ_WORKERS`` threads (botocore
    clients are thread-safe); the order of the sessions is kept."""
    if len(sessions) <= 2 * READ_WORKERS:
        return read(runtime, sessions=sessions)
    from concurrent.futures import ThreadPoolExecutor

    size = -(-len(sessions) // READ_WORKERS)
    chunks = [sessions[i:i + size] for i in range(0, len(sessions), size)]
    with ThreadPoolExecutor(READ_WORKERS) as pool:
        return [plug for part in pool.map(lambda chunk: read(runtime, sessions=chunk), chunks) for plug in part]


_signals_of_run: dict[str, object] = {}


def _run_signals(runtime, task: ShardTask, load: Callable):
    """The stored signals, read once per run in this container (a planner container plans many of
    a run's tasks one after the other): one read of the signals table per container and run, and
    every page a container plans in a run sees the same prices."""
    key = f"{id(runtime)}#{task.run_at.isoformat()}"

    def cached():
        if key not in _signals_of_run:
            _signals_of_run.clear()  # only the current run's
            _signals_of_run[key] = load()
        return _signals_of_run[key]
    return cached


def send_order(runtime, body: dict, clock: Callable[[], datetime] = utcnow) -> str:
    """Send one profile order (step 3): SetChargingProfile queued on the charger's call queue and
    posted when its slot is free (``Commander.set_limit``), then the plan stored with the session.
    Returns "sent", "stale" (older than a period: dropped) or "refused" (the charger refuses every
    profile purpose). Raises BadMessage, and whatever the call queue or the management API raise
    (the order is then delivered again, as it is: nothing is planned again)."""
    order = ProfileOrder.from_body(body)
    if order.stale(clock()):
        log.info("order for %s/%s is older than a period; dropped", order.charge_point_id, order.transaction_id)
        return "stale"
    call = runtime.commander.set_limit(order.charge_point_id, order.periods(), connector_id=order.connector_id,
                                       transaction_id=order.transaction_id, start=order.at)
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
