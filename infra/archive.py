"""The meter samples' archive: the meter table's stream (new images) feeds the Archive function,
which writes gzip JSON lines straight into Glacier Deep Archive in a private bucket; the table's TTL
(13 months) then deletes only what is already archived."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy  # noqa: F401 (Duration: the event source's batching window)
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct

from handlers.archive import ENV_ARCHIVE_BUCKET


class MeterArchive(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, table, function: lambda_.Function, access_logs) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self, "Bucket", removal_policy=RemovalPolicy.RETAIN, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs, server_access_logs_prefix="archive/")
        self.bucket.grant_put(function)
        function.add_environment(ENV_ARCHIVE_BUCKET, self.bucket.bucket_name)
        # new samples only (TTL deletions and overwrites are not archived again); big batches, so a
        # month of one charger's samples is a handful of objects
        function.add_event_source(sources.DynamoEventSource(
            table, starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=10_000,
            max_batching_window=Duration.minutes(5), retry_attempts=10, bisect_batch_on_error=True,
            filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})]))
