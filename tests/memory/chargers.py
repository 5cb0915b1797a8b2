"""In-memory charger store and driver links (``csms.ocpp.ports`` charger roles, ``csms.views.ports``)."""

from __future__ import annotations

import builtins
from datetime import datetime, timezone
from typing import Iterable

from csms.model import BootInfo, ChargerAuth, ChargerView, Preference
from csms.ocpp.certificates import ConnectionSecurity, security_record
from csms.ocpp.ports import AlreadyExists, SetupClaim
from csms.views.driver_links import LinkPeriod

from tests.memory.stores import page_of


class MemoryChargers:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def register(self, charge_point_id: str, password_hash: str, at: datetime) -> None:
        if charge_point_id in self.items:
            raise AlreadyExists(charge_point_id)
        self.items[charge_point_id] = {"hash": password_hash, "enabled": True, "online": False,
                                       "connection_id": None, "last_seen": None, "boot": None, "boot_at": None,
                                       "firmware_status": None, "diagnostics_status": None, "driver": None,
                                       "setup_connection_id": None, "capabilities": {}, "preference": Preference(),
                                       "firmware_history": []}

    def set_password_hash(self, charge_point_id: str, password_hash: str) -> bool:
        if charge_point_id not in self.items:
            return False
        self.items[charge_point_id]["hash"] = password_hash
        return True

    def delete(self, charge_point_id: str) -> bool:
        return self.items.pop(charge_point_id, None) is not None

    def get_auth(self, charge_point_id: str) -> ChargerAuth | None:
        item = self.items.get(charge_point_id)
        if not item:
            return None
        return ChargerAuth(charge_point_id, item["hash"], item["enabled"], bool(item.get("legacy_handshake")),
                           item.get("pending_hash"), item.get("security_profile", 2),
                           frozenset(item.get("revoked", ())))

    def set_legacy_handshake(self, charge_point_id: str, legacy: bool) -> bool:
        item = self.items.get(charge_point_id)
        if item is None:
            return False
        item["legacy_handshake"] = legacy
        return True

    def connect(self, charge_point_id: str, connection_id: str, at: datetime,
                security: ConnectionSecurity | None = None) -> bool:
        item = self.items.get(charge_point_id)
        if item is None:
            return False
        item.update(connection_id=connection_id, online=True, last_seen=at)
        if security is not None:
            item["security"], certificate = security_record(security, at)
            if certificate is not None:
                item.update(certificate=certificate, security_profile=security.profile)
        return True

    def set_security_profile(self, charge_point_id: str, profile: int) -> bool:
        item = self.items.get(charge_point_id)
        if item is None or item.get("security_profile", 2) > profile:
            return False
        item["security_profile"] = profile
        return True

    def revoke(self, charge_point_id: str, keys: Iterable[str]) -> bool:
        item = self.items.get(charge_point_id)
        if item is None:
            return False
        item["revoked"] = set(item.get("revoked", ())) | set(keys)
        return True

    def disconnect(self, charge_point_id: str, connection_id: str, at: datetime) -> bool:
        item = self.items.get(charge_point_id)
        if item is None or item["connection_id"] != connection_id:
            return False
        item.update(online=False, connection_id=None)
        return True

    def record_boot(self, charge_point_id: str, boot: BootInfo, at: datetime) -> dict[str, str] | None:
        if charge_point_id in self.items:
            self.items[charge_point_id].update(boot=boot, boot_at=at, last_seen=at)
            return dict(self.items[charge_point_id]["capabilities"])
        return None

    def touch(self, charge_point_id: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["last_seen"] = at

    def record_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["firmware_status"] = status
            self.items[charge_point_id]["firmware_history"].append(f"{at.isoformat()} {status}")

    def record_diagnostics_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["diagnostics_status"] = status

    def get(self, charge_point_id: str) -> ChargerView | None:
        item = self.items.get(charge_point_id)
        if item is None:
            return None
        return ChargerView(charge_point_id, item["online"], item["connection_id"], item["last_seen"], item["boot"],
                           (), item["firmware_status"], item["diagnostics_status"], item["driver"],
                           security_profile=item.get("security_profile", 2), security=item.get("security"),
                           certificate=item.get("certificate"))

    # ChargerLink: what the outbound call queue needs
    def connection(self, charge_point_id: str) -> tuple[str | None, str | None, datetime | None]:
        item = self.items.get(charge_point_id)
        if item is None:
            return None, None, None
        return (item["connection_id"] if item["online"] else None), item["setup_connection_id"], item["boot_at"]

    def mark_setup(self, charge_point_id: str, connection_id: str) -> bool:
        item = self.items.get(charge_point_id)
        if item is None or item["setup_connection_id"] == connection_id:
            return False
        item["setup_connection_id"] = connection_id
        return True

    def mark_stale(self, charge_point_id: str, connection_id: str) -> None:
        item = self.items.get(charge_point_id)
        if item is not None and item["connection_id"] == connection_id:
            item.update(online=False, connection_id=None)

    def claim_setup(self, charge_point_id: str, connection_id: str) -> SetupClaim | None:
        item = self.items.get(charge_point_id)
        if item is None or not item["online"] or item["connection_id"] != connection_id:
            return None
        pending = item.get("setup_pump") == connection_id  # set-up calls a BootNotification queued, to send
        if item["setup_connection_id"] == connection_id and not pending:
            return None
        item["setup_connection_id"] = connection_id
        item["setup_pump"] = None
        return SetupClaim(pending, item["boot_at"], item.get("setup_version"))

    def boot_setup(self, charge_point_id: str, connection_id: str, version: str) -> str | None:
        item = self.items.get(charge_point_id)
        if item is None:
            return None
        old = item.get("setup_version")
        item["setup_connection_id"] = connection_id
        if old != version:
            item.update(setup_version=version, setup_pump=connection_id)
        return old

    def record_capabilities(self, charge_point_id: str, values: dict[str, str]) -> None:
        if charge_point_id in self.items:
            self.items[charge_point_id]["capabilities"].update({k: str(v)[:500] for k, v in values.items()})

    def capabilities(self, charge_point_id: str) -> dict[str, str]:
        item = self.items.get(charge_point_id)
        return dict(item["capabilities"]) if item else {}

    # ChargerDirectory: what operators and drivers arrange
    def of_driver(self, driver: str) -> list[ChargerView]:
        return [v for v in self.list() if v.driver == driver]

    def set_driver(self, charge_point_id: str, driver: str | None) -> bool:
        if charge_point_id not in self.items:
            return False
        self.items[charge_point_id]["driver"] = driver
        return True

    def preference(self, charge_point_id: str) -> Preference:
        item = self.items.get(charge_point_id)
        return item["preference"] if item else Preference()

    def set_preference(self, charge_point_id: str, departure: datetime | None, energy_kwh: float | None,
                       charge_now: bool = False, carbon_price: float | None = None) -> bool:
        if charge_point_id not in self.items:
            return False
        self.items[charge_point_id]["preference"] = Preference(departure, energy_kwh, charge_now, carbon_price)
        return True

    def firmware_history(self, charge_point_id: str) -> list[str]:
        item = self.items.get(charge_point_id)
        return list(item["firmware_history"]) if item else []

    def count_online(self) -> int:
        return sum(1 for item in self.items.values() if item["online"])

    def list(self) -> list[ChargerView]:
        return [v for v in (self.get(cp) for cp in sorted(self.items)) if v is not None]

    def page(self, limit: int, cursor: str | None = None) -> tuple[builtins.list[ChargerView], str | None]:
        return page_of(self.list(), lambda v: v.charge_point_id, limit, cursor)

    def page_of_driver(self, driver: str, limit: int, cursor: str | None = None) -> tuple[builtins.list[ChargerView], str | None]:
        return page_of(self.of_driver(driver), lambda v: v.charge_point_id, limit, cursor)


class MemoryDriverLinks:
    """Driver links as periods (``csms.views.driver_links``) over ``MemoryChargers``' ``driver``."""

    def __init__(self, chargers: MemoryChargers) -> None:
        self.chargers = chargers
        self.closed: dict[str, builtins.list[LinkPeriod]] = {}
        self.since: dict[str, datetime] = {}

    def link(self, charge_point_id: str, driver: str | None, at: datetime) -> bool:
        item = self.chargers.items.get(charge_point_id)
        if item is None:
            return False
        current = item.get("driver")
        if current is not None and current != driver:
            self.closed.setdefault(charge_point_id, []).append(
                LinkPeriod(current, self.since.get(charge_point_id, at), at))
        if driver is not None and driver != current:
            self.since[charge_point_id] = at
        return self.chargers.set_driver(charge_point_id, driver)

    def periods(self, charge_point_id: str) -> builtins.list[LinkPeriod]:
        out = builtins.list(self.closed.get(charge_point_id, []))
        driver = (self.chargers.items.get(charge_point_id) or {}).get("driver")
        if driver is not None:
            out.append(LinkPeriod(driver, self.since.get(charge_point_id, datetime.min.replace(tzinfo=timezone.utc))))
        return out
