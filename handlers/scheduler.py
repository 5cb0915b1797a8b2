"""On plug-in / unplug (async invoke with ``chargePointId``): plan that charger's vehicles alone when
no shared limit binds, else its site or event group, a burst coalesced (``adapters.site_replan``);
``"*"`` (a grid-demand event) every plugged-in vehicle. Sends the chargers whose plan changed a
charging profile. The periodic 15-minute run is no longer this function's: it fans out per shard
(``handlers/fleet_run.py``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from adapters.smart_charging import run_scheduler
from handlers._runtime import runtime
from handlers.observability import logger, metrics


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = run_scheduler(runtime(), charge_point_id=(event or {}).get("chargePointId"))
    metrics.add_metric(name="VehiclesPlanned", unit=MetricUnit.Count, value=report.planned)
    metrics.add_metric(name="ProfilesQueued", unit=MetricUnit.Count, value=report.sent)
    if report.skipped:
        metrics.add_metric(name="SchedulerSkipped", unit=MetricUnit.Count, value=len(report.skipped))
    logger.info("scheduler run", extra={"planned": report.planned, "sent": report.sent, "unchanged": report.unchanged,
                                        "skipped": report.skipped, "reason": (event or {}).get("reason", "schedule"),
                                        "group": report.group, "coalesced": report.coalesced})
    return {"planned": report.planned, "sent": report.sent, "unchanged": report.unchanged, "skipped": report.skipped,
            "group": report.group, "coalesced": report.coalesced}
