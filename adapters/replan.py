"""Re-plan requests in AWS: an asynchronous invoke of the scheduler function."""

from __future__ import annotations

import json

import botocore.session


def lambda_replan(function_name: str, region: str):
    client = botocore.session.get_session().create_client("lambda", region_name=region)  # no boto3: cold start

    def request(charge_point_id: str) -> None:
        client.invoke(FunctionName=function_name, InvocationType="Event",
                      Payload=json.dumps({"reason": "session-change", "chargePointId": charge_point_id}).encode())

    return request
