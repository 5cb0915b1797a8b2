"""Operators' view and control of chargers' security: profile floor, latest connection's TLS and
certificate, the revocation list (behind the HTTP API routes ``/v1/chargers/<id>/security...``
and ``csms charger security|revoke|profile``).

Ports: ``chargers`` (``get``, ``get_auth``, ``revoke``, ``set_security_profile``) and
``security_events`` (``csms.ocpp.ports.SecurityEventLog``; None: no events shown), both from
:class:`csms.operations.Operations`; the caller checks come from ``csms.access`` (operators only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from csms.access import Conflict, Invalid, NotFound, Principal, require_operator
from csms.ocpp import certificates as certs
from csms.ocpp.v16.security_extension import LATEST_EVENTS

if TYPE_CHECKING:  # the facade, for its charger store
    from csms.operations import Operations


class SecurityOperations:
    def __init__(self, operations: Operations):
        self.ops = operations
        self.chargers = operations.chargers
        self.events = operations.security_events

    def _charger(self, who: Principal, charge_point_id: str):
        require_operator(who)
        view = self.chargers.get(charge_point_id)
        if view is None:
            raise NotFound(f"no charger {charge_point_id}")
        return view

    def security(self, who: Principal, charge_point_id: str) -> dict[str, Any]:
        """``{"id", "security_profile", "connection": {method, profile, tls_version, tls_cipher, at} | None,
        "certificate": {subject, issuer, serial, sha256, not_before, not_after} | None, "revoked": [...],
        "security_events": [{at, type, tech_info}, ...] (the latest 20, oldest first)}``. Costs the
        charger's item, its credentials and one bounded query of its security events."""
        view = self._charger(who, charge_point_id)
        auth = self.chargers.get_auth(charge_point_id)
        latest = self.events.latest(charge_point_id, LATEST_EVENTS) if self.events is not None else []
        events = []
        for item in reversed(latest):
            event_type, _, tech_info = item.detail.partition(": ")  # the log's "<type>: <techInfo>"
            events.append({"at": item.at.isoformat(), "type": event_type, "tech_info": tech_info})
        return {"id": charge_point_id, "security_profile": view.security_profile, "connection": view.security,
                "certificate": view.certificate, "revoked": sorted(auth.revoked) if auth else [],
                "security_events": events}

    def check_command(self, charge_point_id: str, action: str, payload: dict[str, Any]) -> None:
        """Refuse (Conflict) a ChangeConfiguration that would move a charger below its profile floor:
        the platform never asks for a downgrade (Security Whitepaper ed. 2, 2.2)."""
        if action != "ChangeConfiguration" or payload.get("key") != "SecurityProfile":
            return
        try:
            wanted = int(str(payload.get("value")))
        except ValueError as exc:
            raise Invalid("SecurityProfile must be a number") from exc
        view = self.chargers.get(charge_point_id)
        if view is not None and wanted < view.security_profile:
            raise Conflict(f"{charge_point_id} is on security profile {view.security_profile}: never lowered")

    def revoke(self, who: Principal, charge_point_id: str, serial: str | None = None,
               sha256: str | None = None) -> dict[str, Any]:
        """Revoke by serial and/or SHA-256; neither: the charger's latest certificate (both keys).
        Takes effect at the next handshake (the open connection is not closed here)."""
        view = self._charger(who, charge_point_id)
        try:
            keys = [certs.revocation_key(kind, value) for kind, value in (("serial", serial), ("sha256", sha256))
                    if value]
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        if not keys:
            if not view.certificate:
                raise Invalid(f"{charge_point_id} has not connected with a certificate: give a serial or sha256")
            keys = [certs.revocation_key("serial", view.certificate["serial"]),
                    certs.revocation_key("sha256", view.certificate["sha256"])]
        if not self.chargers.revoke(charge_point_id, keys):
            raise NotFound(f"no charger {charge_point_id}")
        return self.security(who, charge_point_id)

    def raise_profile(self, who: Principal, charge_point_id: str, profile: int) -> dict[str, Any]:
        """Hold the charger to ``profile`` from its next handshake; never lowers (409)."""
        view = self._charger(who, charge_point_id)
        if profile not in certs.PROFILES:
            raise Invalid(f"security profile must be one of {list(certs.PROFILES)}")
        if profile < view.security_profile or not self.chargers.set_security_profile(charge_point_id, profile):
            raise Conflict(f"{charge_point_id} is on security profile {view.security_profile}: never lowered")
        return self.security(who, charge_point_id)
