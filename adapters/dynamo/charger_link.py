"""The charger item as the outbound call queue needs it (``csms.ocpp.ports.ChargerLink``): the current
connection, and the claim of a young connection's set-up calls."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist, UpdateError

from adapters.dynamo.items import ChargerItemStore, conditional_failed
from adapters.dynamo.models import ChargerModel
from csms.ocpp.ports import SetupClaim


class ChargerLinkStore(ChargerItemStore):
    """Connection and set-up state on the charger item."""

    def connection(self, charge_point_id: str) -> tuple[str | None, str | None, datetime | None]:
        try:
            item = ChargerModel.get(
                charge_point_id,
                consistent_read=True,
                attributes_to_get=["connection_id", "setup_connection_id", "boot_at", "online"],
            )
        except DoesNotExist:
            return None, None, None
        current = item.connection_id if item.online else None
        return current, item.setup_connection_id, item.boot_at

    def mark_setup(self, charge_point_id: str, connection_id: str) -> bool:
        return self._update(
            charge_point_id,
            [ChargerModel.setup_connection_id.set(connection_id)],
            condition=ChargerModel.setup_connection_id.does_not_exist()
            | (ChargerModel.setup_connection_id != connection_id),
        )

    def mark_stale(self, charge_point_id: str, connection_id: str) -> None:
        self._update(
            charge_point_id,
            [ChargerModel.online.set(False), ChargerModel.connection_id.remove(),
             ChargerModel.online_shard.remove(), ChargerModel.close_at.remove()],
            condition=ChargerModel.connection_id == connection_id,
        )

    def claim_setup(self, charge_point_id: str, connection_id: str) -> SetupClaim | None:
        """``csms.ocpp.ports.ChargerLink.claim_setup``: an eventually consistent GetItem of three
        attributes (0.5 read unit: the messages after the first of a young connection stop here), then
        one conditional UpdateItem returning the old item (ALL_OLD): the claim and the read of boot
        time and configuration version in one request. A failed conditional write would cost a whole
        write unit, ten times the read."""
        try:
            seen = ChargerModel.get(charge_point_id, attributes_to_get=["connection_id", "setup_connection_id", "setup_pump"])
        except DoesNotExist:
            return None
        if seen.connection_id != connection_id or (seen.setup_connection_id == connection_id
                                                   and seen.setup_pump != connection_id):
            return None
        current = ChargerModel.connection_id == connection_id
        not_yet = (ChargerModel.setup_connection_id.does_not_exist() | (ChargerModel.setup_connection_id != connection_id)
                   | (ChargerModel.setup_pump == connection_id))
        try:
            data = ChargerModel._get_connection().update_item(
                charge_point_id, actions=[ChargerModel.setup_connection_id.set(connection_id), ChargerModel.setup_pump.remove()],
                condition=current & not_yet, return_values="ALL_OLD")
        except UpdateError as exc:
            if conditional_failed(exc):
                return None
            raise
        old = ChargerModel.from_raw_data(data["Attributes"])
        return SetupClaim(old.setup_pump == connection_id, old.boot_at, old.setup_version)

    def boot_setup(self, charge_point_id: str, connection_id: str, version: str) -> str | None:
        """``csms.ocpp.ports.ChargerLink.boot_setup``: one UpdateItem when the configuration changed
        (the set-up calls are then sent by the next message), two when it is current."""
        changed = ChargerModel.setup_version.does_not_exist() | (ChargerModel.setup_version != version)
        if self._update(charge_point_id, [ChargerModel.setup_connection_id.set(connection_id),
                                          ChargerModel.setup_version.set(version),
                                          ChargerModel.setup_pump.set(connection_id)], condition=changed):
            return None
        self._update(charge_point_id, [ChargerModel.setup_connection_id.set(connection_id)])
        return version
