"""Hostile bodies on every route of the HTTP API, as an operator, a driver and nobody: never a 500,
never a change to stored state (issue 21). Plus the named cases: deep nesting, a driver on operator
routes, a key of spaces."""

from __future__ import annotations

import json

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import http_api
from adapters.dynamo.models import MODELS
from tests.integration.test_http_api import ALICE, OPERATOR, call, fleet  # noqa: F401 (fixture)

ROUTES = sorted({(r.method if isinstance(r.method, str) else r.method[0], r.openapi_path)
                 for r in http_api.app._static_routes + http_api.app._dynamic_routes})
IDS = ["A1", "B1", "nope", "x" * 60, "%00", "..%2F"]
# Routes that take no body: an operator's call on an existing charger does what it says
BODYLESS_CHANGES = {("DELETE", "/v1/chargers/{charger_id}"), ("POST", "/v1/chargers/{charger_id}/rotate-key"),
                    ("DELETE", "/v1/events/{event_id}")}


def _stored() -> str:
    client = boto3.client("dynamodb", region_name="eu-west-2")
    items = {}
    for model in MODELS.values():
        items[model.Meta.table_name] = sorted(json.dumps(i, sort_keys=True) for p in client.get_paginator("scan").paginate(
            TableName=model.Meta.table_name) for i in p["Items"] if not i.get("pk", {}).get("S", "").startswith("authfail#"))
    return json.dumps(items)


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
hostile_json = st.one_of(
    # anything, with a key no model accepts (every body model forbids extra fields)
    st.dictionaries(st.text(max_size=10), st.recursive(json_leaf, lambda c: st.lists(c, max_size=3)
                                                       | st.dictionaries(st.text(max_size=5), c, max_size=3)),
                    max_size=4).map(lambda d: json.dumps({**d, "zz_hostile": 1})),
    # not an object at all
    st.recursive(json_leaf, lambda c: st.lists(c, max_size=3), max_leaves=8).map(json.dumps),
    # deep nesting, with or without a valid-looking end
    st.integers(33, 5000).map(lambda n: "[" * n + "]" * n),
    st.integers(33, 5000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    # not JSON
    st.text(max_size=200),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), who=st.sampled_from([OPERATOR, ALICE, None]), path_id=st.sampled_from(IDS),
       body=hostile_json)
def test_hostile_bodies_on_every_route_never_500_and_change_nothing(fleet, route, who, path_id, body):
    method, template = route
    path = template.replace("{charger_id}", path_id).replace("{command_id}", path_id).replace(
        "{transaction_id}", "1").replace("{event_id}", path_id).replace("{source}", path_id)
    before = _stored()
    status, answer = call(method, path, who=who, raw_body=body)
    assert 400 <= status < 500 or (status < 300 and (method == "GET" or route in BODYLESS_CHANGES)), (status, answer)
    if status >= 400:
        assert isinstance(answer, dict) and answer.get("message")
    if not (who is OPERATOR and route in BODYLESS_CHANGES and status < 300):
        assert _stored() == before


@pytest.mark.parametrize("who", [OPERATOR, ALICE, None])
def test_deeply_nested_json_is_a_400_not_a_recursion_error(fleet, who):
    deep = "[" * 1000 + "]" * 1000  # ~2 KB: was a RecursionError, a 500
    for method, path in [("POST", "/v1/chargers"), ("PUT", "/v1/chargers/A1/preference"),
                         ("POST", "/v1/chargers/A1/commands"), ("POST", "/v1/events"), ("PUT", "/v1/chargers/A1/driver")]:
        status, answer = call(method, path, who=who, raw_body=deep)
        assert status == 400 and "nests deeper" in answer["message"]


def test_a_body_over_the_limit_is_a_413(fleet):
    status, answer = call("POST", "/v1/chargers", raw_body=json.dumps({"id": "x" * 300_000}))
    assert status == 413 and answer["message"]


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/chargers", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
    ("POST", "/v1/chargers", {"id": "CPX"}),
    ("POST", "/v1/chargers/A1/rotate-key", None),
    ("PUT", "/v1/chargers/A1/driver", {"driver": "alice"}),
])
def test_a_driver_gets_403_or_4xx_never_500_on_operator_routes(fleet, method, path, body):
    status, answer = call(method, path, who=ALICE, body=body)
    assert 400 <= status < 500 and answer["message"]


@pytest.mark.parametrize("key", [" " * 20, " " + "a" * 19, "a" * 19 + " ", "\t" * 20])
def test_a_key_of_spaces_or_with_edge_spaces_is_refused(fleet, key):
    status, answer = call("POST", "/v1/chargers", body={"id": "CPS", "authorization_key": key})
    assert status in (400, 422) and answer["message"]
    assert call("GET", "/v1/chargers/CPS")[0] == 404
