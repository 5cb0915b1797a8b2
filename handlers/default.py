"""``$default`` (two-way route): one OCPP-J frame in, the reply as the route response."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from csms.ocpp import codec as ocpp_j
from csms.timeutil import BadTimestamp, parse_ts
from handlers._runtime import runtime
from handlers.observability import logger, message_counts, metrics, profile_counts, set_correlation_id


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    charge_point_id = (request.get("authorizer") or {}).get("chargePointId")
    connection_id = request.get("connectionId")
    set_correlation_id(charge_point_id)
    if not charge_point_id:
        logger.error("message without authorizer context")
        return {"statusCode": 200}
    body: str | bytes = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body)
        except (binascii.Error, ValueError):
            body = b"\xff"  # answered as a frame that is not UTF-8
    # No EMF line per frame (its log ingestion would cost more than the Lambda request): messages
    # by action are counted in the container and published once a minute (PeriodicCounts).
    message_counts.flush_if_due()
    profile_counts.flush_if_due()
    connected_at = None
    if isinstance(request.get("connectedAt"), (int, float)):
        connected_at = datetime.fromtimestamp(request["connectedAt"] / 1000, tz=timezone.utc)
    frame_log_until = None
    switch = (request.get("authorizer") or {}).get("frameLogUntil")  # handlers.authorizer.FRAME_LOG_CONTEXT
    if isinstance(switch, str):
        try:
            frame_log_until = parse_ts(switch)
        except BadTimestamp:
            frame_log_until = None
    try:
        reply = runtime().central.handle_frame(charge_point_id, connection_id, body, connected_at, frame_log_until)
    except Exception:  # never let a frame crash the route: the charger gets no reply and retries
        logger.exception("frame handling failed")
        metrics.add_metric(name="HandlerErrors", unit=MetricUnit.Count, value=1)
        return {"statusCode": 200}
    if reply is None:
        return {"statusCode": 200}
    if reply.startswith(f"[{ocpp_j.CALLERROR},"):
        metrics.add_metric(name="CallErrors", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200, "body": reply}
