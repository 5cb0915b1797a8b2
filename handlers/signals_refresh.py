"""Scheduled (EventBridge, every 30 minutes): fetch the next 48 hours of prices (Octopus Agile)
and carbon intensity (GB Carbon Intensity API) into the signals table."""

from __future__ import annotations

from typing import Any

from adapters.signal_feeds import refresh
from csms.timeutil import utcnow
from handlers._runtime import runtime
from handlers.observability import logger, metrics


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = refresh(runtime().signals, utcnow())
    logger.info("signals refreshed", extra=outcome)
    return outcome
