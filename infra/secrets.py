"""The KMS key that seals secrets in queued calls (a rotated AuthorizationKey, ``csms.ocpp.rotation``):
the Api function may only Encrypt with it, the functions that post to chargers only Decrypt, with
the encryption context's purpose fixed. Yearly rotation; kept when the stack is deleted (queued
calls sealed with it would otherwise never open)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from adapters.settings import ENV_SECRETS_KMS_KEY
from infra import constants

CONTEXT = {"StringEquals": {"kms:EncryptionContext:purpose": "AuthorizationKey"}}


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: dict) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN,
                           description="Seals AuthorizationKeys in queued ChangeConfiguration calls (csms.ocpp.rotation)")
        functions["Api"].add_to_role_policy(iam.PolicyStatement(
            actions=["kms:Encrypt"], resources=[self.key.key_arn], conditions=CONTEXT))
        for name in constants.POSTS_TO_CONNECTIONS:
            functions[name].add_to_role_policy(iam.PolicyStatement(
                actions=["kms:Decrypt"], resources=[self.key.key_arn], conditions=CONTEXT))
        for function in functions.values():
            function.add_environment(ENV_SECRETS_KMS_KEY, self.key.key_arn)
