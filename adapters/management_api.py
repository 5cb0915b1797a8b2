"""API Gateway's connection management API, behind ``csms.ocpp.ports.ConnectionPoster``.

A botocore client, not boto3: pynamodb has already imported botocore, and boto3 (with s3transfer)
would add ~60 ms to every cold start of the ``$default`` handler (docs/benchmarks.md)."""

from __future__ import annotations

import logging

import botocore.session
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


class ManagementApiPoster:
    def __init__(self, endpoint_url: str, region: str):
        self._client = botocore.session.get_session().create_client(
            "apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region)

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

    def close(self, connection_id: str) -> bool:
        """Close a charger's connection (DeleteConnection); False when it is already gone."""
        try:
            self._client.delete_connection(ConnectionId=connection_id)
            return True
        except self._client.exceptions.GoneException:
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("GoneException", "410"):
                return False
            raise
