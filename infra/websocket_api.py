"""The WebSocket API chargers connect to: $connect (REQUEST authorizer), $default (two-way), $disconnect."""

from __future__ import annotations

import jsii
from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from adapters.settings import ENV_MANAGEMENT_API_ENDPOINT
from infra import constants


# One line per message (every MeterValues): kept short, it is a cost line of its own (csms cost: ~47 bytes
# plus CloudWatch's 26-byte event overhead, in the Infrequent Access class). The source IP is logged on
# $connect by the authorizer; errors carry their message. No connection id (16 bytes, a fifth of the
# line): the $connect and $disconnect handlers log it with the charge point id, which every line has.
ACCESS_LOG_FORMAT = (
    "$context.requestId $context.routeKey $context.status "
    "$context.authorizer.chargePointId $context.error.messageString $context.integrationErrorMessage"
)


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, destination, log_format):
        self._destination = destination
        self._format = log_format

    @property
    def destination(self):
        return self._destination

    @property
    def format(self):
        return self._format


class WebSocketApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: dict, quotas=None) -> None:
        super().__init__(scope, construct_id)
        authorizer = authorizers.WebSocketLambdaAuthorizer(
            "BasicAuth",
            functions["Authorizer"],
            # Basic auth arrives in Authorization; a handshake without it is refused before the Lambda runs.
            identity_source=["route.request.header.Authorization"],
        )
        self.api = apigw.WebSocketApi(
            self,
            "Api",
            api_name="csms-ocpp16",
            connect_route_options=apigw.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("ConnectIntegration", functions["Connect"]),
                authorizer=authorizer,
            ),
            disconnect_route_options=apigw.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("DisconnectIntegration", functions["Disconnect"]),
            ),
        )
        # Two-way route: the Lambda's reply goes back to the charger without a management API call.
        self.default_route = self.api.add_route(
            "$default",
            integration=integrations.WebSocketLambdaIntegration("DefaultIntegration", functions["Message"]),
            return_response=True,
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    log_group_class=logs.LogGroupClass.INFREQUENT_ACCESS)
        self.stage = apigw.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=constants.STAGE_NAME,
            auto_deploy=True,
            # from the fleet size (infra/quotas.py): >= 3x the steady MeterValues rate
            throttle=apigw.ThrottleSettings(
                rate_limit=quotas.throttle_rate if quotas is not None else constants.THROTTLE_RATE,
                burst_limit=quotas.throttle_burst if quotas is not None else constants.THROTTLE_BURST),
            access_log_settings=_AccessLogs(
                apigw.LogGroupLogDestination(access_logs),
                apigateway.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
            ),
        )
        stack = Stack.of(self)
        self.management_endpoint = f"https://{self.api.api_id}.execute-api.{stack.region}.{stack.url_suffix}/{constants.STAGE_NAME}"
        manage = iam.PolicyStatement(
            actions=["execute-api:ManageConnections"],
            resources=[
                stack.format_arn(
                    service="execute-api",
                    resource=self.api.api_id,
                    resource_name=f"{constants.STAGE_NAME}/POST/@connections/*",
                )
            ],
        )
        for name in constants.POSTS_TO_CONNECTIONS:
            functions[name].add_environment(ENV_MANAGEMENT_API_ENDPOINT, self.management_endpoint)
            functions[name].add_to_role_policy(manage)
