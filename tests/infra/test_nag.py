"""cdk-nag AwsSolutions on the real stack: zero unacknowledged findings, every acknowledgement
with a reason; and the check really runs (a non-compliant resource fails synthesis)."""

from __future__ import annotations

import json

import pytest


def _synth(tmp_path, add=None):
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from infra.stack import CsmsStack

    from tests.infra.conftest import EDGE_CONTEXT

    app = cdk.App(outdir=str(tmp_path), context=EDGE_CONTEXT)
    stack = CsmsStack(app, "Csms", env=cdk.Environment(account="123456789012", region="eu-west-2"))
    if add:
        add(stack)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return json.loads((tmp_path / "validation-report.json").read_text())


def test_stack_passes_aws_solutions_with_reasons_for_every_acknowledgement(tmp_path):
    report = _synth(tmp_path)
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert all(p["conclusion"] == "success" for p in plugins.values()), plugins
    plugin = plugins["AwsSolutions"]
    assert plugin["violations"] == []
    acknowledged = plugin["suppressedViolations"]
    assert all(len(v["reason"]) > 40 for v in acknowledged)
    rules = sorted({v["ruleName"].split("[")[0] for v in acknowledged})
    print("acknowledged:", rules)
    # Our functions run the newest runtime (not waived); only CDK's own deploy-time upload function is
    waived = [c["constructPath"] for v in acknowledged if v["ruleName"] == "AwsSolutions-L1"
              for c in v["violatingConstructs"]]
    assert all("Custom::CDKBucketDeployment" in path for path in waived), waived


def test_a_non_compliant_resource_fails_synthesis(tmp_path):
    from aws_cdk import aws_sqs as sqs

    with pytest.raises(Exception, match="AwsSolutions-SQS3"):
        _synth(tmp_path, add=lambda stack: sqs.Queue(stack, "Plain"))  # no DLQ, no TLS-only policy
