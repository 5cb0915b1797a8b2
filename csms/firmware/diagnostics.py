"""Diagnostics retrieval: GetDiagnostics with an upload target, DiagnosticsStatusNotification
tracked, the file listed with a short-lived download link.

OCPP 1.6 (section 5.9) names the upload ``location`` a directory; a pre-signed S3 URL is one
object, so the charger must upload with HTTP PUT (or POST of the raw file) to exactly the URL it
was given. Chargers that only speak FTP, or that append their file name to the location, need a
location of their own kind (docs/firmware.md).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Callable

from csms.firmware.model import DiagnosticsRequest
from csms.firmware.ports import FileStore, FirmwareStore, Fleet, Sender
from csms.operations import Invalid, NotFound
from csms.timeutil import utcnow

UPLOAD_URL_TTL_S = 3600
DOWNLOAD_URL_TTL_S = 900
STATUSES = ("Uploading", "Uploaded", "UploadFailed")  # DiagnosticsStatusNotification; Idle changes nothing


class Diagnostics:
    """Seams: ``store`` (FirmwareStore), ``files`` (FileStore), ``sender``, ``fleet``, ``clock``."""

    def __init__(self, *, store: FirmwareStore, files: FileStore | None, sender: Sender, fleet: Fleet,
                 clock: Callable[[], datetime] = utcnow, file_names: Callable[[str], str | None] | None = None):
        self.store, self.files, self.sender, self.fleet, self.clock = store, files, sender, fleet, clock
        self.file_names = file_names  # the file name the charger gave in its GetDiagnostics answer

    def _files(self) -> FileStore:
        from csms.firmware.campaigns import Unavailable

        if self.files is None:
            raise Unavailable("no diagnostics store is configured (DIAGNOSTICS_BUCKET in AWS; locally: start `csms local`)")
        return self.files

    def request(self, charge_point_id: str, start: datetime | None = None, stop: datetime | None = None) -> DiagnosticsRequest:
        """Queue GetDiagnostics with a pre-signed upload URL (``UPLOAD_URL_TTL_S``). Raises NotFound."""
        if self.fleet.get(charge_point_id) is None:
            raise NotFound(f"no charger {charge_point_id}")
        if start is not None and stop is not None and stop <= start:
            raise Invalid("stop must be after start")
        now = self.clock()
        request_id = uuid.uuid4().hex[:12]
        key = f"{charge_point_id}/{now.strftime('%Y%m%dT%H%M%SZ')}-{request_id}"
        url = self._files().diagnostics_upload_url(key, UPLOAD_URL_TTL_S)
        request = DiagnosticsRequest(charge_point_id, request_id, key, now)
        self.store.put_diagnostics(request)  # before the call: its status notifications find it
        self.store.set_current(charge_point_id, "diagnostics", request_id)
        call = self.sender.get_diagnostics(charge_point_id, url, start=start, stop=stop)
        request = replace(request, command_id=getattr(call, "unique_id", None))
        self.store.put_diagnostics(request)
        return request

    def on_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        """A DiagnosticsStatusNotification: update the current request (one read when there is none);
        on Uploaded, record the stored file's size (or UploadFailed-like ``Missing`` when nothing landed)."""
        request_id = self.store.current(charge_point_id, "diagnostics")
        if request_id is None or status not in STATUSES:
            return
        request = self.store.get_diagnostics(charge_point_id, request_id)
        if request is None:
            return
        size = None
        if status == "Uploaded" and self.files is not None:
            stored = self.files.diagnostics_info(request.key)
            if stored is None:
                status = "Missing"  # the charger says uploaded; nothing is in the store
            else:
                size = stored.size_bytes
        name = self.file_names(charge_point_id) if self.file_names is not None else None
        self.store.put_diagnostics(replace(request, status=status, status_at=at, size_bytes=size,
                                           file_name=name or request.file_name))

    def list(self, charge_point_id: str) -> list[tuple[DiagnosticsRequest, str | None]]:
        """Newest first, each with a download link (``DOWNLOAD_URL_TTL_S``) once the file is stored."""
        if self.fleet.get(charge_point_id) is None:
            raise NotFound(f"no charger {charge_point_id}")
        out = []
        for request in sorted(self.store.diagnostics(charge_point_id), key=lambda r: r.requested_at, reverse=True):
            link = None
            if request.status == "Uploaded" and self.files is not None:
                link = self.files.diagnostics_download_url(request.key, DOWNLOAD_URL_TTL_S)
            out.append((request, link))
        return out
