"""Plain data of the central system: what the domain reads and writes.

No AWS here: adapters turn these into DynamoDB items and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ChargerAuth:
    """What the authorizer needs to admit a charger."""

    charge_point_id: str
    password_hash: str
    enabled: bool = True
    legacy_handshake: bool = False  # operator's choice: admitted as OCPP 1.6 without (or with a variant of) the subprotocol
    pending_hash: str | None = None  # key rotation: the new key's hash, admitted too (csms.ocpp.rotation)
    security_profile: int = 2  # the floor: never admitted below it (csms.ocpp.certificates)
    revoked: frozenset[str] = frozenset()  # revoked certificates: "serial:<hex>", "sha256:<hex>"
    frame_log_until: datetime | None = None  # the frame log is on until then (issue 22, csms.ocpp.frame_log)


@dataclass(frozen=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@dataclass(frozen=True)
class ConnectorStatus:
    connector_id: int
    status: str
    error_code: str
    timestamp: datetime  # when the charger says the status began (or received time)
    received_at: datetime
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True)
class Reading:
    """One sampledValue, normalised: W, Wh, A, V (others kept as sent)."""

    measurand: str
    value: float
    unit: str
    phase: str | None = None
    context: str = "Sample.Periodic"
    location: str = "Outlet"


@dataclass(frozen=True)
class MeterSample:
    """All readings of one meterValue element (one timestamp)."""

    charge_point_id: str
    connector_id: int
    timestamp: datetime
    source: str  # "mv" (MeterValues), "start", "stop", "txdata"
    readings: tuple[Reading, ...] = ()
    transaction_id: int | None = None
    power_w: float | None = None  # import power, total over phases
    energy_wh: float | None = None  # Energy.Active.Import.Register, total
    received_at: datetime | None = None

    @property
    def context(self) -> str:
        return self.readings[0].context if self.readings else "Sample.Periodic"


@dataclass
class Session:
    charge_point_id: str
    transaction_id: int
    connector_id: int
    id_tag: str
    meter_start_wh: int
    started_at: datetime
    start_received_at: datetime
    reservation_id: int | None = None
    stopped_at: datetime | None = None
    stop_received_at: datetime | None = None
    meter_stop_wh: int | None = None
    stop_reason: str | None = None
    stop_id_tag: str | None = None
    energy_wh: float | None = None
    max_power_w: float | None = None
    flags: list[str] = field(default_factory=list)
    plan_hash: str | None = None

    @property
    def active(self) -> bool:
        return self.stopped_at is None


@dataclass(frozen=True)
class ReviewItem:
    """A message kept for a human to look at (data problem, never an error to the charger)."""

    charge_point_id: str
    kind: str
    detail: str
    at: datetime
    action: str | None = None
    transaction_id: int | None = None
    raw: str | None = None
    unique_id: str | None = None  # the OCPP message id of the frame kept


@dataclass(frozen=True)
class ChargerView:
    """What the app and the operator see of one charger."""

    charge_point_id: str
    online: bool
    connection_id: str | None
    last_seen: datetime | None
    boot: BootInfo | None
    connectors: tuple[ConnectorStatus, ...] = ()
    firmware_status: str | None = None
    diagnostics_status: str | None = None
    driver: str | None = None  # the driver account the charger is linked to (the app's user)
    security_profile: int = 2  # OCPP security profile the charger is held to (2 Basic auth, 3 certificate)
    security: dict | None = None  # the latest connection: method, tls_version, tls_cipher, at
    certificate: dict | None = None  # the latest client certificate: subject, issuer, serial, sha256, not_after


@dataclass(frozen=True)
class Preference:
    """The driver's wish for the vehicle on a charger: leave at ``departure`` (UTC; None: 8 h after
    plug-in) with ``energy_kwh`` (kWh; None: the platform's default), or ``charge_now`` at full power;
    ``carbon_price`` is the driver's own carbon price (GBP/t CO2; None: the platform's)."""

    departure: datetime | None = None
    energy_kwh: float | None = None
    charge_now: bool = False
    carbon_price: float | None = None
