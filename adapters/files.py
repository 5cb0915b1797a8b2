"""Firmware images and diagnostics uploads in S3, handed out as time-limited pre-signed URLs
(``csms.firmware.ports.FileStore``).

The stack's bucket policy also refuses any request whose signature is older than
``MAX_URL_AGE_S`` (``s3:signatureAge``, infra/storage.py), so a URL cannot outlive that even if
it was signed for longer.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta, timezone

import boto3
from botocore.exceptions import ClientError

from csms.firmware.model import StoredFile, UploadTarget

MAX_URL_AGE_S = 6 * 3600  # csms.firmware.campaigns.MAX_URL_TTL_S: the bucket policy's limit


class S3Files:
    def __init__(self, firmware_bucket: str | None, diagnostics_bucket: str | None, region: str,
                 endpoint_url: str | None = None):
        self.firmware_bucket = firmware_bucket
        self.diagnostics_bucket = diagnostics_bucket
        self.region, self.endpoint_url = region, endpoint_url
        self._client = None

    @property
    def _s3(self):
        # made on first use: most invocations of a function that may hand out a URL never do
        if self._client is None:
            self._client = boto3.client("s3", region_name=self.region, endpoint_url=self.endpoint_url)
        return self._client

    def _presign(self, operation: str, bucket: str | None, key: str, expires_s: int, **params) -> str:
        if not bucket:
            raise RuntimeError(f"no bucket configured for {operation} {key}")
        return self._s3.generate_presigned_url(operation, Params={"Bucket": bucket, "Key": key, **params},
                                               ExpiresIn=min(int(expires_s), MAX_URL_AGE_S))

    def _info(self, bucket: str | None, key: str) -> StoredFile | None:
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        digest = head.get("ChecksumSHA256")
        try:
            sha = base64.b64decode(digest).hex() if digest and "-" not in digest else None
        except (binascii.Error, ValueError):
            sha = None
        return StoredFile(int(head["ContentLength"]), sha)

    # ------------------------------------------------------------ firmware
    def image_upload(self, key: str, size_bytes: int, sha256: str, expires_s: int) -> UploadTarget:
        """A pre-signed PUT that S3 accepts only with this length and SHA-256 (``x-amz-checksum-sha256``,
        which S3 verifies against the body and keeps for ``image_info``)."""
        digest = base64.b64encode(bytes.fromhex(sha256)).decode()
        url = self._presign("put_object", self.firmware_bucket, key, expires_s, ContentLength=size_bytes,
                            ChecksumSHA256=digest)
        return UploadTarget(url, "PUT", {"Content-Length": str(size_bytes), "x-amz-checksum-sha256": digest},
                            datetime.now(timezone.utc) + timedelta(seconds=expires_s))

    def image_info(self, key: str) -> StoredFile | None:
        return self._info(self.firmware_bucket, key)

    def firmware_url(self, key: str, expires_s: int = 3600) -> str:
        """A pre-signed GET for a firmware image (what UpdateFirmware's ``location`` carries)."""
        return self._presign("get_object", self.firmware_bucket, key, expires_s)

    # --------------------------------------------------------- diagnostics
    def diagnostics_upload_url(self, key: str, expires_s: int = 3600) -> str:
        """A pre-signed PUT for a charger's diagnostics upload (HTTP PUT; chargers that only
        speak FTP need an FTP location instead)."""
        return self._presign("put_object", self.diagnostics_bucket, key, expires_s)

    def diagnostics_info(self, key: str) -> StoredFile | None:
        return self._info(self.diagnostics_bucket, key)

    def diagnostics_download_url(self, key: str, expires_s: int = 900) -> str:
        return self._presign("get_object", self.diagnostics_bucket, key, expires_s)
