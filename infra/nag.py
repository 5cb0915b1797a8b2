"""cdk-nag (AwsSolutions) acknowledgements: every finding the stack keeps on purpose, with why.
The checks run in `make test` (tests/infra/test_nag.py) and on every `cdk synth` (app.py)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from constructs import Construct

from infra.constants import POSTS_TO_CONNECTIONS

BASIC_EXECUTION = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def _ack(construct: Construct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=f"AwsSolutions::{rule}", reason=reason))


def _text(stack: Stack, value: str, placeholder: str) -> str:
    return placeholder if Token.is_unresolved(value) else value


def acknowledge(stack: Stack, functions: dict, api, edge, custom_domain: bool, files=None, scheduler_dlq=None,
                operator_api=None, site=None, tables=None, archive=None, certificates=None) -> None:
    region = _text(stack, stack.region, "<AWS::Region>")
    account = _text(stack, stack.account, "<AWS::AccountId>")
    api_id = stack.resolve(stack.get_logical_id(api.api.node.default_child))
    connections = (f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:{region}:{account}:"
                   f"<{api_id}>/{api.stage.stage_name}/POST/@connections/*]")
    for name, function in functions.items():
        _ack(function.role, f"AwsSolutions-IAM4[{BASIC_EXECUTION}]",
             "AWSLambdaBasicExecutionRole only allows writing the function's own CloudWatch Logs "
             "(the log group is created by the stack with a retention); no data access.")
        # L1 (latest runtime) is not acknowledged: the functions run the newest Python runtime.
        if name in POSTS_TO_CONNECTIONS:
            # on the role: its statements may overflow from DefaultPolicy into OverflowPolicyN
            _ack(function.role, connections,
                 "Connection ids are created per socket at run time: posting to chargers needs "
                 "@connections/* on this API's own stage and only POST (no other API, stage or method).")
        # Table grants include the table's own global secondary indexes (<table>/index/*): the sparse
        # indexes that replace scans (issue 15), all of them defined in the pynamodb models.
        for table in (tables or {}).values():
            if table.node.default_child.global_secondary_indexes is None:
                continue
            arn = stack.resolve(stack.get_logical_id(table.node.default_child))
            # on the role: a grant may overflow from DefaultPolicy into OverflowPolicyN (the Message
            # function, which reaches every table)
            _ack(function.role, f"AwsSolutions-IAM5[Resource::<{arn}.Arn>/index/*]",
                 "Queries of this table's own sparse global secondary indexes (connected chargers, a driver's "
                 "chargers, the fleet's pages, active sessions, due calls, due console checks): index names "
                 "are part of the table.")
    if archive is not None:
        policy = functions["Archive"].role.node.find_child("DefaultPolicy")
        bucket = stack.resolve(stack.get_logical_id(archive.bucket.node.default_child))
        _ack(policy, "AwsSolutions-IAM5[Action::s3:Abort*]",
             "CDK's put grant: abort this bucket's own multipart uploads (a large archive batch) and nothing else.")
        _ack(policy, f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
             "Archive object keys are made per batch at run time (meter/<date>/<sequence>.jsonl.gz) in this bucket only.")
        _ack(policy, "AwsSolutions-IAM5[Resource::*]",
             "dynamodb:ListStreams has no resource-level scoping (the stream's own GetRecords, GetShardIterator "
             "and DescribeStream are scoped to the meter table's stream ARN).")
    for route in ("$disconnect-Route", "$default-Route"):
        _ack(api.api.node.find_child(route), "AwsSolutions-APIG4",
             "WebSocket APIs authorize once, on $connect (REQUEST authorizer, Basic auth); $default and "
             "$disconnect only run on a connection that passed it and carry its authorizer context.")
    distribution = edge.distribution
    _ack(distribution, "AwsSolutions-CFR1", "Chargers are installed anywhere; there is no region to restrict to.")
    _ack(distribution, "AwsSolutions-CFR2",
         "WAF cannot inspect WebSocket frames after the upgrade; the handshake is authorized by the "
         "Lambda authorizer and the stage is throttled.")
    _ack(distribution, "AwsSolutions-CFR3",
         "Every handshake is in the WebSocket stage's access log (request id, source IP, status); "
         "CloudFront standard logs would duplicate it in an extra bucket.")
    if not custom_domain:
        _ack(distribution, "AwsSolutions-CFR4",
             "With the default *.cloudfront.net certificate CloudFront cannot enforce TLS 1.2; deploy with "
             "-c domainName=... -c certificateArn=... (docs/deploy.md) and TLSv1.2_2021 applies.")
    if certificates is not None:
        _ack(certificates.origin_secret, "AwsSolutions-SMG4",
             "The origin secret is also a CloudFront origin header: a rotation needs a deploy that sends the new "
             "version (-c originSecretVersion, docs/deploy.md), so a rotation Lambda alone would refuse chargers.")
    if files is not None:
        from infra.constants import BUCKET_ACCESS

        buckets = {"firmware": files.firmware, "diagnostics": files.diagnostics}
        for name, grants in BUCKET_ACCESS.items():
            for kind in grants:
                bucket_id = stack.resolve(stack.get_logical_id(buckets[kind].node.default_child))
                _ack(functions[name].role, f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
                     f"Object keys of the {kind} bucket are made per image / per diagnostics request at run time; "
                     "the grant is only the named object actions (no List, Delete or bucket actions) on this bucket.")
        _ack(files.access_logs, "AwsSolutions-S1",
             "This is the server-access-log bucket of the firmware and diagnostics buckets; logging it into "
             "itself would loop.")
    if scheduler_dlq is not None:
        _ack(scheduler_dlq, "AwsSolutions-SQS3", "This queue is itself the scheduler's dead-letter queue.")
    if operator_api is not None:
        _ack(operator_api.user_pool, "AwsSolutions-COG8",
             "The Plus feature plan (threat protection) is billed per monthly active user; the pool already "
             "has no self sign-up, a 12-character password policy and required TOTP MFA. Switch the plan on "
             "in the console when the user count justifies it.")
    if site is not None:
        _ack(site.distribution, "AwsSolutions-CFR1", "The web page is for operators and drivers anywhere.")
        _ack(site.distribution, "AwsSolutions-CFR2",
             "Static files only; every API call is authorized by Cognito at the HTTP API, which is throttled.")
        _ack(site.distribution, "AwsSolutions-CFR3",
             "Static files only (no data); the S3 bucket's server access log records what is fetched.")
        _ack(site.distribution, "AwsSolutions-CFR4",
             "The default *.cloudfront.net certificate cannot enforce TLS 1.2 (TLSv1.2_2021 is set and applies "
             "with a custom domain); the page holds no secret and the API itself is TLS 1.2+.")
        # CDK's own BucketDeployment function (it uploads web/ at deploy time; it never serves requests)
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                _ack(child, "AwsSolutions-L1", "CDK's BucketDeployment handler: its runtime is chosen by aws-cdk-lib "
                     "and runs only during deployments.")
                _ack(child, f"AwsSolutions-IAM4[{BASIC_EXECUTION}]",
                     "CDK's BucketDeployment handler writes only its own logs with this policy.")
                for rule in ("Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*",
                             "Action::s3:GetObject*", "Action::s3:List*", "Resource::*",
                             f"Resource::<{stack.resolve(stack.get_logical_id(site.bucket.node.default_child))}.Arn>/*",
                             f"Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-{account}-{region}/*"):
                    _ack(child, f"AwsSolutions-IAM5[{rule}]",
                         "CDK's BucketDeployment grants: read the staged asset, replace the web bucket's objects, "
                         "invalidate the distribution (CloudFront invalidations have no resource-level scoping).")
