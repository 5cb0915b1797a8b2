"""Synthesise the stack once per test session: no Docker, no AWS credentials, no network."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@pytest.fixture(scope="session")
def stack():
    import aws_cdk as cdk

    from infra.stack import CsmsStack

    app = cdk.App()
    return CsmsStack(app, "Csms", env=cdk.Environment(account="123456789012", region="eu-west-2"))


@pytest.fixture(scope="session")
def template(stack):
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def resources(template):
    return template.to_json()["Resources"]
