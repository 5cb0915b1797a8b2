"""What the synthesised CloudFormation template must contain for chargers to connect."""

from __future__ import annotations

import json
import subprocess

import pytest
from aws_cdk.assertions import Match
from pynamodb.attributes import NumberAttribute

from adapters.dynamo.models import MODELS, TTL_ATTRIBUTES
from infra import constants
from infra.cloudfront import function_code


def _of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_websocket_api_with_the_three_routes(template, resources):
    template.has_resource_properties("AWS::ApiGatewayV2::Api", {"ProtocolType": "WEBSOCKET"})
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in _of_type(resources, "AWS::ApiGatewayV2::Route").values()
              if not r["Properties"]["RouteKey"].endswith(constants.API_PATH)}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$default"].get("RouteResponseSelectionExpression") == "$default"  # two-way route
    responses = _of_type(resources, "AWS::ApiGatewayV2::RouteResponse")
    assert [r["Properties"]["RouteResponseKey"] for r in responses.values()] == ["$default"]


def test_connect_uses_a_request_authorizer_that_runs_without_an_authorization_header(template):
    # a profile-3 charger sends no Authorization: the authorizer must still run (it decides)
    template.has_resource_properties("AWS::ApiGatewayV2::Authorizer", {
        "AuthorizerType": "REQUEST",
        "IdentitySource": ["route.request.header.Sec-WebSocket-Key"],
    })


def test_stage_is_throttled_and_logs_access(template):
    template.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "StageName": constants.STAGE_NAME,
        "DefaultRouteSettings": {"ThrottlingRateLimit": constants.THROTTLE_RATE, "ThrottlingBurstLimit": constants.THROTTLE_BURST},
        "AccessLogSettings": {"Format": Match.string_like_regexp(r"\$context\.requestId")},
    })


@pytest.mark.parametrize("name", list(MODELS))
def test_each_table_matches_its_pynamodb_model(resources, name):
    model = MODELS[name]
    attributes = model.get_attributes().values()
    expected = [(a.attr_name, "HASH" if a.is_hash_key else "RANGE", "N" if isinstance(a, NumberAttribute) else "S")
                for a in attributes if a.is_hash_key or a.is_range_key]
    expected.sort(key=lambda t: t[1])
    tables = [t["Properties"] for t in _of_type(resources, "AWS::DynamoDB::Table").values()]
    matching = []
    for table in tables:
        types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
        keys = sorted(((k["AttributeName"], k["KeyType"], types[k["AttributeName"]]) for k in table["KeySchema"]),
                      key=lambda t: t[1])
        if keys == expected:
            matching.append(table)
    assert len(matching) >= 1, f"no table with the key schema of {model.__name__}: {expected}"
    # tables with the same keys (pk, sk: firmware, console) differ by their indexes
    indexes = sorted(i.Meta.index_name for i in model._indexes.values())
    matching = [t for t in matching if sorted(i["IndexName"] for i in t.get("GlobalSecondaryIndexes", [])) == indexes]
    assert len(matching) >= 1, f"no table with the indexes of {model.__name__}: {indexes}"
    table = matching[0]
    # the meter table's steady writes are provisioned with auto scaling (infra/quotas.py); the rest on demand
    assert table.get("BillingMode", "PROVISIONED") == ("PROVISIONED" if name == "meter" else "PAY_PER_REQUEST")
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    if name in TTL_ATTRIBUTES:
        assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTES[name], "Enabled": True}


def test_tables_are_retained_on_stack_deletion(resources):
    tables = _of_type(resources, "AWS::DynamoDB::Table")
    assert len(tables) == len(MODELS)
    assert all(t["DeletionPolicy"] == "Retain" for t in tables.values())


def test_functions_are_arm64_with_one_role_each_and_only_the_code_they_need(resources, stack):
    functions = _of_type(resources, "AWS::Lambda::Function")
    handlers = {f["Properties"]["Handler"] for f in functions.values()}
    assert {h for h, *_ in constants.FUNCTIONS.values()} <= handlers
    ours = [f for f in functions.values() if f["Properties"]["Handler"].startswith("handlers.")]
    assert all(f["Properties"]["Architectures"] == ["arm64"] for f in ours)
    roles = [json.dumps(f["Properties"]["Role"]) for f in ours]
    assert len(set(roles)) == len(ours)
    from infra.functions import STAGING

    shipped = sorted(p.name for p in (STAGING / "src").iterdir())
    assert shipped == sorted(constants.SOURCE_PACKAGES)


def test_environment_names_the_tables(resources):
    from adapters.settings import TABLE_ENV

    for function in _of_type(resources, "AWS::Lambda::Function").values():
        if function["Properties"]["Handler"] == "handlers.default.lambda_handler":
            env = function["Properties"]["Environment"]["Variables"]
            assert set(TABLE_ENV.values()) <= set(env)
            assert "MANAGEMENT_API_ENDPOINT" in env
            break
    else:
        pytest.fail("no $default function")


def _statements(resources):
    # A role's statements overflow from its inline policy into managed ones (OverflowPolicyN) past IAM's size limit
    policies = {**_of_type(resources, "AWS::IAM::Policy"), **_of_type(resources, "AWS::IAM::ManagedPolicy")}
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield policy, statement


def test_manage_connections_is_scoped_to_this_apis_stage(resources):
    manage = [s for _, s in _statements(resources) if "execute-api:ManageConnections" in json.dumps(s["Action"])]
    assert len(manage) == len(constants.POSTS_TO_CONNECTIONS)  # $default, the sweeper, the scheduler
    for statement in manage:
        resource = json.dumps(statement["Resource"])
        assert resource != '"*"' and "@connections" in resource and constants.STAGE_NAME in resource


def test_no_wildcard_actions_or_resources(resources):
    for _, statement in _statements(resources):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if set(actions) <= {"cloudfront:GetInvalidation", "cloudfront:CreateInvalidation"}:
            continue  # CDK's web-page upload invalidates the distribution: no resource-level scoping exists
        if actions == ["dynamodb:ListStreams"]:
            continue  # the meter archive's stream poller: ListStreams has no resource-level scoping
        assert statement.get("Resource") != "*", statement


def test_authorizer_reads_the_chargers_and_writes_only_its_failure_counters(resources, template):
    functions = _of_type(resources, "AWS::Lambda::Function")
    (role_ref,) = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()
                   if f["Properties"]["Handler"] == "handlers.authorizer.lambda_handler"]
    policies = [p for p in _of_type(resources, "AWS::IAM::Policy").values()
                if {"Ref": role_ref} in p["Properties"]["Roles"]]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    writes = ("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete", "dynamodb:BatchWrite")
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a.startswith(writes) for a in actions):
            resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if resources_[0]["Fn::GetAtt"][0].startswith("TablesConsole"):
                continue  # the console table: unknown chargers and auth-failure alerts (issue 22)
            # otherwise only items keyed authfail#..., in the keys table
            assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["authfail#*"]}}
            assert statement["Resource"]["Fn::GetAtt"][0].startswith("TablesKeys")
    assert any("dynamodb:GetItem" in s["Action"] for s in statements)


def test_refused_handshakes_are_counted_from_the_authorizer_log_and_alarm(resources):
    (props,) = [f["Properties"] for f in _of_type(resources, "AWS::Logs::MetricFilter").values()
                if f["Properties"]["MetricTransformations"][0]["MetricName"] == "AuthFailures"]
    assert props["FilterPattern"] == '{ $.message = "connection refused" }'
    assert props["MetricTransformations"][0]["MetricName"] == "AuthFailures"
    log_groups = {k for k, v in resources.items() if v["Type"] == "AWS::Logs::LogGroup" and "Authorizer" in k}
    assert props["LogGroupName"]["Ref"] in log_groups
    (alarm,) = [a["Properties"] for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()
                if a["Properties"]["MetricName"] == "AuthFailures"]
    assert alarm["Namespace"] == "CSMS" and alarm["Threshold"] == constants.AUTH_FAILURES_ALARM
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_cloudfront_forwards_the_handshake_and_rewrites_the_path(template, resources):
    template.has_resource_properties("AWS::CloudFront::Function", {
        "FunctionConfig": Match.object_like({"Runtime": "cloudfront-js-2.0"})})
    policies = _of_type(resources, "AWS::CloudFront::OriginRequestPolicy")
    headers = next(iter(policies.values()))["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]["Headers"]
    assert {"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", constants.PATH_HEADER} <= set(headers)
    cache = next(iter(_of_type(resources, "AWS::CloudFront::CachePolicy").values()))
    assert cache["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"][0] == "Authorization"
    dist = next(iter(_of_type(resources, "AWS::CloudFront::Distribution").values()))["Properties"]["DistributionConfig"]
    assert dist["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"


def test_cloudfront_function_moves_the_charger_path_into_the_header():
    # Given the function's code, When node runs it on a viewer request for /ocpp/CP%20001
    script = function_code() + """
var out = handler({request: {uri: '/ocpp/CP%20001', headers: {}, querystring: {}}});
console.log(JSON.stringify(out));"""
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    request = json.loads(result.stdout)
    # Then the path is in ws-uri (percent-encoded, decoded by the authorizer) and the URI is the stage
    assert request["headers"][constants.PATH_HEADER] == {"value": "/ocpp/CP%20001"}
    assert request["uri"] == f"/{constants.STAGE_NAME}"
    from csms.ocpp.connection import PATH_HEADER, id_from_path

    assert PATH_HEADER == constants.PATH_HEADER
    assert id_from_path(request["headers"][PATH_HEADER]["value"]) == "CP 001"


def test_sweeper_runs_on_a_schedule(template):
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": f"rate({constants.SWEEP_MINUTES} minute)"})


def test_outputs_give_the_charger_url(template):
    outputs = template.to_json()["Outputs"]
    assert "ChargerUrl" in outputs and "ManagementApiEndpoint" in outputs
    # the CLI's environment names every table and the management endpoint
    from adapters.settings import TABLE_ENV

    cli = json.dumps(outputs["CliEnvironment"]["Value"])
    assert all(f"export {env}=" in cli for env in TABLE_ENV.values()) and "MANAGEMENT_API_ENDPOINT" in cli


def test_template_is_cfn_lint_clean(template):
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(template.to_json()), config=ManualArgs(regions=["eu-west-2"]))
    # W3005 (a DependsOn already implied by a GetAtt) is how CDK orders roles before functions.
    problems = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id[0] in "EW" and m.rule.id != "W3005"]
    assert problems == []


def test_scheduler_and_signal_refresh_run_on_schedules(template):
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": f"rate({constants.SCHEDULE_MINUTES} minutes)"})
    template.has_resource_properties("AWS::Events::Rule",
                                     {"ScheduleExpression": f"rate({constants.SIGNALS_REFRESH_MINUTES} minutes)"})


def _function(resources, handler):
    return next((k, f) for k, f in _of_type(resources, "AWS::Lambda::Function").items()
                if f["Properties"]["Handler"] == handler)


def test_scheduler_has_the_planner_layer_and_only_it(resources):
    layers = {k for k, r in _of_type(resources, "AWS::Lambda::LayerVersion").items() if "Planner" in k}
    assert len(layers) == 1
    (planner,) = layers
    for key, function in _of_type(resources, "AWS::Lambda::Function").items():
        attached = json.dumps(function["Properties"].get("Layers", []))
        # the scheduler and the fleet run's shard planner plan; the sender and dispatcher do not load numpy
        plans = function["Properties"]["Handler"] in ("handlers.scheduler.lambda_handler", "handlers.fleet_run.plan_shard")
        assert (planner in attached) == plans, key
    _, scheduler = _function(resources, "handlers.scheduler.lambda_handler")
    assert scheduler["Properties"]["Timeout"] >= 60 and scheduler["Properties"]["MemorySize"] >= 1024


def test_message_and_api_functions_may_invoke_the_scheduler_and_nothing_else(resources):
    scheduler_key, _ = _function(resources, "handlers.scheduler.lambda_handler")
    invokers = [_function(resources, h)[1] for h in ("handlers.default.lambda_handler", "handlers.api.lambda_handler")]
    for function in invokers:
        assert function["Properties"]["Environment"]["Variables"]["SCHEDULER_FUNCTION"] == {"Ref": scheduler_key}
    allowed = {json.dumps(f["Properties"]["Role"]["Fn::GetAtt"][0]) for f in invokers}
    invokes = [(p, s) for p, s in _statements(resources) if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    assert len(invokes) == 2
    for policy, statement in invokes:
        assert scheduler_key in json.dumps(statement["Resource"])
        (role,) = policy["Properties"]["Roles"]
        assert json.dumps(role["Ref"]) in allowed


def test_firmware_and_diagnostics_buckets_are_private_encrypted_and_tls_only(resources):
    buckets = _of_type(resources, "AWS::S3::Bucket")
    assert len(buckets) == 5  # firmware, diagnostics, the web page, the meter archive, their access logs
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "AES256"}
        assert bucket["DeletionPolicy"] == "Retain"
    policies = _of_type(resources, "AWS::S3::BucketPolicy")
    denies = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
              if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(denies) == len(buckets)  # every bucket refuses plain HTTP, the archive too


def test_failed_re_plans_land_in_a_dead_letter_queue(resources):
    scheduler_key, _ = _function(resources, "handlers.scheduler.lambda_handler")
    (config,) = [c for c in _of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
                 if scheduler_key in json.dumps(c["Properties"]["FunctionName"])]
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    destination = json.dumps(config["Properties"]["DestinationConfig"]["OnFailure"])
    (queue_key,) = [k for k in _of_type(resources, "AWS::SQS::Queue") if k.startswith("SchedulerDeadLetters")]
    assert queue_key in destination


def test_every_function_has_error_and_throttle_alarms_and_there_is_a_dashboard(resources):
    alarms = [a["Properties"] for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()]
    by_metric = {}
    for alarm in alarms:
        by_metric.setdefault(alarm["MetricName"], []).append(alarm)
    assert len(by_metric["Errors"]) == len(constants.FUNCTIONS) == len(by_metric["Throttles"])
    assert "ApproximateNumberOfMessagesVisible" in by_metric and "SchedulerSkipped" in by_metric
    (dashboard,) = _of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "MessageCount" in body and "ProfilesQueued" in body


def test_log_groups_have_retention_and_runtime_logs_are_warn_only(resources):
    groups = _of_type(resources, "AWS::Logs::LogGroup")
    assert groups and all(g["Properties"].get("RetentionInDays") == constants.LOG_RETENTION_DAYS for g in groups.values())
    for function in _of_type(resources, "AWS::Lambda::Function").values():
        if function["Properties"]["Handler"].startswith("handlers."):
            assert function["Properties"]["LoggingConfig"]["SystemLogLevel"] == "WARN"


def test_operator_api_routes_need_a_cognito_jwt(resources):
    apis = _of_type(resources, "AWS::ApiGatewayV2::Api")
    http = [k for k, v in apis.items() if v["Properties"]["ProtocolType"] == "HTTP"]
    assert len(http) == 1
    routes = [r["Properties"] for r in _of_type(resources, "AWS::ApiGatewayV2::Route").values()
              if r["Properties"]["ApiId"] == {"Ref": http[0]}]
    assert sorted(r["RouteKey"] for r in routes) == sorted(f"{m} {constants.API_PATH}" for m in ("GET", "POST", "PUT", "DELETE"))
    assert {r["AuthorizationType"] for r in routes} == {"JWT"}
    (authorizer,) = [a["Properties"] for a in _of_type(resources, "AWS::ApiGatewayV2::Authorizer").values()
                     if a["Properties"]["ApiId"] == {"Ref": http[0]}]
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    (stage,) = [s["Properties"] for s in _of_type(resources, "AWS::ApiGatewayV2::Stage").values()
                if s["Properties"]["ApiId"] == {"Ref": http[0]}]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == constants.HTTP_THROTTLE_RATE
    assert "DestinationArn" in stage["AccessLogSettings"]


def test_user_pool_has_no_self_sign_up_requires_mfa_and_an_operators_group(template):
    template.has_resource_properties("AWS::Cognito::UserPool", {
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        "MfaConfiguration": "ON",
        "Policies": {"PasswordPolicy": Match.object_like({"MinimumLength": 12})},
    })
    template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": constants.OPERATOR_GROUP})
    from adapters.http_api import OPERATOR_GROUP

    assert OPERATOR_GROUP == constants.OPERATOR_GROUP  # the handler checks the group the stack creates


def test_api_function_reads_the_fleet_and_writes_only_what_operators_change(resources):
    handler, reads, writes = constants.FUNCTIONS["Api"]
    assert handler == "handlers.api.lambda_handler"
    # firmware: images, campaigns, diagnostics; authorization: idTags, policies, reservations; console: the
    # frame log's reads, alerts, unknown chargers (issue 22)
    assert set(writes) == {"chargers", "calls", "events", "firmware", "authorization", "console"}
    assert "keys" not in reads and "review" not in reads


def test_web_page_is_served_by_cloudfront_from_a_private_bucket_with_its_api_written_in(resources):
    distributions = [d["Properties"]["DistributionConfig"] for d in _of_type(resources, "AWS::CloudFront::Distribution").values()
                     if d["Properties"]["DistributionConfig"].get("DefaultRootObject") == "index.html"]
    (web,) = distributions
    assert web["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert "OriginAccessControlId" in web["Origins"][0]
    (upload,) = _of_type(resources, "Custom::CDKBucketDeployment").values()
    assert upload["Properties"]["DistributionPaths"] == ["/*"]
    config = json.dumps(upload["Properties"].get("SourceMarkers") or upload["Properties"])
    assert "CSMS_API" in config and "OperatorApi" in config  # config.js names this stack's HTTP API


def test_a_rotating_kms_key_seals_queued_keys_api_encrypts_posting_functions_decrypt(resources):
    # the key that seals queued secrets (symmetric); the charger CA's signing key is another (issue 17)
    # (the alerts topic has its own symmetric key, issue 22)
    (key_id, key), = [(k, v) for k, v in _of_type(resources, "AWS::KMS::Key").items()
                      if v["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
                      and not k.startswith("AlertsTopicKey")]
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    roles = {f["Properties"]["Handler"].split(".")[1]: f["Properties"]["Role"]["Fn::GetAtt"][0]
             for f in _of_type(resources, "AWS::Lambda::Function").values() if "Handler" in f["Properties"]}
    kms_actions: dict[str, set] = {}
    # a role's statements overflow from its inline policy into managed policies (firmware grants, issue 19)
    policies = {**_of_type(resources, "AWS::IAM::Policy"), **_of_type(resources, "AWS::IAM::ManagedPolicy")}
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("kms:") for a in actions) and "kms:Sign" not in actions:
                assert statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
                assert statement["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "AuthorizationKey"}}
                for role in policy["Properties"].get("Roles", []):
                    kms_actions.setdefault(role["Ref"], set()).update(actions)
    assert kms_actions[roles["api"]] >= {"kms:Encrypt"}
    for handler in ("default", "sweeper", "scheduler"):
        assert kms_actions[roles[handler]] == {"kms:Decrypt"}
    assert roles["authorizer"] not in kms_actions and roles["connect"] not in kms_actions
    for function in _of_type(resources, "AWS::Lambda::Function").values():
        if function["Properties"].get("Handler", "").startswith("handlers."):
            assert "SECRETS_KMS_KEY_ID" in function["Properties"]["Environment"]["Variables"]


# ------------------------------------------------------------------ quotas, indexes


def _synth(**context):
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stack import CsmsStack

    app = cdk.App(context=context)
    return Template.from_stack(CsmsStack(app, "Csms", env=cdk.Environment(account="123456789012", region="eu-west-2")))


def test_every_global_secondary_index_of_the_models_is_in_the_stack(resources):
    from infra.tables import indexes_of

    tables = [t["Properties"] for t in _of_type(resources, "AWS::DynamoDB::Table").values()]
    deployed = {(g["IndexName"], tuple((k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]),
                 g["Projection"]["ProjectionType"]) for t in tables for g in t.get("GlobalSecondaryIndexes", [])}
    expected = set()
    for model in MODELS.values():
        for spec in indexes_of(model):
            keys = ((spec["partition_key"].name, "HASH"),) + (((spec["sort_key"].name, "RANGE"),) if "sort_key" in spec else ())
            expected.add((spec["index_name"], keys, spec["projection_type"].value))
    assert expected and deployed == expected


def test_quotas_follow_the_fleet_size_and_protect_the_charger_path():
    from infra.quotas import Quotas

    q = Quotas(100_000)
    assert q.throttle_rate >= 3 * 100_000 / 60  # >= 3x the steady MeterValues rate (1,667/s)
    assert q.reserved["Message"] >= q.throttle_rate * 0.03  # rate x duration
    assert sum(q.reserved.values()) <= 1_000 - 100
    assert q.meter_capacity["write"][0] >= 100_000 / 60 / 0.8  # provisioned at the 80 % target
    assert q.meter_capacity["write"][1] >= 3 * 100_000 / 60
    assert Quotas(1_000).throttle_rate == 500  # never below API Gateway's default


def test_stack_takes_its_capacity_from_fleet_size():
    from infra.quotas import Quotas

    # an account with the new-connection quota raised to 2,000/s: a boot storm needs warm tables
    template = _synth(fleetSize="100000", newConnectionsPerSecond="2000", accountConcurrency="2000")
    q = Quotas(100_000, new_connections_per_s=2000, account_concurrency=2000)
    assert set(q.warm_throughput) == {"chargers", "calls"}
    template.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "DefaultRouteSettings": {"ThrottlingRateLimit": q.throttle_rate, "ThrottlingBurstLimit": q.throttle_burst}})
    functions = [f["Properties"] for f in template.to_json()["Resources"].values() if f["Type"] == "AWS::Lambda::Function"
                 and "ReservedConcurrentExecutions" in f["Properties"]]
    reserved = sorted(f["ReservedConcurrentExecutions"] for f in functions)
    assert reserved == sorted(q.reserved.values())
    assert any(f["MemorySize"] == q.authorizer_memory_mb == 1024 for f in functions
               if f["Handler"] == "handlers.authorizer.lambda_handler")
    tables = [t["Properties"] for t in template.to_json()["Resources"].values() if t["Type"] == "AWS::DynamoDB::Table"]
    assert {t["WarmThroughput"]["WriteUnitsPerSecond"] for t in tables if "WarmThroughput" in t} == \
        {w for _, w in q.warm_throughput.values()}
    meter = [t for t in tables if t.get("ProvisionedThroughput")]
    assert [t["ProvisionedThroughput"]["WriteCapacityUnits"] for t in meter] == [q.meter_capacity["write"][0]]
    targets = [r for r in template.to_json()["Resources"].values() if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"]
    assert sorted(t["Properties"]["MaxCapacity"] for t in targets) == sorted(
        [q.meter_capacity["read"][1], q.meter_capacity["write"][1]])


def test_stack_refuses_a_fleet_its_quotas_cannot_carry():
    from infra.quotas import QuotaError

    with pytest.raises(QuotaError, match="accountRequestsPerSecond"):
        _synth(fleetSize="1000000")
    # with the quota raised (and passed), the same fleet synthesises
    _synth(fleetSize="300000", accountRequestsPerSecond="20000", accountConcurrency="3000")
