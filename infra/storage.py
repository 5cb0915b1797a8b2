"""S3 buckets for firmware images and diagnostics uploads: private, encrypted, TLS-only; chargers
reach them only through time-limited pre-signed URLs (adapters/files.py)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct


class Files(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        common = dict(
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        )
        self.access_logs = s3.Bucket(self, "AccessLogs", removal_policy=RemovalPolicy.RETAIN,
                                     lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
                                     **common)  # ACLs off: S3 log delivery is granted by bucket policy
        self.firmware = s3.Bucket(self, "Firmware", versioned=True, removal_policy=RemovalPolicy.RETAIN,
                                  server_access_logs_bucket=self.access_logs, server_access_logs_prefix="firmware/",
                                  **common)
        self.diagnostics = s3.Bucket(self, "Diagnostics", removal_policy=RemovalPolicy.RETAIN,
                                     server_access_logs_bucket=self.access_logs, server_access_logs_prefix="diagnostics/",
                                     lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))], **common)
