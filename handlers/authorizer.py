"""``$connect`` REQUEST authorizer: OCPP security profile 2 (Basic auth)."""

from __future__ import annotations

from typing import Any

from datetime import datetime, timezone

from csms.ocpp.connection import LOCKOUT_WINDOW, WRONG_KEY, authorize
from handlers._runtime import runtime
from handlers.observability import logger


def _policy(charge_point_id: str, method_arn: str) -> dict[str, Any]:
    return {
        "principalId": charge_point_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        # Reaches $connect, $default and $disconnect as requestContext.authorizer.chargePointId.
        "context": {"chargePointId": charge_point_id},
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    decision = authorize(event.get("headers") or {}, runtime().chargers.get_auth, now)
    source_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    if not decision.allowed:
        if decision.reason == WRONG_KEY:
            runtime().chargers.record_auth_failure(decision.charge_point_id, now, LOCKOUT_WINDOW)
        logger.warning(
            "connection refused",
            extra={"charge_point_id": decision.charge_point_id, "reason": decision.reason, "source_ip": source_ip},
        )
        raise Exception("Unauthorized")  # API Gateway answers 401
    logger.info("connection authorized", extra={"charge_point_id": decision.charge_point_id, "source_ip": source_ip})
    return _policy(decision.charge_point_id, event.get("methodArn", "*"))
