"""DynamoDB tables, one per pynamodb model, with the model's own key schema."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct
from pynamodb.attributes import NumberAttribute

from adapters.dynamo.models import MODELS
from infra import constants


def _key(attribute) -> dynamodb.Attribute:
    kind = dynamodb.AttributeType.NUMBER if isinstance(attribute, NumberAttribute) else dynamodb.AttributeType.STRING
    return dynamodb.Attribute(name=attribute.attr_name, type=kind)


class Tables(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        for name, model in MODELS.items():
            attributes = model.get_attributes().values()
            hash_key = next(a for a in attributes if a.is_hash_key)
            range_key = next((a for a in attributes if a.is_range_key), None)
            self.tables[name] = dynamodb.Table(
                self,
                name.capitalize(),
                partition_key=_key(hash_key),
                sort_key=_key(range_key) if range_key is not None else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                time_to_live_attribute=constants.TABLE_TTL.get(name),
                removal_policy=RemovalPolicy.RETAIN,  # transaction data is never deleted by a stack update
            )
