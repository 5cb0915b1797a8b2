"""Firmware management an operator can use: images, staged campaigns, tracking, diagnostics.

- ``model``: plain data (images, campaigns, per-charger targets, diagnostics requests) and the
  per-charger states (OCPP 1.6 FirmwareStatusNotification statuses plus the platform's own).
- ``ports``: what the capability needs from storage, files (pre-signed URLs), the fleet and the
  outbound call queue; implemented by ``adapters.dynamo.firmware``, ``adapters.files`` (S3) and
  ``adapters.local_files`` (the local platform's HTTPS port).
- ``campaigns``: upload and verify images, create campaigns, advance them (periodic job and
  every FirmwareStatusNotification / BootNotification), retry, progress.
- ``diagnostics``: GetDiagnostics with an upload target, DiagnosticsStatusNotification tracking,
  listing and download links.

No AWS imports here (tests/unit/test_architecture.py). The flow is documented in docs/firmware.md.
"""
