"""Synthesise the stack once per test session: no Docker, no AWS credentials, no network."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

# The stack under test has security profile 3 at the edge switched on (docs/deploy.md): the same
# stack without these only lacks the trust store, viewer mTLS and the CPO name.
EDGE_CONTEXT = {"chargerCaBundle": "s3://cpo-pki/chargers/ca-bundle.pem", "cpoName": "Example CPO", "chargerCaKms": "1",
                "firmwareSigningKms": "1",
                "edgeTlsPolicy": "TLSv1.2_2019", "domainName": "ocpp.example.com",
                "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0d7b1c2e-5f1a-4c11-9a55-1d2c3b4a5f60"}


@pytest.fixture(scope="session")
def stack():
    import aws_cdk as cdk

    from infra.stack import CsmsStack

    app = cdk.App(context=EDGE_CONTEXT)
    return CsmsStack(app, "Csms", env=cdk.Environment(account="123456789012", region="eu-west-2"))


@pytest.fixture(scope="session")
def template(stack):
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def resources(template):
    return template.to_json()["Resources"]
