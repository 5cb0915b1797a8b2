"""AuthorizationKey rotation without a secret at rest in clear and without a lock-out window.

A ChangeConfiguration.conf carries an OCPP 1.6 ConfigurationStatus: ``Accepted``, ``Rejected``,
``RebootRequired`` or ``NotSupported``; ``RebootRequired`` means the change is accepted and applies
after the charger's next reboot (MicroOcpp answers it for AuthorizationKey, issue 21). A charger
uses a new key from its next connection (OCPP security whitepaper, profile 2 key update).

So the platform:
1. makes the key and stores its salted hash as the charger's *pending* hash (with the id of the
   ChangeConfiguration that carries it) *before* the call is queued or sent: from then on both the
   old and the new key are admitted, whatever the charger answers and whenever it reconnects;
2. queues the ChangeConfiguration with the key *sealed* (``csms.ocpp.ports.SecretSealer``: KMS in AWS, a local
   0600 key file locally): the calls table and the local snapshot never hold it in clear; the
   sealed value is opened only to build the frame, and replaced by ``(redacted)`` once sent;
3. on ``Rejected`` / ``NotSupported`` / a CALLERROR drops the pending hash (the old key stays);
   on ``Accepted`` / ``RebootRequired`` / no answer keeps both;
4. retires the old key when the charger first connects with the new one (``$connect``).
"""

from __future__ import annotations

from typing import Any

from csms.ocpp.ports import SecretSealer

SECRET_CONFIGURATION_KEYS = frozenset({"AuthorizationKey"})
SEALED = "sealed:"
REDACTED = "(redacted)"
KEEP_PENDING = frozenset({"Accepted", "RebootRequired"})


class SealError(RuntimeError):
    """A sealed value cannot be opened (wrong key, tampered, or no sealer)."""


def is_secret(action: str, payload: dict[str, Any]) -> bool:
    return action == "ChangeConfiguration" and payload.get("key") in SECRET_CONFIGURATION_KEYS


def sealed(action: str, payload: dict[str, Any], charge_point_id: str, sealer: SecretSealer | None) -> dict[str, Any]:
    """The payload as it may be stored: a secret value sealed (unchanged without a sealer: the
    in-memory fakes, where nothing is at rest)."""
    if sealer is None or not is_secret(action, payload) or str(payload.get("value", "")).startswith(SEALED):
        return payload
    return {**payload, "value": sealer.seal(payload["value"], charge_point_id)}


def opened(action: str, payload: dict[str, Any], charge_point_id: str, sealer: SecretSealer | None) -> dict[str, Any]:
    """The payload as the charger must receive it."""
    value = payload.get("value")
    if not is_secret(action, payload) or not isinstance(value, str) or not value.startswith(SEALED):
        return payload
    if sealer is None:
        raise SealError("a sealed value and no sealer to open it")
    return {**payload, "value": sealer.open(value, charge_point_id)}


def redacted(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "value": REDACTED} if is_secret(action, payload) else payload
