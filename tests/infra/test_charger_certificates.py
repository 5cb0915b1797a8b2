"""Security profile 3 at the edge in the synthesised template: the trust store from the CA bundle,
viewer mTLS in optional mode, the certificate and TLS headers reaching the origin, the origin
secret CloudFront adds and the authorizer checks, and the edge TLS policy option."""

from __future__ import annotations

import pytest

from csms.ocpp import certificates as certs
from csms.ocpp import lockout
from infra.charger_certificates import parse_s3_uri
from tests.infra.conftest import EDGE_CONTEXT


def _of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _charger_distribution(resources):
    return next(d["Properties"]["DistributionConfig"] for d in _of_type(resources, "AWS::CloudFront::Distribution").values()
                if "OCPP" in d["Properties"]["DistributionConfig"].get("Comment", ""))


def test_trust_store_reads_the_ca_bundle_from_s3(resources):
    stores = list(_of_type(resources, "AWS::CloudFront::TrustStore").values())
    assert len(stores) == 1
    location = stores[0]["Properties"]["CaCertificatesBundleSource"]["CaCertificatesBundleS3Location"]
    assert (location["Bucket"], location["Key"]) == ("cpo-pki", "chargers/ca-bundle.pem")


def test_charger_distribution_has_viewer_mtls_optional_with_that_trust_store(resources):
    store_id = next(iter(_of_type(resources, "AWS::CloudFront::TrustStore")))
    mtls = _charger_distribution(resources)["ViewerMtlsConfig"]
    assert mtls["Mode"] == "optional"  # chargers without a certificate go on to Basic auth
    assert mtls["TrustStoreConfig"]["TrustStoreId"] == {"Fn::GetAtt": [store_id, "Id"]}
    assert mtls["TrustStoreConfig"]["IgnoreCertificateExpiry"] is False


def test_certificate_and_tls_headers_reach_the_origin(resources):
    behavior = _charger_distribution(resources)["DefaultCacheBehavior"]
    policies = _of_type(resources, "AWS::CloudFront::OriginRequestPolicy")
    caches = _of_type(resources, "AWS::CloudFront::CachePolicy")
    forwarded = set(policies[behavior["OriginRequestPolicyId"]["Ref"]]["Properties"]["OriginRequestPolicyConfig"]
                    ["HeadersConfig"]["Headers"])
    keyed = set(caches[behavior["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
                ["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"])
    # everything the authorizer reads (csms.ocpp.certificates) arrives, by one policy or the other
    needed = {certs.CERT_PRESENT, certs.CERT_SUBJECT, certs.CERT_ISSUER, certs.CERT_SERIAL, certs.CERT_SHA256,
              certs.CERT_VALIDITY, certs.VIEWER_TLS, "Authorization"}
    assert needed <= forwarded | keyed
    assert len(forwarded) <= 10 and len(keyed) <= 10  # CloudFront's per-policy header quota


def test_the_viewer_address_reaches_the_authorizer_outside_the_cache_key(resources):
    # The authorizer's brute-force source behind the shared edge address (csms.ocpp.lockout.handshake_source)
    behavior = _charger_distribution(resources)["DefaultCacheBehavior"]
    policy = _of_type(resources, "AWS::CloudFront::OriginRequestPolicy")[behavior["OriginRequestPolicyId"]["Ref"]]
    assert lockout.VIEWER_ADDRESS in policy["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]["Headers"]
    cache = _of_type(resources, "AWS::CloudFront::CachePolicy")[behavior["CachePolicyId"]["Ref"]]
    keyed = cache["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]
    assert lockout.VIEWER_ADDRESS not in keyed["Headers"]  # a per-connection value: never a cache key


def test_cloudfront_adds_the_origin_secret_and_the_authorizer_checks_it(resources):
    secrets = _of_type(resources, "AWS::SecretsManager::Secret")
    assert len(secrets) == 1
    secret_id = next(iter(secrets))
    origin = _charger_distribution(resources)["Origins"][0]
    headers = {h["HeaderName"]: h["HeaderValue"] for h in origin["OriginCustomHeaders"]}
    value = headers[certs.ORIGIN_SECRET_HEADER]
    # a dynamic reference CloudFormation resolves at deploy: the value is never in the template
    assert "{{resolve:secretsmanager:" in str(value) and secret_id in str(value)
    authorizer = next(f["Properties"] for f in _of_type(resources, "AWS::Lambda::Function").values()
                      if f["Properties"]["Handler"] == "handlers.authorizer.lambda_handler")
    env = authorizer["Environment"]["Variables"]
    assert env["ORIGIN_SECRET_ARN"] == {"Ref": secret_id}
    assert env["CPO_NAME"] == EDGE_CONTEXT["cpoName"]
    role = authorizer["Role"]["Fn::GetAtt"][0]
    policies = [p["Properties"] for p in _of_type(resources, "AWS::IAM::Policy").values()
                if {"Ref": role} in p["Properties"]["Roles"]]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert any("secretsmanager:GetSecretValue" in s["Action"] and s["Resource"] == {"Ref": secret_id}
               for s in statements)


def test_edge_tls_policy_is_the_deploy_option(resources):
    assert _charger_distribution(resources)["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2019"


@pytest.mark.parametrize("uri", ["https://bucket/key", "s3://bucket", "s3:///key"])
def test_a_ca_bundle_that_is_not_an_s3_uri_is_refused(uri):
    with pytest.raises(ValueError):
        parse_s3_uri(uri)


def test_critical_security_events_in_the_message_log_are_alarmed(resources):
    filters = [f["Properties"] for f in _of_type(resources, "AWS::Logs::MetricFilter").values()
               if f["Properties"]["MetricTransformations"][0]["MetricName"] == "CriticalSecurityEvents"]
    assert len(filters) == 1 and "critical security event" in filters[0]["FilterPattern"]
    message_logs = next(f["Properties"]["LoggingConfig"]["LogGroup"] for f in _of_type(resources, "AWS::Lambda::Function").values()
                        if f["Properties"]["Handler"] == "handlers.default.lambda_handler")
    assert filters[0]["LogGroupName"] == message_logs
    assert any(a["Properties"]["MetricName"] == "CriticalSecurityEvents" and a["Properties"]["Threshold"] == 1
               for a in _of_type(resources, "AWS::CloudWatch::Alarm").values())


def test_the_charger_ca_key_is_a_sign_only_kms_key_only_the_message_function_uses(resources):
    keys = {k: v["Properties"] for k, v in _of_type(resources, "AWS::KMS::Key").items()
            if v["Properties"].get("KeySpec") == "ECC_NIST_P256" and "Charger CA" in v["Properties"]["Description"]}
    assert len(keys) == 1
    key_id, key = next(iter(keys.items()))
    assert key["KeyUsage"] == "SIGN_VERIFY"
    assert resources[key_id]["DeletionPolicy"] == "Retain"
    message = next(f["Properties"] for f in _of_type(resources, "AWS::Lambda::Function").values()
                   if f["Properties"]["Handler"] == "handlers.default.lambda_handler")
    assert message["Environment"]["Variables"]["CHARGER_CA_KMS_KEY_ID"] == {"Ref": key_id}
    signers = set()
    # a role's statements spill into a managed policy once its inline policy is full (the Message role's is)
    policies = [*_of_type(resources, "AWS::IAM::Policy").values(), *_of_type(resources, "AWS::IAM::ManagedPolicy").values()]
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "kms:Sign" in actions and statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}:
                signers |= {r["Ref"] for r in policy["Properties"]["Roles"]}
    assert signers == {message["Role"]["Fn::GetAtt"][0]}


def test_firmware_keys_sign_only_the_api_function_signs_images_and_nobody_uses_the_root(resources):
    keys = {v["Properties"]["Description"].split(":")[0]: k for k, v in _of_type(resources, "AWS::KMS::Key").items()
            if v["Properties"].get("KeySpec") == "ECC_NIST_P256"}
    root, signing = keys["Firmware root"], keys["Signs verified firmware images for SignedUpdateFirmware"]
    for key in (root, signing):
        assert resources[key]["Properties"]["KeyUsage"] == "SIGN_VERIFY" and resources[key]["DeletionPolicy"] == "Retain"
    api = next(f["Properties"] for f in _of_type(resources, "AWS::Lambda::Function").values()
               if f["Properties"]["Handler"] == "handlers.api.lambda_handler")
    assert api["Environment"]["Variables"]["FIRMWARE_SIGNING_KMS_KEY_ID"] == {"Ref": signing}
    users: dict[str, set] = {root: set(), signing: set()}
    policies = [*_of_type(resources, "AWS::IAM::Policy").values(), *_of_type(resources, "AWS::IAM::ManagedPolicy").values()]
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for key in users:
                if statement.get("Resource") == {"Fn::GetAtt": [key, "Arn"]}:
                    users[key] |= {r["Ref"] for r in policy["Properties"]["Roles"]}
    assert users == {root: set(), signing: {api["Role"]["Fn::GetAtt"][0]}}
