"""Firmware and diagnostics buckets in the synthesised stack: each function holds exactly the object
actions it needs on exactly those buckets (least privilege), and pre-signed URLs expire whatever
they were signed for (the buckets refuse signatures older than MAX_URL_AGE_S)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from moto import mock_aws

from adapters.files import MAX_URL_AGE_S, S3Files
from csms.firmware.campaigns import MAX_URL_TTL_S
from infra import constants


def _of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _function_roles(resources) -> dict[str, str]:
    """Our function name -> its role's logical id."""
    out = {}
    for logical_id, function in _of_type(resources, "AWS::Lambda::Function").items():
        for name in constants.FUNCTIONS:
            if logical_id.startswith(f"Functions{name}") and function["Properties"]["Handler"].startswith("handlers."):
                out[name] = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return out


def _bucket_ids(resources) -> dict[str, str]:
    ids = {}
    for logical_id in _of_type(resources, "AWS::S3::Bucket"):
        for kind in ("Firmware", "Diagnostics"):
            if logical_id.startswith(f"Files{kind}"):
                ids[kind.lower()] = logical_id
    return ids


def _s3_grants(resources) -> dict[str, dict[str, set[str]]]:
    """role logical id -> bucket logical id (or the raw resource) -> s3 actions allowed."""
    grants: dict[str, dict[str, set[str]]] = {}
    policies = {**_of_type(resources, "AWS::IAM::Policy"), **_of_type(resources, "AWS::IAM::ManagedPolicy")}
    for policy in policies.values():
        roles = [r["Ref"] for r in policy["Properties"].get("Roles", [])]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            s3 = {a for a in actions if a.startswith("s3:")}
            if not s3 or statement["Effect"] != "Allow":
                continue
            resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources_:
                text = json.dumps(resource)
                target = next((b for b in _bucket_ids(resources).values() if f'"{b}"' in text), text)
                assert text.endswith('"/*"]]}') or target == text, f"not an object ARN: {text}"
                for role in roles:
                    grants.setdefault(role, {}).setdefault(target, set()).update(s3)
    return grants


def test_functions_hold_exactly_the_object_actions_they_need_on_the_two_buckets(resources):
    roles, buckets, grants = _function_roles(resources), _bucket_ids(resources), _s3_grants(resources)
    assert set(buckets) == {"firmware", "diagnostics"} and set(roles) == set(constants.FUNCTIONS)
    # other buckets of the stack (the meter archive, issue 15) are not firmware's to test
    others = {b for b in _of_type(resources, "AWS::S3::Bucket") if b not in buckets.values()}
    grants = {role: {k: v for k, v in by.items() if not any(f'"{b}"' in k for b in others)}
              for role, by in grants.items()}
    for name, role in roles.items():
        expected = {buckets[kind]: set(actions) for kind, actions in constants.BUCKET_ACCESS.get(name, {}).items()}
        assert grants.get(role, {}) == expected, name
    # nothing broader anywhere: no listing, deleting, bucket-level or wildcard S3 action for our functions
    for role in roles.values():
        for actions in grants.get(role, {}).values():
            assert actions <= {"s3:GetObject", "s3:PutObject"}


def test_functions_that_hand_out_urls_know_their_buckets(resources):
    buckets = _bucket_ids(resources)
    for logical_id, function in _of_type(resources, "AWS::Lambda::Function").items():
        name = next((n for n in constants.FUNCTIONS if logical_id.startswith(f"Functions{n}")), None)
        if name is None or not function["Properties"]["Handler"].startswith("handlers."):
            continue
        env = function["Properties"]["Environment"]["Variables"]
        assert "FIRMWARE_TABLE" in env
        for kind in ("firmware", "diagnostics"):
            variable = f"{kind.upper()}_BUCKET"
            if kind in constants.BUCKET_ACCESS.get(name, {}):
                assert env[variable] == {"Ref": buckets[kind]}, name
            else:
                assert variable not in env, name


def test_presigned_urls_expire_at_the_bucket_whatever_they_were_signed_for(resources):
    buckets = _bucket_ids(resources)
    policies = _of_type(resources, "AWS::S3::BucketPolicy").values()
    for kind, bucket in buckets.items():
        (statement,) = [s for p in policies if p["Properties"]["Bucket"] == {"Ref": bucket}
                        for s in p["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "PresignedUrlsExpire"]
        assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"}
        assert set(statement["Action"]) == {"s3:GetObject", "s3:PutObject"}
        assert statement["Condition"] == {"NumericGreaterThan": {"s3:signatureAge": str(MAX_URL_AGE_S * 1000)}}
    assert MAX_URL_TTL_S <= MAX_URL_AGE_S  # a campaign cannot ask for a URL the bucket would refuse


def test_urls_are_signed_for_their_time_to_live_at_most_the_bucket_limit():
    with mock_aws():
        files = S3Files("fw", "diag", "eu-west-2")
        short = parse_qs(urlsplit(files.firmware_url("a/b.bin", 600)).query)
        long = parse_qs(urlsplit(files.firmware_url("a/b.bin", 7 * 24 * 3600)).query)
        upload = files.image_upload("a/b.bin", 10, "ab" * 32, 900)
        assert short["X-Amz-Expires"] == ["600"] and long["X-Amz-Expires"] == [str(MAX_URL_AGE_S)]
        assert parse_qs(urlsplit(upload.url).query)["X-Amz-Expires"] == ["900"]
        assert upload.method == "PUT" and upload.headers["Content-Length"] == "10"
        assert "x-amz-checksum-sha256" in upload.headers
