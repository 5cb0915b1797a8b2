"""CloudFront in front of the WebSocket API: chargers connect to wss://<distribution>/ocpp/<id>.

API Gateway WebSocket APIs have no path parameters (``/prod/CP001`` answers 403), so a
CloudFront Function copies the viewer path into the ``ws-uri`` header and rewrites the
path to the stage; the authorizer reads the charge point id from that header.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from constructs import Construct

from csms.ocpp import certificates as certs
from csms.ocpp import lockout
from infra import constants
from infra.charger_certificates import ChargerCertificates

# Certificate headers CloudFront may put in a cache key (the rest go in the origin request policy)
CACHE_KEY_CERT_HEADERS = (certs.CERT_PRESENT, certs.CERT_SUBJECT, certs.CERT_ISSUER, certs.CERT_SERIAL,
                          certs.CERT_SHA256)

FUNCTION_FILE = Path(__file__).with_name("ocpp_path_to_header.js")


def function_code() -> str:
    return FUNCTION_FILE.read_text().replace("__STAGE__", constants.STAGE_NAME).replace(
        "__HEADER__", constants.PATH_HEADER
    )


class ChargerEdge(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, api_id: str, domain_name: str | None = None,
                 certificate_arn: str | None = None, certificates: "ChargerCertificates | None" = None,
                 tls_policy: cloudfront.SecurityPolicyProtocol = cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
                 ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        mtls = certificates.viewer_mtls_config() if certificates is not None else None
        rewrite = cloudfront.Function(
            self,
            "PathToHeader",
            code=cloudfront.FunctionCode.from_inline(function_code()),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Moves /ocpp/<chargePointId> into the ws-uri header for the WebSocket API",
        )
        # Authorization can only reach the origin through the cache policy (CloudFront's rule);
        # a 1 s TTL keyed on it never shares anything between chargers (upgrades are not cached).
        cache = cloudfront.CachePolicy(
            self,
            "HandshakeCache",
            default_ttl=Duration.seconds(1),
            min_ttl=Duration.seconds(0),
            max_ttl=Duration.seconds(1),
            # With viewer mTLS the certificate's identity joins the key: these five may be cache-key
            # headers, and splitting the forwarded headers between the two policies keeps each within
            # CloudFront's quota of 10 headers per policy
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list(
                "Authorization", *(CACHE_KEY_CERT_HEADERS if mtls else ())),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
        )
        handshake = cloudfront.OriginRequestPolicy(
            self,
            "HandshakeHeaders",
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Extensions",
                constants.PATH_HEADER,
                # the negotiated TLS version and cipher, recorded per connection; the validity (origin only)
                certs.VIEWER_TLS,
                # the viewer's ip:port: the authorizer's brute-force source behind the shared edge address
                # (csms.ocpp.lockout.handshake_source; trusted only with the origin secret)
                lockout.VIEWER_ADDRESS,
                *((certs.CERT_VALIDITY,) if mtls else ()),
            ),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.all(),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
        )
        origin_domain = Fn.join("", [api_id, ".execute-api.", stack.region, ".", stack.url_suffix])
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="OCPP 1.6J chargers: wss://<domain>/ocpp/<chargePointId>",
            # Enforced only with a custom domain: the default *.cloudfront.net certificate allows TLSv1.
            # A deploy option (-c edgeTlsPolicy): docs/deploy.md compares each with the chargers' suites.
            minimum_protocol_version=tls_policy,
            domain_names=[domain_name] if domain_name else None,
            certificate=(acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
                         if certificate_arn else None),
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.HttpOrigin(
                    origin_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                    origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
                    # proves to the authorizer that the request came through CloudFront (csms.ocpp.admission)
                    custom_headers=({certs.ORIGIN_SECRET_HEADER: certificates.origin_secret_value}
                                    if certificates is not None else None),
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cache,
                origin_request_policy=handshake,
                function_associations=[
                    cloudfront.FunctionAssociation(function=rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)
                ],
            ),
        )
        if mtls is not None:
            # aws-cdk-lib 2.275's Distribution (L2) has no viewer mTLS property: set the L1's
            # DistributionConfig.ViewerMtlsConfig directly (escape hatch)
            self.distribution.node.default_child.add_property_override("DistributionConfig.ViewerMtlsConfig", mtls)
        host = domain_name or self.distribution.distribution_domain_name
        self.charger_url = Fn.join("", ["wss://", host, constants.OCPP_PATH_PREFIX])
