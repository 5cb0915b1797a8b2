"""S3 buckets for firmware images and diagnostics uploads: private, encrypted, TLS-only; chargers
reach them only through time-limited pre-signed URLs (adapters/files.py)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from adapters.files import MAX_URL_AGE_S
from adapters.settings import ENV_DIAGNOSTICS_BUCKET, ENV_FIRMWARE_BUCKET


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
        # Pre-signed URLs expire: whatever ExpiresIn a URL was signed with, S3 refuses it once its
        # signature is older than MAX_URL_AGE_S (s3:signatureAge, milliseconds).
        for bucket in (self.firmware, self.diagnostics):
            bucket.add_to_resource_policy(iam.PolicyStatement(
                sid="PresignedUrlsExpire", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:PutObject"], resources=[bucket.arn_for_objects("*")],
                conditions={"NumericGreaterThan": {"s3:signatureAge": str(MAX_URL_AGE_S * 1000)}}))

    def grant_urls(self, functions: dict, access: dict) -> None:
        """Give each function exactly the object actions of ``access`` (function -> bucket -> actions)
        on the objects of these buckets, and the bucket names it needs."""
        buckets = {"firmware": (self.firmware, ENV_FIRMWARE_BUCKET), "diagnostics": (self.diagnostics, ENV_DIAGNOSTICS_BUCKET)}
        for name, grants in access.items():
            for kind, actions in grants.items():
                bucket, env = buckets[kind]
                functions[name].add_environment(env, bucket.bucket_name)
                functions[name].add_to_role_policy(iam.PolicyStatement(actions=list(actions),
                                                                       resources=[bucket.arn_for_objects("*")]))
