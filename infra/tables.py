"""DynamoDB tables, one per pynamodb model, with the model's own key schema and global secondary
indexes (the same definitions ``create_tables`` gives moto and the local platform)."""

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


_PROJECTIONS = {"KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY, "INCLUDE": dynamodb.ProjectionType.INCLUDE,
                "ALL": dynamodb.ProjectionType.ALL}


def indexes_of(model) -> list[dict]:
    """The model's global secondary indexes as ``Table.add_global_secondary_index`` arguments."""
    out = []
    for index in model._indexes.values():
        attributes = index.Meta.attributes.values()
        hash_key = next(a for a in attributes if a.is_hash_key)
        range_key = next((a for a in attributes if a.is_range_key), None)
        projection = index.Meta.projection
        spec = {"index_name": index.Meta.index_name, "partition_key": _key(hash_key),
                "projection_type": _PROJECTIONS[projection.projection_type]}
        if range_key is not None:
            spec["sort_key"] = _key(range_key)
        if projection.projection_type == "INCLUDE":
            spec["non_key_attributes"] = list(projection.non_key_attributes)
        out.append(spec)
    return out


class Tables(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, warm_throughput: dict | None = None,
                 provisioned: dict | None = None) -> None:
        """``warm_throughput``: {table: (read units/s, write units/s)} pre-warmed for storms
        (``infra.quotas``); on-demand tables otherwise absorb only 2x their previous peak at once."""
        super().__init__(scope, construct_id)
        warm_throughput = warm_throughput or {}
        provisioned = provisioned or {}  # {table: {"write": (min, max), "read": (min, max)}}: auto scaling
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
                billing_mode=dynamodb.BillingMode.PROVISIONED if name in provisioned else dynamodb.BillingMode.PAY_PER_REQUEST,
                read_capacity=provisioned[name]["read"][0] if name in provisioned else None,
                write_capacity=provisioned[name]["write"][0] if name in provisioned else None,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                time_to_live_attribute=constants.TABLE_TTL.get(name),
                # the meter table's new samples feed the S3 archive (infra/archive.py) before its TTL
                stream=dynamodb.StreamViewType.NEW_IMAGE if name == "meter" else None,
                removal_policy=RemovalPolicy.RETAIN,  # transaction data is never deleted by a stack update
                warm_throughput=dynamodb.WarmThroughput(read_units_per_second=warm_throughput[name][0],
                                                        write_units_per_second=warm_throughput[name][1])
                if name in warm_throughput else None,
            )
            for spec in indexes_of(model):
                if name in provisioned:
                    spec = {**spec, "read_capacity": provisioned[name]["read"][0], "write_capacity": provisioned[name]["write"][0]}
                self.tables[name].add_global_secondary_index(**spec)
            if name in provisioned:
                for kind, scale in (("read", self.tables[name].auto_scale_read_capacity),
                                    ("write", self.tables[name].auto_scale_write_capacity)):
                    low, high = provisioned[name][kind]
                    scale(min_capacity=low, max_capacity=high).scale_on_utilization(target_utilization_percent=80)
