#!/usr/bin/env python3
"""CDK app entry point: `cdk synth` / `cdk deploy` (see docs/deploy.md)."""

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import constants
from infra.stack import CsmsStack

app = cdk.App()
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # synth fails on an unacknowledged finding
CsmsStack(app, constants.STACK_NAME, description="OCPP 1.6J central system for smart EV charging")
app.synth()
