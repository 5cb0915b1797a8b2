"""The operator / app HTTP API: API Gateway HTTP API with a Cognito user-pool JWT authorizer in
front of the Api function (``handlers.api``); operators are the pool's ``operators`` group."""

from __future__ import annotations

import jsii
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, destination):
        self._destination = destination

    @property
    def destination(self):
        return self._destination

    @property
    def format(self):
        return None  # API Gateway's default: request id, caller, time, route, status, length


class OperatorApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, function, web_origin: str | None = None,
                 auth_domain_prefix: str | None = None) -> None:
        super().__init__(scope, construct_id)
        # People sign in here: no self sign-up (operators invite drivers), strong passwords, TOTP MFA.
        self.user_pool = cognito.UserPool(
            self, "Users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN,
        )
        cognito.CfnUserPoolGroup(self, "Operators", user_pool_id=self.user_pool.user_pool_id,
                                 group_name=constants.OPERATOR_GROUP,
                                 description="Operators see and command the whole fleet; others see their own chargers")
        callback = (web_origin or "http://localhost:8444") + "/"
        self.client = self.user_pool.add_client(
            "Web",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            o_auth=cognito.OAuthSettings(flows=cognito.OAuthFlows(implicit_code_grant=True),
                                         scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                                         callback_urls=[callback], logout_urls=[callback]),
        )
        if auth_domain_prefix:  # the hosted sign-in page, which hands the web page its ID token
            self.domain = self.user_pool.add_domain(
                "SignIn", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=auth_domain_prefix))
        authorizer = authorizers.HttpUserPoolAuthorizer("Cognito", self.user_pool, user_pool_clients=[self.client])
        self.api = apigwv2.HttpApi(
            self, "Api",
            api_name=f"{Stack.of(self).stack_name}-operator-api",
            description="Chargers, sessions, preferences, commands, grid events, signals (docs/openapi.json)",
            create_default_stage=False,
            default_authorizer=authorizer,
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=[web_origin] if web_origin else ["*"],
                allow_headers=["authorization", "content-type"],
                allow_methods=[apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST,
                               apigwv2.CorsHttpMethod.PUT, apigwv2.CorsHttpMethod.DELETE],
            ),
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
        self.stage = apigwv2.HttpStage(
            self, "Stage", http_api=self.api, stage_name="$default", auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=constants.HTTP_THROTTLE_RATE,
                                              burst_limit=constants.HTTP_THROTTLE_BURST),
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(access_logs)),
        )
        self.api.add_routes(
            path=constants.API_PATH,
            methods=[apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST, apigwv2.HttpMethod.PUT, apigwv2.HttpMethod.DELETE],
            integration=integrations.HttpLambdaIntegration("Operations", function),
        )

    @property
    def url(self) -> str:
        return self.api.api_endpoint
