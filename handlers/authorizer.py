"""``$connect`` REQUEST authorizer: OCPP security profile 2 (Basic auth) and 3 (a client
certificate verified by the edge, ``csms.ocpp.admission``), with brute-force protection keyed by
the handshake's source (``csms.ocpp.lockout``): nobody else's failures can refuse a charger's right key."""

from __future__ import annotations

from typing import Any

from datetime import datetime, timezone

from functools import lru_cache

from adapters.origin_secret import origin_secret
from csms.ocpp.admission import admit
from csms.ocpp.certificates import ORIGIN_SECRET_HEADER
from csms.ocpp.connection import UNKNOWN, WRONG_KEY, authorize, header, valid_charge_point_id
from csms.ocpp.lockout import VIEWER_ADDRESS, Attempt, handshake_source
from csms.timeutil import iso
from handlers._runtime import runtime
from handlers.observability import logger, set_correlation_id


FRAME_LOG_CONTEXT = "frameLogUntil"  # the authorizer context key $default reads


@lru_cache(maxsize=1)
def _origin_secret(settings):
    """One checker per container (per settings: the local platform may restart in one process)."""
    return origin_secret(settings)


def _policy(charge_point_id: str, method_arn: str, legacy_handshake: bool = False,
            new_key: bool = False, extra: dict | None = None) -> dict[str, Any]:
    policy = {
        "principalId": charge_point_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        # Reaches $connect, $default and $disconnect as requestContext.authorizer.chargePointId.
        # newKey: admitted with a rotation's pending key; $connect retires the old one.
        # The connection's security profile, TLS and certificate too: $connect records them.
        "context": {"chargePointId": charge_point_id, **({"newKey": "true"} if new_key else {}), **(extra or {})},
    }
    if legacy_handshake:  # $connect admits it without the exact subprotocol (no read there)
        policy["context"]["legacyHandshake"] = True
    return policy


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The correlation id is the charge point id once it is authenticated: a warm container (or the
    # local platform's shared logger) must not carry the previous connection's into this handshake.
    set_correlation_id(None)
    now = datetime.now(timezone.utc)
    headers = event.get("headers") or {}
    # API Gateway sets the source from the TCP connection (the local gateway: the peer address); behind
    # CloudFront that is the edge's, so the viewer's own address counts when the edge vouches for it
    peer_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    rt = runtime()
    trusted_edge = _origin_secret(rt.settings).matches(header(headers, ORIGIN_SECRET_HEADER))
    source_ip = handshake_source(peer_ip, header(headers, VIEWER_ADDRESS), trusted_edge)
    where = {"source_ip": source_ip, **({"edge_ip": peer_ip} if peer_ip != source_ip else {})}
    attempt = Attempt(rt.failures, source_ip, now)
    seen: list = []  # the charger item the admission read: its frame-log switch rides along (issue 22)

    def get_auth(charge_point_id: str):
        auth = rt.chargers.get_auth(charge_point_id)
        seen.append(auth)
        return auth

    admission = admit(headers, get_auth, basic=lambda h, lookup: authorize(h, lookup, attempt.gate),
                      trusted_edge=trusted_edge, cpo_name=rt.settings.cpo_name, now=now)
    decision = admission.decision
    if not decision.allowed:
        if decision.reason in (WRONG_KEY, UNKNOWN):
            known = decision.reason == WRONG_KEY
            attempt.failed(decision.charge_point_id, known_charger=known)
            # repeated failures, one alert per id and reason at the threshold (csms.console.alerts): wrong
            # keys by the charger/source pair's counter, an unknown id by its tries that day
            tries = attempt.count_after_failure(known) if known else 0
            if not known and rt.unknown_chargers is not None and valid_charge_point_id(decision.charge_point_id or ""):
                try:  # an operator sees who tried and registers it in one click (csms.console.unknown)
                    tries = rt.unknown_chargers.seen(decision.charge_point_id, source_ip, now)
                except Exception:  # never decides the handshake
                    logger.exception("could not record the unknown charger")
            if rt.alerts is not None and tries:
                rt.alerts.on_auth_failures(decision.charge_point_id, source_ip, tries, now, known)
            if rt.alerts is not None:  # a source sweeping ids or keys: one alert as the lockout starts to throttle it
                rt.alerts.on_source_failures(source_ip, attempt.count_after_failure(False), now)
        # The metric filter AuthFailures (infra/monitoring.py) counts these lines
        logger.warning(
            "connection refused",
            extra={"charge_point_id": decision.charge_point_id, "reason": decision.reason, **where},
        )
        raise Exception("Unauthorized")  # API Gateway answers 401
    attempt.succeeded(decision.charge_point_id)
    set_correlation_id(decision.charge_point_id)
    logger.info("connection authorized", extra={"charge_point_id": decision.charge_point_id, **where})
    extra = dict(admission.security.as_context())
    until = next((a.frame_log_until for a in seen if a is not None and a.charge_point_id == decision.charge_point_id),
                 None)
    if until is not None and until > now:  # $default logs this connection's frames until then (csms.ocpp.frame_log)
        extra[FRAME_LOG_CONTEXT] = iso(until)
    return _policy(decision.charge_point_id, event.get("methodArn", "*"), decision.legacy_handshake, decision.new_key,
                   extra)
