"""The embedded DynamoDB's write-ahead journal (csms_local.journal) over moto's DynamoDB app:
what was answered is rebuilt exactly after a restart, whatever the crash left behind."""

from __future__ import annotations

import json
import shutil

import pytest
from moto.backends import get_backend
from werkzeug.test import Client

from csms_local.dynamo_serve import build_app
from csms_local.journal import JOURNAL_PREFIX, SNAPSHOT, TARGET_PREFIX

AUTH = "AWS4-HMAC-SHA256 Credential=local/20240101/eu-west-2/dynamodb/aws4_request, SignedHeaders=host, Signature=0"


def _fresh_app(state_dir):
    """A restart: moto's in-memory tables gone, the state rebuilt from ``state_dir``."""
    for backend in get_backend("dynamodb").values():
        backend.reset()
    app = build_app(state_dir)
    app.load()
    return app


def request(app, action: str, payload: dict) -> tuple[int, dict]:
    response = Client(app).post("/", data=json.dumps(payload), headers={
        "X-Amz-Target": TARGET_PREFIX + action, "Content-Type": "application/x-amz-json-1.0",
        "Authorization": AUTH})
    return response.status_code, json.loads(response.data or b"{}")


def counter(app) -> int:
    status, body = request(app, "GetItem", {"TableName": "keys", "Key": {"pk": {"S": "counter"}}, "ConsistentRead": True})
    return int(body["Item"]["value"]["N"]) if "Item" in body else 0


def next_id(app) -> int:
    status, body = request(app, "UpdateItem", {
        "TableName": "keys", "Key": {"pk": {"S": "counter"}}, "UpdateExpression": "ADD #v :one",
        "ExpressionAttributeNames": {"#v": "value"}, "ExpressionAttributeValues": {":one": {"N": "1"}},
        "ReturnValues": "UPDATED_NEW"})
    assert status == 200, body
    return int(body["Attributes"]["value"]["N"])


@pytest.fixture
def app(tmp_path):
    app = _fresh_app(tmp_path)
    status, body = request(app, "CreateTable", {
        "TableName": "keys", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"})
    assert status == 200, body
    assert request(app, "UpdateTimeToLive", {"TableName": "keys", "TimeToLiveSpecification": {
        "Enabled": True, "AttributeName": "expires_at"}})[0] == 200
    yield app
    app.close()


def test_answered_writes_come_back_after_a_restart_and_ids_go_on(tmp_path, app):
    assert [next_id(app) for _ in range(3)] == [1, 2, 3]
    status, _ = request(app, "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "keys", "Item": {"pk": {"S": "a"}, "value": {"N": "7"}}}},
        {"Put": {"TableName": "keys", "Item": {"pk": {"S": "b"}, "value": {"N": "8"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}}]})
    assert status == 200
    assert request(app, "DeleteItem", {"TableName": "keys", "Key": {"pk": {"S": "a"}}})[0] == 200
    refused, _ = request(app, "PutItem", {"TableName": "keys", "Item": {"pk": {"S": "b"}, "value": {"N": "9"}},
                                         "ConditionExpression": "attribute_not_exists(pk)"})
    assert refused == 400  # a refused write is not journaled: replaying it would change nothing anyway
    app.close()  # no compaction: the state comes from the journal alone (as after a SIGKILL)

    again = _fresh_app(tmp_path)
    assert counter(again) == 3 and next_id(again) == 4
    _, b = request(again, "GetItem", {"TableName": "keys", "Key": {"pk": {"S": "b"}}})
    assert b["Item"]["value"] == {"N": "8"}
    assert "Item" not in request(again, "GetItem", {"TableName": "keys", "Key": {"pk": {"S": "a"}}})[1]
    _, ttl = request(again, "DescribeTimeToLive", {"TableName": "keys"})
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    again.close()


def test_a_torn_last_line_is_dropped_and_the_rest_replayed(tmp_path, app):
    assert [next_id(app) for _ in range(2)] == [1, 2]
    app.close()
    journal = sorted(tmp_path.glob(JOURNAL_PREFIX + "*"))[-1]
    with open(journal, "ab") as f:
        f.write(b'0000abcd {"r":"eu-west-2","t":"UpdateItem","b":"{\\"TableNa')  # the crash cut this write
    again = _fresh_app(tmp_path)
    assert counter(again) == 2 and next_id(again) == 3
    again.close()


def test_compaction_folds_the_journal_and_a_crash_before_deleting_it_applies_nothing_twice(tmp_path, app):
    assert [next_id(app) for _ in range(5)] == [1, 2, 3, 4, 5]
    kept = tmp_path / "before-compaction"
    kept.mkdir()
    for path in tmp_path.glob(JOURNAL_PREFIX + "*"):
        shutil.copy(path, kept / path.name)
    assert app.compact() == 1  # one item: the counter
    assert next_id(app) == 6  # into the new journal generation
    app.close()
    # The crash came after the new snapshot was renamed into place, before the old journal was deleted.
    for path in kept.iterdir():
        shutil.copy(path, tmp_path / path.name)
    again = _fresh_app(tmp_path)
    assert (tmp_path / SNAPSHOT).exists()
    assert counter(again) == 6 and next_id(again) == 7
    assert not any((tmp_path / p.name).exists() for p in kept.iterdir())  # folded journals are removed on load
    again.close()
