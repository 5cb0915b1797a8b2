"""Firmware images and diagnostics uploads in S3, handed to chargers as time-limited URLs."""

from __future__ import annotations

from datetime import datetime, timezone

import boto3


class S3Files:
    def __init__(self, firmware_bucket: str, diagnostics_bucket: str, region: str, endpoint_url: str | None = None):
        self.firmware_bucket = firmware_bucket
        self.diagnostics_bucket = diagnostics_bucket
        self._s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint_url)

    def firmware_url(self, key: str, expires_s: int = 24 * 3600) -> str:
        """A pre-signed GET for a firmware image (chargers retry downloads for hours: a day by default)."""
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.firmware_bucket, "Key": key}, ExpiresIn=expires_s
        )

    def diagnostics_upload_url(self, charge_point_id: str, expires_s: int = 24 * 3600) -> str:
        """A pre-signed PUT for a charger's diagnostics upload (HTTP PUT; chargers that only
        speak FTP need an FTP location instead)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.diagnostics_bucket, "Key": f"{charge_point_id}/{stamp}.zip"},
            ExpiresIn=expires_s,
        )
