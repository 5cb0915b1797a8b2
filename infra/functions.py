"""Lambda functions (arm64, one role each) and the dependency layer, built without Docker."""

from __future__ import annotations

import shutil
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from adapters.settings import TABLE_ENV, ENV_HEARTBEAT_INTERVAL
from infra import constants

ROOT = Path(__file__).resolve().parent.parent
STAGING = ROOT / "cdk.out.staging"
LAYER_DIR = ROOT / "layers" / "build"


def stage_source() -> Path:
    """Copy only the packages the functions import into a staging directory (no tests, data, infra)."""
    target = STAGING / "src"
    if target.exists():
        shutil.rmtree(target)
    for package in constants.SOURCE_PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def layer_source() -> Path:
    """``layers/build`` from ``make layer``; without it (tests, CI) an empty placeholder, so the
    stack synthesises anywhere. Deploying without ``make layer`` fails at run time: the README says so."""
    if (LAYER_DIR / "python").is_dir():
        return LAYER_DIR
    placeholder = STAGING / "layer-placeholder"
    (placeholder / "python").mkdir(parents=True, exist_ok=True)
    (placeholder / "python" / "LAYER_NOT_BUILT").write_text("run `make layer` before `cdk deploy`\n")
    return placeholder


class Functions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, tables: dict) -> None:
        super().__init__(scope, construct_id)
        runtime = getattr(lambda_.Runtime, constants.PYTHON_RUNTIME)
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(layer_source())),
            compatible_runtimes=[runtime],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="ocpp, pynamodb, aws-lambda-powertools (layers/build.sh)",
        )
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
            function = lambda_.Function(
                self,
                name,
                runtime=runtime,
                architecture=lambda_.Architecture.ARM_64,
                handler=handler,
                code=code,
                layers=[self.layer],
                memory_size=constants.LAMBDA_MEMORY_MB,
                timeout=Duration.seconds(constants.LAMBDA_TIMEOUT_S),
                environment=environment,
                log_group=logs.LogGroup(
                    self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH
                ),
            )
            for table in set(reads) - set(writes):
                tables[table].grant_read_data(function)
            for table in writes:
                tables[table].grant_read_write_data(function)
            self.functions[name] = function
