"""``$disconnect``: mark the charger offline only if this is still its connection."""

from __future__ import annotations

from typing import Any

from csms.timeutil import utcnow
from handlers._runtime import runtime
from handlers.observability import logger, set_correlation_id


# Closes after which a charger comes straight back: the platform's own close at the connection's age
# and API Gateway's 2-hour / idle cuts (1000, 1001), a close frame without a status (1005). Only an
# abnormal end (1006: power, network or a crash) schedules the operator console's offline check:
# at 14 planned reconnects a day a check per close would cost more than the rest of the console
# (csms cost; csms.console.alerts). A charger that closes cleanly and never returns shows offline
# on the page and in the API, but raises no alert.
CLEAN_CLOSES = frozenset({1000, 1001, 1005})


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    charge_point_id = (request.get("authorizer") or {}).get("chargePointId")
    connection_id = request.get("connectionId")
    set_correlation_id(charge_point_id)
    if charge_point_id and connection_id:
        rt, now = runtime(), utcnow()
        marked = rt.chargers.disconnect(charge_point_id, connection_id, now)
        code = request.get("disconnectStatusCode")
        if marked and rt.alerts is not None and code not in CLEAN_CLOSES:
            rt.alerts.on_disconnect(charge_point_id, connection_id, now)  # still offline in N minutes?
        logger.info(
            "disconnected" if marked else "stale disconnect ignored",
            extra={"charge_point_id": charge_point_id, "connection_id": connection_id},
        )
    return {"statusCode": 200}
