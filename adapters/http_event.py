"""The API Gateway HTTP API event (payload format 2.0) as the JWT or IAM authorizer delivers it to
``handlers/api.py``: built here once, for the local platform's HTTPS server, the CLI's in-process
calls and the tests. Shape: AWS API Gateway developer guide, "Working with AWS Lambda proxy
integrations for HTTP APIs" (payload format version 2.0)."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode


def http_event(method: str, path: str, *, query: dict[str, str] | None = None, raw_query: str | None = None,
               headers: dict[str, str] | None = None, body: str | None = None,
               claims: dict[str, Any] | None = None, iam: dict[str, str] | None = None,
               source_ip: str = "127.0.0.1", protocol: str = "HTTP/1.1", domain: str = "localhost",
               api_id: str = "local", request_id: str | None = None, at_ms: int | None = None,
               user_agent: str | None = None) -> dict[str, Any]:
    """The event of one request. ``query`` (parameters) or ``raw_query`` (the query string as sent,
    parsed for the parameters); ``headers`` (lower-case names; default: JSON content); ``body``: the
    text as sent (None: no body); ``claims``: the JWT authorizer's claims, ``iam``: the IAM
    authorizer's caller (neither: no authorizer); ``at_ms``: request time, ms since the epoch (UTC;
    default now); ``request_id``: default random; ``user_agent``: default the header's."""
    if raw_query is None:
        raw_query = urlencode(query or {})
    elif query is None:
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
    headers = {"content-type": "application/json"} if headers is None else headers
    at_ms = int(time.time() * 1000) if at_ms is None else at_ms
    authorizer: dict[str, Any] = {}
    if claims is not None:
        authorizer["jwt"] = {"claims": claims, "scopes": None}
    if iam is not None:
        authorizer["iam"] = iam
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": raw_query,
        "headers": headers, "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "000000000000", "apiId": api_id, "domainName": domain, "stage": "$default",
            "http": {"method": method, "path": path, "protocol": protocol, "sourceIp": source_ip,
                     "userAgent": headers.get("user-agent", "") if user_agent is None else user_agent},
            "requestId": request_id or secrets.token_hex(8), "routeKey": "$default",
            "time": datetime.fromtimestamp(at_ms / 1000, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": at_ms,
            **({"authorizer": authorizer} if authorizer else {}),
        },
        "body": body, "isBase64Encoded": False,
    }
