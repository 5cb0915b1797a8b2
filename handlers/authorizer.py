"""``$connect`` REQUEST authorizer: OCPP security profile 2 (Basic auth) and 3 (a client
certificate verified by the edge, ``csms.ocpp.admission``)."""

from __future__ import annotations

from typing import Any

from datetime import datetime, timezone

from functools import lru_cache

from adapters.origin_secret import origin_secret
from csms.ocpp.admission import admit
from csms.ocpp.certificates import ORIGIN_SECRET_HEADER
from csms.ocpp.connection import LOCKOUT_WINDOW, WRONG_KEY, authorize, header
from handlers._runtime import runtime
from handlers.observability import logger


@lru_cache(maxsize=1)
def _origin_secret(settings):
    """One checker per container (per settings: the local platform may restart in one process)."""
    return origin_secret(settings)


def _policy(charge_point_id: str, method_arn: str, extra: dict | None = None) -> dict[str, Any]:
    return {
        "principalId": charge_point_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        # Reaches $connect, $default and $disconnect as requestContext.authorizer.chargePointId.
        # The connection's security profile, TLS and certificate too: $connect records them.
        "context": {"chargePointId": charge_point_id, **(extra or {})},
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    headers = event.get("headers") or {}
    rt = runtime()
    admission = admit(headers, rt.chargers.get_auth, basic=lambda h, lookup: authorize(h, lookup, now),
                      trusted_edge=_origin_secret(rt.settings).matches(header(headers, ORIGIN_SECRET_HEADER)),
                      cpo_name=rt.settings.cpo_name, now=now)
    decision = admission.decision
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
    return _policy(decision.charge_point_id, event.get("methodArn", "*"), admission.security.as_context())
