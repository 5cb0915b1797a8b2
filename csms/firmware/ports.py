"""What firmware management needs from outside, typed. Implemented by ``adapters.dynamo.firmware``
(storage), ``adapters.files`` / ``adapters.local_files`` (files and pre-signed URLs), the
charger repository (``csms.ocpp.ports.ChargerRepository.get``), the session repository (``active``)
and ``csms.ocpp.commands.Commander`` (``update_firmware``, ``get_diagnostics``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from csms.firmware.model import Campaign, DiagnosticsRequest, FirmwareImage, StoredFile, Target, UploadTarget


class FirmwareStore(Protocol):
    """Images, campaigns, targets and their work queues. Every method is a bounded number of
    requests or one query on one key: no scans (docs/firmware.md lists the cost of each)."""

    # images
    def put_image(self, image: FirmwareImage) -> None: ...

    def get_image(self, image_id: str) -> FirmwareImage | None: ...

    def images(self) -> list[FirmwareImage]: ...

    # the fleet by model (written on every BootNotification)
    def index_charger(self, vendor: str, model: str, charge_point_id: str, firmware_version: str | None,
                      at: datetime) -> None: ...

    def chargers_of(self, vendor: str, model: str) -> list[tuple[str, str | None]]:
        """(charge point id, firmware version at its last boot) of every charger that booted as this model."""

    # campaigns
    def create_campaign(self, campaign: Campaign, targets: list[Target]) -> None:
        """Store the campaign, its targets and their wave queue entries; mark it active."""

    def get_campaign(self, campaign_id: str) -> Campaign | None: ...

    def campaigns(self) -> list[Campaign]: ...

    def save_campaign(self, campaign: Campaign) -> bool:
        """Store if nobody changed it since it was read (``campaign.version``); False otherwise."""

    def count_failure(self, campaign_id: str, wave: int) -> int:
        """Add one failure to ``wave`` atomically; the new count."""

    def reset_failures(self, campaign_id: str, wave: int) -> None: ...

    def active_campaigns(self) -> list[str]:
        """Campaigns with work left (running or halted with chargers in flight)."""

    def set_active(self, campaign_id: str, active: bool) -> None: ...

    # targets
    def get_target(self, campaign_id: str, charge_point_id: str) -> Target | None: ...

    def save_target(self, target: Target) -> bool:
        """Store if nobody changed it since it was read (``target.version``); False otherwise."""

    def targets(self, campaign_id: str) -> list[Target]: ...

    # the wave queue: chargers waiting in a wave, each due at a time
    def schedule(self, campaign_id: str, wave: int, charge_point_id: str, due: datetime | None) -> None: ...

    def unschedule(self, campaign_id: str, wave: int, charge_point_id: str, due: datetime | None) -> None: ...

    def due(self, campaign_id: str, wave: int, now: datetime, limit: int) -> list[tuple[datetime | None, str]]: ...

    def waiting(self, campaign_id: str, wave: int) -> bool:
        """True while any charger of ``wave`` is still queued (due or not)."""

    # silence deadlines of chargers in flight
    def arm(self, campaign_id: str, charge_point_id: str, deadline: datetime) -> None: ...

    def disarm(self, campaign_id: str, charge_point_id: str, deadline: datetime) -> None: ...

    def expired(self, campaign_id: str, now: datetime) -> list[tuple[datetime, str]]: ...

    def in_flight(self, campaign_id: str) -> int: ...

    # which campaign / diagnostics request a charger is in (one read per notification)
    def set_current(self, charge_point_id: str, kind: str, value: str) -> None: ...

    def current(self, charge_point_id: str, kind: str) -> str | None: ...

    # diagnostics
    def put_diagnostics(self, request: DiagnosticsRequest) -> None: ...

    def get_diagnostics(self, charge_point_id: str, request_id: str) -> DiagnosticsRequest | None: ...

    def diagnostics(self, charge_point_id: str) -> list[DiagnosticsRequest]: ...


class FileStore(Protocol):
    """Firmware images and diagnostics files behind time-limited URLs (S3 pre-signed URLs in AWS;
    HMAC-signed, expiring links to the local platform's HTTPS port locally)."""

    def image_upload(self, key: str, size_bytes: int, sha256: str, expires_s: int) -> UploadTarget: ...

    def image_info(self, key: str) -> StoredFile | None: ...

    def firmware_url(self, key: str, expires_s: int) -> str: ...

    def diagnostics_upload_url(self, key: str, expires_s: int) -> str: ...

    def diagnostics_info(self, key: str) -> StoredFile | None: ...

    def diagnostics_download_url(self, key: str, expires_s: int) -> str: ...


class Sender(Protocol):
    """The outbound call queue (``csms.ocpp.commands.Commander``)."""

    def update_firmware(self, charge_point_id: str, location: str, retrieve_at: datetime, *, retries: int = 3,
                        retry_interval_s: int = 300, campaign: str | None = None) -> Any: ...

    def signed_update_firmware(self, charge_point_id: str, location: str, retrieve_at: datetime,
                               signing_certificate: str, signature: str, *, retries: int = 3,
                               retry_interval_s: int = 300, campaign: str | None = None) -> Any: ...

    def get_diagnostics(self, charge_point_id: str, location: str, *, start: datetime | None = None,
                        stop: datetime | None = None) -> Any: ...


class Fleet(Protocol):
    """``get`` of the charger repository (a ``csms.model.ChargerView``: ``online``, ``boot``)."""

    def get(self, charge_point_id: str) -> Any: ...


class Transactions(Protocol):
    """``active`` of the session repository: the charger's open transactions."""

    def active(self, charge_point_id: str) -> list: ...


class FirmwareSigner(Protocol):
    """The firmware-signing key (``csms.firmware.signing``): a key file in the local state dir, or a
    KMS key in AWS (``adapters.firmware_signer``)."""

    def sign(self, sha256: bytes) -> tuple[str, str]:
        """``(signature, signing certificate)`` for the image whose SHA-256 digest is ``sha256`` (32
        bytes): the ECDSA P-256 / SHA-256 signature, DER, base64, and the signing certificate, PEM."""
