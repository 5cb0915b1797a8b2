"""The platform's stack: composes one construct per capability, nothing else."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from adapters.settings import (ENV_CPO_NAME, ENV_MANAGEMENT_API_ENDPOINT, ENV_ORIGIN_SECRET_ARN,
                               ENV_SCHEDULER_FUNCTION, TABLE_ENV)
from infra import constants, nag
from infra.alerts import Alerts
from infra.archive import MeterArchive
from infra.charger_certificates import DEFAULT_EDGE_TLS_POLICY, EDGE_TLS_POLICIES, ChargerCertificates
from infra.cloudfront import ChargerEdge
from infra.fleet_run import FleetRun
from infra.functions import Functions
from infra.http_api import OperatorApi
from infra.quotas import from_context
from infra.monitoring import Monitoring
from infra.secrets import Secrets
from infra.storage import Files
from infra.tables import Tables
from infra.web_site import WebSite
from infra.websocket_api import WebSocketApi


class CsmsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # S3 log delivery by bucket policy, not ACLs (set here so tests and cdk.json agree)
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        # Capacity from one number: `cdk deploy -c fleetSize=100000` (infra/quotas.py, docs/scale.md)
        self.quotas = quotas = from_context(self.node)
        tables = Tables(self, "Tables", warm_throughput=quotas.warm_throughput,
                        provisioned={"meter": quotas.meter_capacity}).tables
        functions = Functions(self, "Functions", tables=tables, quotas=quotas).functions
        files = Files(self, "Files")
        files.grant_urls(functions, constants.BUCKET_ACCESS)
        Secrets(self, "Secrets", functions=functions)
        self.archive = MeterArchive(self, "MeterArchive", table=tables["meter"], function=functions["Archive"],
                                    access_logs=files.access_logs)
        # Re-plan requests are asynchronous invokes: after Lambda's two retries they land here.
        scheduler_dlq = sqs.Queue(self, "SchedulerDeadLetters", retention_period=Duration.days(14),
                                  encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        functions["Scheduler"].configure_async_invoke(retry_attempts=2, on_failure=destinations.SqsDestination(scheduler_dlq))
        api = WebSocketApi(self, "WebSocket", functions=functions, quotas=quotas)
        # Optional custom domain (ACM certificate in us-east-1): `cdk deploy -c domainName=... -c certificateArn=...`
        domain_name = self.node.try_get_context("domainName")
        certificate_arn = self.node.try_get_context("certificateArn")
        if bool(domain_name) != bool(certificate_arn):
            raise ValueError("domainName and certificateArn go together")
        # Security profile 3 (docs/deploy.md): `-c chargerCaBundle=s3://bucket/ca.pem -c cpoName="..."`, the
        # origin secret's rotation `-c originSecretVersion=<id>`, the edge TLS policy `-c edgeTlsPolicy=...`
        ca_bundle, cpo_name = self.node.try_get_context("chargerCaBundle"), self.node.try_get_context("cpoName")
        if ca_bundle and not cpo_name:
            raise ValueError("chargerCaBundle needs cpoName (the O of every charger certificate)")
        tls_policy = self.node.try_get_context("edgeTlsPolicy") or DEFAULT_EDGE_TLS_POLICY
        if tls_policy not in EDGE_TLS_POLICIES:
            raise ValueError(f"edgeTlsPolicy must be one of {', '.join(EDGE_TLS_POLICIES)}")
        certificates = ChargerCertificates(
            self, "ChargerCertificates", ca_bundle=ca_bundle, ca_bundle_region=self.node.try_get_context("chargerCaBundleRegion"),
            ca_bundle_version=self.node.try_get_context("chargerCaBundleVersion"),
            origin_secret_version=self.node.try_get_context("originSecretVersion"),
            ca_key=bool(self.node.try_get_context("chargerCaKms")),
            firmware_keys=bool(self.node.try_get_context("firmwareSigningKms")))
        # SignCertificate in AWS: `-c chargerCaKms=1`, then `-c chargerCaCertFile=<the key's CA certificate>`
        ca_cert_file = self.node.try_get_context("chargerCaCertFile")
        certificates.grant_signing(functions["Message"], Path(ca_cert_file).read_text() if ca_cert_file else None)
        # Signed firmware: `-c firmwareSigningKms=1`, then `-c firmwareSigningCertFile=<its certificate>`
        fw_cert_file = self.node.try_get_context("firmwareSigningCertFile")
        certificates.grant_firmware_signing(functions["Api"], Path(fw_cert_file).read_text() if fw_cert_file else None)
        certificates.origin_secret.grant_read(functions["Authorizer"])
        functions["Authorizer"].add_environment(ENV_ORIGIN_SECRET_ARN, certificates.origin_secret.secret_arn)
        if cpo_name:
            functions["Authorizer"].add_environment(ENV_CPO_NAME, cpo_name)
        edge = ChargerEdge(self, "Edge", api_id=api.api.api_id, domain_name=domain_name, certificate_arn=certificate_arn,
                           certificates=certificates, tls_policy=EDGE_TLS_POLICIES[tls_policy])
        events.Rule(
            self,
            "SweepSchedule",
            schedule=events.Schedule.rate(Duration.minutes(constants.SWEEP_MINUTES)),
            targets=[targets.LambdaFunction(functions["Sweeper"])],
        )
        # The periodic smart-charging run, fanned out per shard (the Scheduler function re-plans one
        # charger on plug-in / unplug; docs/scale.md)
        self.fleet_run = FleetRun(self, "FleetRun", functions=functions, reserved=quotas.reserved)
        events.Rule(
            self,
            "SignalsRefreshSchedule",
            schedule=events.Schedule.rate(Duration.minutes(constants.SIGNALS_REFRESH_MINUTES)),
            targets=[targets.LambdaFunction(functions["SignalsRefresh"])],
        )
        # The operator / app API (Cognito sign-in) and the web page (S3 + CloudFront); `-c webOrigin=https://...`
        # when the page is hosted elsewhere, `-c authDomainPrefix=...` for Cognito's hosted sign-in page.
        site = WebSite(self, "Web", access_logs=files.access_logs)
        auth_domain_prefix = self.node.try_get_context("authDomainPrefix")
        operator_api = OperatorApi(self, "OperatorApi", function=functions["Api"],
                                   web_origin=self.node.try_get_context("webOrigin") or site.url,
                                   auth_domain_prefix=auth_domain_prefix)
        site.publish(operator_api.url, site.sign_in_url(operator_api.domain.base_url(), operator_api.client.user_pool_client_id)
                     if auth_domain_prefix else None)
        Monitoring(self, "Monitoring", functions=functions, api_id=api.api.api_id, stage=api.stage.stage_name,
                   scheduler_dlq=scheduler_dlq)
        self.alerts = Alerts(self, "Alerts", functions=functions)  # operator alerts: EventBridge, SNS, alarms
        nag.acknowledge(self, functions, api, edge, custom_domain=bool(domain_name), files=files,
                        certificates=certificates,
                        scheduler_dlq=scheduler_dlq, operator_api=operator_api, site=site, tables=tables,
                        archive=self.archive)
        CfnOutput(self, "ChargerUrl", value=edge.charger_url, description="Chargers connect to <ChargerUrl><chargePointId>")
        CfnOutput(self, "WebSocketApiUrl", value=api.stage.url, description="Direct API Gateway URL (username = id)")
        CfnOutput(self, "ManagementApiEndpoint", value=api.management_endpoint)
        # What `csms charger add|list|command` needs to act on this stack (docs/deploy.md).
        parts = ["export CSMS_TARGET=aws", f"export AWS_REGION={self.region}"]
        for name, env in TABLE_ENV.items():
            parts.append(Fn.join("", [f"export {env}=", tables[name].table_name]))
        parts.append(Fn.join("", [f"export {ENV_MANAGEMENT_API_ENDPOINT}=", api.management_endpoint]))
        parts.append(Fn.join("", [f"export {ENV_SCHEDULER_FUNCTION}=", functions["Scheduler"].function_name]))
        CfnOutput(self, "WebUrl", value=site.url, description="The operator / driver web page")
        CfnOutput(self, "HttpApiUrl", value=operator_api.url, description="The operator / app API (/v1/...)")
        CfnOutput(self, "UserPoolId", value=operator_api.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=operator_api.client.user_pool_client_id)
        CfnOutput(self, "FirmwareBucket", value=files.firmware.bucket_name)
        CfnOutput(self, "DiagnosticsBucket", value=files.diagnostics.bucket_name)
        CfnOutput(self, "AlertsTopicArn", value=self.alerts.topic.topic_arn,
                  description="subscribe to operator alerts (aws sns subscribe --protocol email ...)")
        CfnOutput(self, "CliEnvironment", value=Fn.join("; ", parts),
                  description="eval this to point the csms CLI at this stack")
