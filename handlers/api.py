"""The operator / app HTTP API (API Gateway HTTP API, Cognito JWT or IAM authorizer)."""

from __future__ import annotations

from typing import Any

from adapters import http_api
from adapters.wiring import build_operations
from handlers._runtime import runtime


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Cheap (a few objects over the cached runtime), and always the current runtime's
    return http_api.handle(event, context, build_operations(runtime()))
