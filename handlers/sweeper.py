"""Scheduled (EventBridge, every minute): send queued platform calls, expire unanswered ones, close
connections that reached their random age (storm spreading, ``csms.ocpp.connection_age``), advance
firmware campaigns."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers._runtime import runtime
from handlers.observability import logger, metrics


GAUGE_EVERY_MINUTES = 5  # the ConnectedChargers gauge: 16 COUNT queries of the online index
# 100,000 chargers closed at 90-115 min are ~1,000 DeleteConnection calls a minute: ~10 s one by one,
# the sweeper's whole timeout; 16 at a time it is well under a second (docs/scale.md).
CLOSE_WORKERS = 16


def close_aged(rt, now: datetime) -> int:
    """Close every connection whose random close age (90-115 min) has passed, before API Gateway's
    2-hour cut: one Query per online-index shard plus one DeleteConnection per connection due."""
    poster = rt.commander.poster
    if poster is None or not hasattr(poster, "close"):
        return 0
    def close(due: tuple[str, str]) -> int:
        charge_point_id, connection_id = due
        try:
            if poster.close(connection_id):
                return 1
            rt.chargers.mark_stale(charge_point_id, connection_id)  # already gone: leave the index
        except Exception:  # one charger's failure must not stop the sweep
            logger.exception("closing %s failed", charge_point_id)
        return 0

    due = rt.chargers.due_to_close(now)
    if len(due) <= 1:
        return sum(map(close, due))
    with ThreadPoolExecutor(max_workers=CLOSE_WORKERS) as pool:
        return sum(pool.map(close, due))


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    now = datetime.now(timezone.utc)
    sent = rt.commander.sweep()
    closed = close_aged(rt, now)
    # alerts whose time has come: chargers still offline, transactions still open (csms.console.alerts)
    metrics.add_metric(name="AlertsRaisedBySweep", unit=MetricUnit.Count,
                       value=rt.alerts.check_due(now) if rt.alerts is not None else 0)
    metrics.add_metric(name="CallsSentBySweep", unit=MetricUnit.Count, value=sent)
    metrics.add_metric(name="ConnectionsClosedByAge", unit=MetricUnit.Count, value=closed)
    # Firmware campaigns: time out silent chargers, fill free slots of the current wave (docs/firmware.md)
    metrics.add_metric(name="FirmwareUpdatesSent", unit=MetricUnit.Count, value=rt.firmware.advance_all())
    if now.minute % GAUGE_EVERY_MINUTES == 0:
        metrics.add_metric(name="ConnectedChargers", unit=MetricUnit.Count, value=rt.chargers.count_online())
    logger.info("sweep done", extra={"sent": sent, "closed": closed})
    return {"sent": sent, "closed": closed}
