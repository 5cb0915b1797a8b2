"""Chargers as operators manage them: register (with its AuthorizationKey), delete, link a driver,
rotate the key, admit a legacy handshake, handshake failures, and platform-initiated commands.
Behind ``csms.operations.Operations``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from csms.access import Access, Conflict, Invalid, NotFound, Principal, require_operator, ts
from csms.ocpp import lockout
from csms.ocpp.codec import OcppError
from csms.ocpp.commands import Commander
from csms.ocpp.connection import valid_charge_point_id
from csms.ocpp.credentials import CredentialError, generate_key, hash_key
from csms.ocpp.ports import AlreadyExists, ChargerCredentials, FailureStore


class ChargerOperations:
    """Seams: ``access``, ``chargers`` (credentials), ``commander`` (platform-initiated calls),
    ``failures`` (handshake failure counters, ``csms.ocpp.lockout``; None: none kept here), ``clock``."""

    def __init__(self, access: Access, chargers: ChargerCredentials, commander: Commander,
                 failures: FailureStore | None, clock: Callable[[], datetime]):
        self.access, self.chargers, self.commander = access, chargers, commander
        self.failures, self.clock = failures, clock

    def register_charger(self, who: Principal, charge_point_id: str, key: str | None = None,
                         driver: str | None = None) -> dict:
        require_operator(who)
        if not valid_charge_point_id(charge_point_id):
            raise Invalid(f"charge point id {charge_point_id!r} must be 1-48 printable characters without '/'")
        key = key or generate_key()
        try:
            hashed = hash_key(key)
        except CredentialError as exc:
            raise Invalid(str(exc)) from exc
        try:
            self.chargers.register(charge_point_id, hashed, self.clock())
        except AlreadyExists as exc:
            raise Conflict(f"charger {charge_point_id} is already registered") from exc
        if driver:
            self.access.link(charge_point_id, driver)
        return {"id": charge_point_id, "authorization_key": key, "driver": driver}

    def delete_charger(self, who: Principal, charge_point_id: str) -> None:
        require_operator(who)
        if not self.chargers.delete(charge_point_id):
            raise NotFound(f"no charger {charge_point_id}")

    def link_driver(self, who: Principal, charge_point_id: str, driver: str | None) -> dict:
        require_operator(who)
        if not self.access.link(charge_point_id, driver):
            raise NotFound(f"no charger {charge_point_id}")
        return {"id": charge_point_id, "driver": driver}

    def rotate_key(self, who: Principal, charge_point_id: str) -> dict:
        """Send the charger a new AuthorizationKey (``csms.ocpp.rotation``): its hash is stored as
        pending before the call is queued, so the old and the new key both work until the charger
        connects with the new one; the queued call holds the key sealed. ``status``: ``sent`` or
        ``queued`` (offline, or answering an earlier call). Invalid when nothing can seal it."""
        require_operator(who)
        self.access.visible(who, charge_point_id)
        if self.commander.sealer is None or self.commander.keys is None:
            raise Invalid("key rotation needs a sealer for the queued key (SECRETS_KMS_KEY_ID or SECRETS_KEY_FILE)")
        key = generate_key()
        call = self.commander.enqueue(charge_point_id, "ChangeConfiguration",
                                      {"key": "AuthorizationKey", "value": key}, "operator")
        if not self.commander.keys.set_pending(charge_point_id, hash_key(key), call.unique_id):
            self.commander.queue.remove(call)
            raise NotFound(f"no charger {charge_point_id}")
        self.commander.pump(charge_point_id)
        held = self.commander.queue.outstanding(charge_point_id)
        sent = held is not None and held.call.unique_id == call.unique_id
        return {"id": charge_point_id, "command_id": call.unique_id, "authorization_key": key,
                "status": "sent" if sent else "queued",
                "note": "the old and the new key both work until the charger connects with the new one"}

    def _failures(self) -> FailureStore:
        if self.failures is None:
            raise NotFound("no handshake failure counters here")
        return self.failures

    def charger_auth_failures(self, who: Principal, charge_point_id: str) -> dict:
        """Wrong keys for a charger in the last hour, from any source, and the latest source
        (``csms.ocpp.lockout``): they never refuse the charger's own key."""
        require_operator(who)
        self.access.visible(who, charge_point_id)
        out = lockout.charger_failures(self._failures(), charge_point_id, self.clock())
        return {k: ts(v) if isinstance(v, datetime) else v for k, v in out.items()}

    def source_auth_failures(self, who: Principal, source: str) -> dict:
        """Failures from one source (an IP address) and until when its handshakes are refused."""
        import ipaddress

        require_operator(who)
        try:
            source = str(ipaddress.ip_address(source))
        except ValueError as exc:
            raise Invalid(f"{source!r} is not an IP address") from exc
        out = lockout.source_failures(self._failures(), source, self.clock())
        return {k: ts(v) if isinstance(v, datetime) else v for k, v in out.items()}

    def set_legacy_handshake(self, who: Principal, charge_point_id: str, legacy: bool) -> dict:
        """Admit a registered charger as OCPP 1.6 although it offers no ``Sec-WebSocket-Protocol``
        or a variant spelling (``ocpp1.6j``), as some shipped chargers do (operators). Refused by
        default: OCPP-J 1.6 section 3.1.2 requires ``ocpp1.6``."""
        require_operator(who)
        if not self.chargers.set_legacy_handshake(charge_point_id, legacy):
            raise NotFound(f"no charger {charge_point_id}")
        return {"id": charge_point_id, "legacy_handshake": legacy}

    def send_command(self, who: Principal, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict:
        require_operator(who)
        self.access.visible(who, charge_point_id)
        if action == "ChangeConfiguration" and payload.get("key") == "AuthorizationKey":
            raise Invalid("rotate the key with POST /v1/chargers/{id}/rotate-key (the platform must know it)")
        return operator_call(self.commander, charge_point_id, action, payload)


def operator_call(commander: Commander, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict:
    """Queue an operator's call to a charger (``Commander.send``, origin "operator"): its command id,
    and "sent" when it went out now or "queued" (the charger is offline or still answering an
    earlier call; it goes out in turn). Raises Invalid for a payload the OCPP schema refuses."""
    try:
        call = commander.send(charge_point_id, action, payload, "operator")
    except OcppError as exc:
        raise Invalid(f"{action}: {exc.code}: {exc.description}") from exc
    held = commander.queue.outstanding(charge_point_id)
    sent = held is not None and held.call.unique_id == call.unique_id
    return {"command_id": call.unique_id, "action": action, "status": "sent" if sent else "queued"}
