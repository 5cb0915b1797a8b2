"""The charger store (``csms.ocpp.ports.ChargerRepository`` and the views' ``ChargerDirectory``):
credentials, presence (connection, boot, liveness, firmware), security, driver and preference writes.
Its reads are in ``charger_reads.py``, the call queue's link in ``charger_link.py``.

Every write is one conditional UpdateItem on an existing charger (see docs and the request-count test).
Call :func:`adapters.dynamo.models.bind` before using it."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import size

from adapters.dynamo import indexes
from adapters.dynamo.charger_link import ChargerLinkStore
from adapters.dynamo.charger_reads import ChargerReads
from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import ChargerModel
from csms.model import BootInfo, ChargerAuth
from csms.ocpp.connection_age import close_at as connection_close_at
from csms.ocpp.ports import AlreadyExists
from csms.timeutil import iso

FIRMWARE_HISTORY_MAX = 50  # entries kept on the charger item (the oldest half is dropped when full)


class DynamoChargers(ChargerReads, ChargerLinkStore):
    def register(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        item = ChargerModel(
            charge_point_id, password_hash=password_hash, created_at=at, enabled=True, online=False, capabilities={},
            fleet=indexes.FLEET,
        )
        try:
            item.save(condition=ChargerModel.charge_point_id.does_not_exist())
        except PutError as exc:
            if conditional_failed(exc):
                raise AlreadyExists(charge_point_id) from exc
            raise

    def set_password_hash(self, charge_point_id: str, password_hash: str) -> bool:
        return self._update(charge_point_id, [ChargerModel.password_hash.set(password_hash)])

    def delete(self, charge_point_id: str) -> bool:
        try:
            ChargerModel(charge_point_id).delete(condition=ChargerModel.charge_point_id.exists())
            return True
        except Exception as exc:  # DeleteError
            if conditional_failed(exc):
                return False
            raise

    def get_auth(self, charge_point_id: str) -> ChargerAuth | None:
        try:
            item = ChargerModel.get(
                charge_point_id,
                attributes_to_get=["charge_point_id", "password_hash", "enabled", "legacy_handshake",
                                   "pending_password_hash", "security_profile", "revoked_certs", "frame_log_until"],
            )
        except DoesNotExist:
            return None
        return ChargerAuth(item.charge_point_id, item.password_hash, item.enabled is not False,
                           bool(item.legacy_handshake), item.pending_password_hash,
                           int(item.security_profile or 2), frozenset(item.revoked_certs or ()), item.frame_log_until)

    def set_legacy_handshake(self, charge_point_id: str, legacy: bool) -> bool:
        """Admit (or stop admitting) the charger as OCPP 1.6 when it offers no subprotocol or a variant
        spelling. False when the charger does not exist."""
        action = ChargerModel.legacy_handshake.set(True) if legacy else ChargerModel.legacy_handshake.remove()
        return self._update(charge_point_id, [action])
    def connect(self, charge_point_id: str, connection_id: str, at: datetime, security=None) -> bool:
        """``security`` (csms.ocpp.certificates.ConnectionSecurity) is recorded in the same UpdateItem;
        a certificate connection raises the charger's profile floor to 3."""
        from csms.ocpp.certificates import security_record

        actions = [
            ChargerModel.connection_id.set(connection_id),
            ChargerModel.online.set(True),
            ChargerModel.connected_at.set(at),
            ChargerModel.last_seen.set(at),
            # online-index: counted by the gauge; closed by the sweeper at close_at (storm spreading)
            ChargerModel.online_shard.set(indexes.shard_of(charge_point_id)),
            ChargerModel.close_at.set(iso(connection_close_at(at))),
        ]
        if security is not None:
            record, certificate = security_record(security, at)
            actions.append(ChargerModel.security.set(record))
            if certificate is not None:
                actions += [ChargerModel.certificate.set(certificate), ChargerModel.security_profile.set(security.profile)]
        return self._update(charge_point_id, actions)

    def set_security_profile(self, charge_point_id: str, profile: int) -> bool:
        """Raise the charger's profile floor; False when unknown or already higher (never lowers)."""
        floor = ChargerModel.security_profile.does_not_exist() | (ChargerModel.security_profile <= profile)
        return self._update(charge_point_id, [ChargerModel.security_profile.set(profile)], condition=floor)

    def revoke(self, charge_point_id: str, keys: Iterable[str]) -> bool:
        """Add ``serial:``/``sha256:`` entries to the charger's revocation list (one UpdateItem)."""
        return self._update(charge_point_id, [ChargerModel.revoked_certs.add(set(keys))])

    def disconnect(self, charge_point_id: str, connection_id: str, at: datetime) -> bool:
        # Only the current connection may mark the charger offline: a late
        # $disconnect of an old socket must not hide a charger that reconnected.
        return self._update(
            charge_point_id,
            [ChargerModel.online.set(False), ChargerModel.disconnected_at.set(at), ChargerModel.connection_id.remove(),
             ChargerModel.online_shard.remove(), ChargerModel.close_at.remove()],
            condition=ChargerModel.connection_id == connection_id,
        )

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> dict[str, str] | None:
        """One UpdateItem; its ALL_NEW answer carries the learnt capabilities at no extra cost."""
        data = {k: v for k, v in boot.__dict__.items() if v is not None}
        item = ChargerModel(charge_point_id)
        try:
            item.update(actions=[ChargerModel.boot.set(data), ChargerModel.boot_at.set(at), ChargerModel.last_seen.set(at)],
                        condition=ChargerModel.charge_point_id.exists())
        except UpdateError as exc:
            if conditional_failed(exc):
                return None
            raise
        caps = item.capabilities
        return dict(caps.as_dict() if hasattr(caps, "as_dict") else caps or {})

    def touch(self, charge_point_id: str, at: datetime) -> None:
        self._update(charge_point_id, [ChargerModel.last_seen.set(at)])

    def record_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        entry = f"{iso(at)} {status}"
        status_actions = [ChargerModel.firmware_status.set(status), ChargerModel.firmware_status_at.set(at)]
        # one UpdateItem still: the history is appended in the same write, while it has room
        room = ChargerModel.firmware_history.does_not_exist() | (size(ChargerModel.firmware_history) < FIRMWARE_HISTORY_MAX)
        if self._update(charge_point_id,
                        status_actions + [ChargerModel.firmware_history.set((ChargerModel.firmware_history | []).append([entry]))],
                        condition=room):
            return
        # Full (once every FIRMWARE_HISTORY_MAX / 2 statuses): keep the newer half and the new entry.
        kept = self.firmware_history(charge_point_id)[-(FIRMWARE_HISTORY_MAX // 2):]
        self._update(charge_point_id, status_actions + [ChargerModel.firmware_history.set(kept + [entry])])

    def record_diagnostics_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        self._update(
            charge_point_id, [ChargerModel.diagnostics_status.set(status), ChargerModel.diagnostics_status_at.set(at)]
        )
    def record_capabilities(self, charge_point_id: str, values: dict[str, str]) -> None:
        if not values:
            return
        self._update(charge_point_id, [ChargerModel.capabilities[k].set(str(v)[:500]) for k, v in values.items()])

    def set_preference(self, charge_point_id: str, departure: datetime | None, energy_kwh: float | None,
                       charge_now: bool = False, carbon_price: float | None = None) -> bool:
        value = {"charge_now": charge_now}
        if carbon_price is not None:
            value["carbon_price"] = float(carbon_price)
        if departure is not None:
            value["departure"] = iso(departure)
        if energy_kwh is not None:
            value["energy_kwh"] = float(energy_kwh)
        return self._update(charge_point_id, [ChargerModel.preference.set(value)])

    def set_driver(self, charge_point_id: str, driver: str | None) -> bool:
        action = ChargerModel.driver.set(driver) if driver else ChargerModel.driver.remove()
        return self._update(charge_point_id, [action])
