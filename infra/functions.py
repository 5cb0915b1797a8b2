"""Lambda functions (arm64, one role each) and the dependency layer, built without Docker."""

from __future__ import annotations

import shutil
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from adapters.settings import ENV_HEARTBEAT_INTERVAL, ENV_SCHEDULER_FUNCTION, TABLE_ENV
from infra import constants

ROOT = Path(__file__).resolve().parent.parent
STAGING = ROOT / "cdk.out.staging"
LAYER_DIRS = {"Dependencies": ROOT / "layers" / "build", "Planner": ROOT / "layers" / "build-planner"}
LAYER_DESCRIPTIONS = {
    "Dependencies": "ocpp, pynamodb, aws-lambda-powertools (layers/build.sh)",
    "Planner": "numpy, scipy for the fleet LP (LAYER_GROUP=lambda-planner layers/build.sh)",
}


def stage_source() -> Path:
    """Copy only the packages the functions import into a staging directory (no tests, data, infra)."""
    target = STAGING / "src"
    if target.exists():
        shutil.rmtree(target)
    for package in constants.SOURCE_PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def layer_source(name: str) -> Path:
    """``layers/build*`` from ``make layer``; without it (tests, CI) an empty placeholder, so the
    stack synthesises anywhere. Deploying without ``make layer`` fails at run time: the README says so."""
    built = LAYER_DIRS[name]
    if (built / "python").is_dir():
        return built
    placeholder = STAGING / f"layer-placeholder-{name.lower()}"
    (placeholder / "python").mkdir(parents=True, exist_ok=True)
    (placeholder / "python" / "LAYER_NOT_BUILT").write_text("run `make layer` before `cdk deploy`\n")
    return placeholder


class Functions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, tables: dict, quotas=None) -> None:
        """``quotas`` (infra.quotas.Quotas): reserved concurrency per function, authorizer memory."""
        super().__init__(scope, construct_id)
        runtime = getattr(lambda_.Runtime, constants.PYTHON_RUNTIME)
        self.layers = {
            name: lambda_.LayerVersion(
                self,
                name,
                code=lambda_.Code.from_asset(str(layer_source(name))),
                compatible_runtimes=[runtime],
                compatible_architectures=[lambda_.Architecture.ARM_64],
                description=LAYER_DESCRIPTIONS[name],
            )
            for name in LAYER_DIRS
        }
        self.layer = self.layers["Dependencies"]
        code = lambda_.Code.from_asset(str(stage_source()))
        environment = {env: tables[name].table_name for name, env in TABLE_ENV.items()}
        environment.update(
            {
                ENV_HEARTBEAT_INTERVAL: "300",
                "POWERTOOLS_SERVICE_NAME": constants.SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": "CSMS",
            }
        )
        self.functions: dict[str, lambda_.Function] = {}
        for name, (handler, reads, writes) in constants.FUNCTIONS.items():
            is_scheduler = name == "Scheduler"
            sized = constants.FUNCTION_SIZES.get(name)
            function = lambda_.Function(
                self,
                name,
                runtime=runtime,
                architecture=lambda_.Architecture.ARM_64,
                handler=handler,
                code=code,
                layers=[self.layer] + [self.layers[extra] for extra in constants.EXTRA_LAYERS.get(name, ())],
                memory_size=sized[0] if sized else constants.SCHEDULER_MEMORY_MB if is_scheduler else (
                    quotas.authorizer_memory_mb if quotas is not None and name == "Authorizer"
                    else constants.CHARGER_PATH_MEMORY_MB.get(name, constants.LAMBDA_MEMORY_MB)),
                reserved_concurrent_executions=quotas.reserved.get(name) if quotas is not None else None,
                timeout=Duration.seconds(sized[1] if sized else constants.SCHEDULER_TIMEOUT_S if is_scheduler
                                         else constants.LAMBDA_TIMEOUT_S),
                environment=dict(environment),
                # JSON logs; the runtime's START/END/REPORT lines only at WARN, so a normal message
                # ingests no log bytes (log ingestion would otherwise cost more than the invocation).
                logging_format=lambda_.LoggingFormat.JSON,
                system_log_level_v2=lambda_.SystemLogLevel.WARN,
                application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
                log_group=logs.LogGroup(
                    self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH
                ),
            )
            for table in set(reads) - set(writes):
                tables[table].grant_read_data(function)
            for table in writes:
                tables[table].grant_read_write_data(function)
            self.functions[name] = function
        # The authorizer counts handshake failures (csms.ocpp.lockout) in the keys table: only items whose
        # key starts with "authfail#", never the transaction counter or idempotency keys there.
        self.functions["Authorizer"].add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
            resources=[tables["keys"].table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [constants.AUTH_FAILURE_KEYS]}}))
        # Operators read those counters through the API (GET .../auth-failures): reads, same keys only.
        self.functions["Api"].add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:BatchGetItem"], resources=[tables["keys"].table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [constants.AUTH_FAILURE_KEYS]}}))
        scheduler = self.functions["Scheduler"]
        for name in constants.INVOKES_SCHEDULER:
            self.functions[name].add_environment(ENV_SCHEDULER_FUNCTION, scheduler.function_name)
            # Only the function itself (grant_invoke would add its versions and aliases, ARN:*).
            self.functions[name].add_to_role_policy(
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[scheduler.function_arn]))
