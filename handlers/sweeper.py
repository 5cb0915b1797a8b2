"""Scheduled (EventBridge, every minute): send queued platform calls, expire unanswered ones, advance
firmware campaigns."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers._runtime import runtime
from handlers.observability import logger, metrics


GAUGE_EVERY_MINUTES = 5  # the ConnectedChargers gauge scans the chargers table: not every minute


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    sent = rt.commander.sweep()
    metrics.add_metric(name="CallsSentBySweep", unit=MetricUnit.Count, value=sent)
    # Firmware campaigns: time out silent chargers, fill free slots of the current wave (docs/firmware.md)
    metrics.add_metric(name="FirmwareUpdatesSent", unit=MetricUnit.Count, value=rt.firmware.advance_all())
    if datetime.now(timezone.utc).minute % GAUGE_EVERY_MINUTES == 0:
        metrics.add_metric(name="ConnectedChargers", unit=MetricUnit.Count, value=rt.chargers.count_online())
    logger.info("sweep done", extra={"sent": sent})
    return {"sent": sent}
