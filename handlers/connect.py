"""``$connect``: accept only OCPP 1.6 and remember the charger's current connection."""

from __future__ import annotations

from typing import Any

from csms.ocpp.certificates import ConnectionSecurity, needs_renewal
from csms.ocpp.connection import choose_subprotocol
from csms.timeutil import utcnow
from handlers._runtime import runtime
from handlers.observability import logger, set_correlation_id


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    charge_point_id = (request.get("authorizer") or {}).get("chargePointId")
    connection_id = request.get("connectionId")
    set_correlation_id(charge_point_id)
    if not charge_point_id or not connection_id:
        logger.error("connect without authorizer context")
        return {"statusCode": 401, "body": "Unauthorized"}
    legacy = str((request.get("authorizer") or {}).get("legacyHandshake", "")).lower() == "true"
    subprotocol = choose_subprotocol(event.get("headers"), legacy)
    if subprotocol is None:
        logger.warning("refused: ocpp1.6 not offered", extra={"charge_point_id": charge_point_id})
        return {"statusCode": 400, "body": "Sec-WebSocket-Protocol must offer ocpp1.6"}
    security = ConnectionSecurity.from_context(request.get("authorizer"))
    if not runtime().chargers.connect(charge_point_id, connection_id, utcnow(), security):
        logger.warning("refused: charger no longer registered", extra={"charge_point_id": charge_point_id})
        return {"statusCode": 403, "body": "Forbidden"}
    if (request.get("authorizer") or {}).get("newKey") == "true" and runtime().commander.keys is not None:
        # The charger uses its rotated key: the old one is retired now (csms.ocpp.rotation)
        if runtime().commander.keys.promote_pending(charge_point_id):
            logger.info("rotated AuthorizationKey in use; the old key is retired", extra={"charge_point_id": charge_point_id})
    if needs_renewal(security, utcnow()):
        # queued, not sent: the socket opens after this answer; it goes out after the charger's first message
        runtime().commander.enqueue(charge_point_id, "ExtendedTriggerMessage",
                                    {"requestedMessage": "SignChargePointCertificate"}, origin="renewal")
        logger.info("certificate renewal requested", extra={"charge_point_id": charge_point_id,
                                                            "not_after": security.certificate.not_after.isoformat()})
    logger.info("connected", extra={"charge_point_id": charge_point_id, "connection_id": connection_id})
    if not subprotocol:  # a legacy-handshake charger that offered none: admitted as OCPP 1.6
        logger.warning("admitted without a subprotocol (legacy handshake)", extra={"charge_point_id": charge_point_id})
        return {"statusCode": 200}
    return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": subprotocol}}
