"""``$disconnect``: mark the charger offline only if this is still its connection."""

from __future__ import annotations

from typing import Any

from csms.timeutil import utcnow
from handlers._runtime import runtime
from handlers.observability import logger


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    charge_point_id = (request.get("authorizer") or {}).get("chargePointId")
    connection_id = request.get("connectionId")
    logger.set_correlation_id(charge_point_id)
    if charge_point_id and connection_id:
        rt, now = runtime(), utcnow()
        marked = rt.chargers.disconnect(charge_point_id, connection_id, now)
        if marked and rt.alerts is not None:  # is it still offline in N minutes? (csms.console.alerts)
            rt.alerts.on_disconnect(charge_point_id, connection_id, now)
        logger.info(
            "disconnected" if marked else "stale disconnect ignored",
            extra={"charge_point_id": charge_point_id, "connection_id": connection_id},
        )
    return {"statusCode": 200}
