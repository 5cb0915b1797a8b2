"""The operator / driver web page (``web/``) as a static site: a private S3 bucket behind CloudFront
(origin access control), with ``config.js`` written at deploy time to point at the HTTP API and the
Cognito sign-in page."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as deployment
from constructs import Construct

WEB = Path(__file__).resolve().parent.parent / "web"


class WebSite(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, access_logs: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self, "Pages", block_public_access=s3.BlockPublicAccess.BLOCK_ALL, encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True, object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            server_access_logs_bucket=access_logs, server_access_logs_prefix="web/",
        )
        self.distribution = cloudfront.Distribution(
            self, "Distribution",
            comment="csms web page",
            default_root_object="index.html",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"

    def publish(self, api_url: str, sign_in_url: str | None) -> None:
        """Upload ``web/`` with a ``config.js`` that names this stack's API (deploy-time values)."""
        config = Fn.join("", [
            'window.CSMS_API = "', api_url, '";\n',
            'window.CSMS_SIGN_IN = "', sign_in_url or "", '";\n',
        ])
        deployment.BucketDeployment(
            self, "Publish",
            sources=[deployment.Source.asset(str(WEB), exclude=["config.js"]), deployment.Source.data("config.js", config)],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )

    def sign_in_url(self, domain_base_url: str, client_id: str) -> str:
        return Fn.join("", [domain_base_url, "/login?response_type=token&scope=openid+email&client_id=", client_id,
                            "&redirect_uri=", self.url, "/"])
