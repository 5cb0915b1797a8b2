"""The fanned-out periodic fleet run (``csms.charging.fanout``, ``adapters.fanout``): three entry
points, one per function of ``infra/fleet_run.py``.

- ``dispatch``: EventBridge every 15 minutes (no async retries): per active-index shard a task of
  its chargers and one of its limited sites.
- ``plan_shard``: SQS shard queue, batch size 1: plan the task's page (a shard's chargers, its
  limited sites, or a grid-demand event's stage-2 unit), queue the changed plans.
- ``send_profiles``: SQS send queue, batches of 10: send each order; a failed one is reported
  (ReportBatchItemFailures) and delivered again as it is, never planned again; after the queue's
  receive limit it lands in the dead-letter queue."""

from __future__ import annotations

import json
from typing import Any, Callable

from aws_lambda_powertools.metrics import MetricUnit

from adapters import fanout
from handlers._runtime import runtime
from handlers.observability import logger, metrics

_queues: fanout.Queues | None = None


def queues() -> fanout.Queues:
    """This container's SQS queues (built once)."""
    global _queues
    if _queues is None:
        _queues = fanout.queues_from_env()
    return _queues


def _each(event: dict[str, Any], consume: Callable[[dict], object]) -> dict[str, Any]:
    """Consume every SQS record; the ids of those that failed, for a partial batch response."""
    failures = []
    for record in (event or {}).get("Records", []):
        try:
            consume(json.loads(record["body"]))
        except Exception:
            logger.exception("fleet-run message failed", extra={"messageId": record.get("messageId"),
                                                                 "receiveCount": record.get("attributes", {}).get(
                                                                     "ApproximateReceiveCount")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


@metrics.log_metrics
def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    tasks = fanout.dispatch_run(runtime(), queues().shards)
    metrics.add_metric(name="FleetRunTasks", unit=MetricUnit.Count, value=tasks)
    logger.info("fleet run dispatched", extra={"tasks": tasks})
    return {"tasks": tasks}


@metrics.log_metrics
def plan_shard(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def plan(body: dict) -> None:
        report = fanout.plan_task(runtime(), body, queues().shards, queues().sends)
        metrics.add_metric(name="VehiclesPlanned", unit=MetricUnit.Count, value=report.planned)
        metrics.add_metric(name="ProfilesQueued", unit=MetricUnit.Count, value=report.sent)
        if report.skipped:
            metrics.add_metric(name="SchedulerSkipped", unit=MetricUnit.Count, value=len(report.skipped))
        logger.info("shard planned", extra={"kind": body.get("kind"), "shard": body.get("shard") or body.get("task"),
                                            "planned": report.planned,
                                            "queued": report.sent, "unchanged": report.unchanged})
    return _each(event, plan)


@metrics.log_metrics
def send_profiles(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcomes: dict[str, int] = {}

    def send(body: dict) -> None:
        outcome = fanout.send_order(runtime(), body)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    answer = _each(event, send)
    metrics.add_metric(name="ProfilesSent", unit=MetricUnit.Count, value=outcomes.get("sent", 0))
    if answer["batchItemFailures"]:
        metrics.add_metric(name="ProfileSendFailures", unit=MetricUnit.Count, value=len(answer["batchItemFailures"]))
    return answer
