"""The operator / app HTTP API (API Gateway HTTP API, Cognito JWT or IAM authorizer)."""

from __future__ import annotations

from typing import Any

from adapters import http_api
from adapters.wiring import build_operations
from handlers._runtime import runtime


def _operations():
    # Cheap (a few objects over the cached runtime), and always the current runtime's
    return build_operations(runtime())


http_api.configure(_operations)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http_api.handle(event, context)
