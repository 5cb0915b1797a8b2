"""Plain data of firmware management.

States of one charger in a campaign (``Target.state``): the OCPP 1.6 FirmwareStatusNotification
statuses (OCPP 1.6 edition 2, section 6.27: Downloading, Downloaded, Installing, Installed,
DownloadFailed, InstallationFailed; ``Idle`` changes nothing) plus the platform's own:
``Scheduled`` (waiting for its wave, the maintenance window, a free slot, the end of a
transaction), ``Sent`` (UpdateFirmware queued or sent), ``Verified`` (the proof: the next
BootNotification's firmwareVersion equals the image's version), ``TimedOut`` (silent for longer
than the campaign's silence timeout), ``VersionMismatch`` (said Installed, then booted with another
version) and ``Skipped`` (deleted, or no longer the image's model when its turn came).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SCHEDULED = "Scheduled"
SENT = "Sent"
DOWNLOADING = "Downloading"
DOWNLOADED = "Downloaded"
INSTALLING = "Installing"
INSTALLED = "Installed"  # the charger says so; Verified once it boots with the new version
VERIFIED = "Verified"
DOWNLOAD_FAILED = "DownloadFailed"
INSTALLATION_FAILED = "InstallationFailed"
TIMED_OUT = "TimedOut"
VERSION_MISMATCH = "VersionMismatch"
INVALID_SIGNATURE = "InvalidSignature"  # SignedFirmwareStatusNotification: the charger refused the image
SKIPPED = "Skipped"

IN_FLIGHT = frozenset({SENT, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED})
FAILED = frozenset({DOWNLOAD_FAILED, INSTALLATION_FAILED, TIMED_OUT, VERSION_MISMATCH, INVALID_SIGNATURE})
DONE = FAILED | {VERIFIED, SKIPPED}
STATES = (SCHEDULED, SENT, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, VERIFIED, DOWNLOAD_FAILED,
          INSTALLATION_FAILED, TIMED_OUT, VERSION_MISMATCH, INVALID_SIGNATURE, SKIPPED)
# FirmwareStatusNotification / SignedFirmwareStatusNotification status -> target state (any other:
# Idle, SignatureVerified, DownloadScheduled, DownloadPaused, InstallScheduled, InstallRebooting: alive,
# no change)
REPORTED = {s: s for s in (DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, DOWNLOAD_FAILED, INSTALLATION_FAILED,
                           INVALID_SIGNATURE)} | {"InstallVerificationFailed": INSTALLATION_FAILED}

# Campaign states
RUNNING = "running"
HALTED = "halted"  # failures in a wave exceeded the threshold: nothing more is sent until a retry
COMPLETED = "completed"
CANCELLED = "cancelled"

AWAITING_UPLOAD = "awaiting_upload"
READY = "ready"


@dataclass(frozen=True)
class FirmwareImage:
    """One firmware image for one charger model. ``sha256`` is hex (64 chars), ``size_bytes`` the
    exact length; ``key`` names the object in the firmware store. ``signature`` (base64) and
    ``signing_certificate`` (PEM) are kept for SignedUpdateFirmware (OCPP 1.6 security whitepaper)."""

    image_id: str
    vendor: str
    model: str
    version: str
    size_bytes: int
    sha256: str
    key: str
    created_at: datetime
    status: str = AWAITING_UPLOAD
    signature: str | None = None
    signing_certificate: str | None = None


@dataclass(frozen=True)
class Window:
    """A daily maintenance window in local time (``timezone``: IANA name; the site's when sites
    exist, UTC by default). ``start == end`` means all day; ``end < start`` wraps past midnight."""

    start: time
    end: time
    timezone: str = "UTC"

    @classmethod
    def parse(cls, start: str, end: str, timezone: str = "UTC") -> "Window":
        """``"HH:MM"`` times. Raises ValueError with a message a user can act on."""
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {timezone!r} (an IANA name such as Europe/London)") from exc
        try:
            return cls(time.fromisoformat(start), time.fromisoformat(end), timezone)
        except ValueError as exc:
            raise ValueError(f"window times must be HH:MM, got {start!r}-{end!r}") from exc

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone)).time()
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, at: datetime) -> datetime:
        """The next time at or after ``at`` when the window is open (minute resolution)."""
        probe = at
        for _ in range(24 * 60 + 1):
            if self.is_open(probe):
                return probe
            probe += timedelta(minutes=1)
        return at


@dataclass(frozen=True)
class Campaign:
    """A staged roll-out of one image per model. ``wave_sizes`` are charger counts (from the
    percentages asked for; the last wave is the rest), ``wave`` the current one (1-based),
    ``failure_threshold_percent`` halts the campaign when a wave's failures exceed that share of
    the wave, ``silence_timeout_s`` fails a charger that reports nothing for that long,
    ``url_ttl_s`` is the life of each pre-signed download URL."""

    campaign_id: str
    name: str
    image_ids: tuple[str, ...]
    wave_sizes: tuple[int, ...]
    max_in_flight: int
    failure_threshold_percent: float
    silence_timeout_s: int
    url_ttl_s: int
    created_at: datetime
    window: Window | None = None
    force: bool = False
    status: str = RUNNING
    wave: int = 1
    halted_reason: str | None = None
    version: int = 0  # optimistic-locking counter of the stored item

    def with_(self, **changes) -> "Campaign":
        return replace(self, **changes)


@dataclass(frozen=True)
class Target:
    """One charger in a campaign."""

    campaign_id: str
    charge_point_id: str
    wave: int
    image_id: str
    target_version: str
    state: str = SCHEDULED
    from_version: str | None = None
    sent_at: datetime | None = None
    heard_at: datetime | None = None  # last FirmwareStatusNotification / BootNotification
    deadline: datetime | None = None  # the armed silence deadline while in flight
    url_expires_at: datetime | None = None
    attempts: int = 0
    detail: str | None = None
    history: tuple[str, ...] = ()  # "<ISO time> <state>", oldest first
    version: int = 0  # optimistic-locking counter of the stored item

    def moved(self, state: str, at: datetime, **changes) -> "Target":
        from csms.timeutil import iso

        return replace(self, state=state, history=self.history + (f"{iso(at)} {state}",), **changes)


@dataclass(frozen=True)
class UploadTarget:
    """Where and how to upload a file: ``method`` to ``url`` with exactly ``headers``."""

    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class StoredFile:
    size_bytes: int
    sha256: str | None  # hex; None when the store has no checksum for it


@dataclass(frozen=True)
class DiagnosticsRequest:
    """One GetDiagnostics: ``status`` is Requested, then the DiagnosticsStatusNotification
    statuses (Uploading, Uploaded, UploadFailed; Idle changes nothing)."""

    charge_point_id: str
    request_id: str
    key: str
    requested_at: datetime
    status: str = "Requested"
    status_at: datetime | None = None
    command_id: str | None = None
    file_name: str | None = None
    size_bytes: int | None = None
