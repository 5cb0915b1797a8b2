"""The operator / app HTTP API (API Gateway HTTP API, Cognito JWT or IAM authorizer)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from adapters import http_api
from adapters.wiring import build_operations
from handlers._runtime import runtime


@lru_cache(maxsize=1)
def _operations():
    return build_operations(runtime())


http_api.configure(_operations)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http_api.handle(event, context)
