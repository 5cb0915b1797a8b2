"""``$connect`` REQUEST authorizer: OCPP security profile 2 (Basic auth), with brute-force
protection keyed by the handshake's source (``csms.ocpp.lockout``): nobody else's failures can refuse a
charger's right key."""

from __future__ import annotations

from typing import Any

from datetime import datetime, timezone

from csms.ocpp.connection import UNKNOWN, WRONG_KEY, authorize
from csms.ocpp.lockout import Attempt
from handlers._runtime import runtime
from handlers.observability import logger


def _policy(charge_point_id: str, method_arn: str, legacy_handshake: bool = False,
            new_key: bool = False) -> dict[str, Any]:
    policy = {
        "principalId": charge_point_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        # Reaches $connect, $default and $disconnect as requestContext.authorizer.chargePointId.
        # newKey: admitted with a rotation's pending key; $connect retires the old one.
        "context": {"chargePointId": charge_point_id, **({"newKey": "true"} if new_key else {})},
    }
    if legacy_handshake:  # $connect admits it without the exact subprotocol (no read there)
        policy["context"]["legacyHandshake"] = True
    return policy


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    # API Gateway sets the source from the TCP connection (the local gateway: the peer address)
    source_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    rt = runtime()
    attempt = Attempt(rt.failures, source_ip, now)
    decision = authorize(event.get("headers") or {}, rt.chargers.get_auth, attempt.gate)
    if not decision.allowed:
        if decision.reason in (WRONG_KEY, UNKNOWN):
            attempt.failed(decision.charge_point_id, known_charger=decision.reason == WRONG_KEY)
        # The metric filter AuthFailures (infra/monitoring.py) counts these lines
        logger.warning(
            "connection refused",
            extra={"charge_point_id": decision.charge_point_id, "reason": decision.reason, "source_ip": source_ip},
        )
        raise Exception("Unauthorized")  # API Gateway answers 401
    attempt.succeeded(decision.charge_point_id)
    logger.info("connection authorized", extra={"charge_point_id": decision.charge_point_id, "source_ip": source_ip})
    return _policy(decision.charge_point_id, event.get("methodArn", "*"), decision.legacy_handshake, decision.new_key)
