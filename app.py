#!/usr/bin/env python3
"""CDK app entry point: `cdk synth` / `cdk deploy` (see docs/deploy.md)."""

import aws_cdk as cdk

from infra import constants
from infra.stack import CsmsStack

app = cdk.App()
CsmsStack(app, constants.STACK_NAME, description="OCPP 1.6J central system for smart EV charging")
app.synth()
