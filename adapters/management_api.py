"""API Gateway's connection management API (boto3), behind ``csms.commands.ConnectionPoster``."""

from __future__ import annotations

import logging

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


class ManagementApiPoster:
    def __init__(self, endpoint_url: str, region: str):
        self._client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region)

    def post(self, connection_id: str, frame: str) -> bool:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=frame.encode("utf-8"))
            return True
        except self._client.exceptions.GoneException:
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("GoneException", "410"):
                return False
            raise
