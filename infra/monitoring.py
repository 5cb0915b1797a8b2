"""Alarms and a dashboard: errors and throttles of every function, the scheduler's failures and its
dead-letter queue, the WebSocket API's traffic and the platform's own metrics (Powertools EMF)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants

# The messages graphed by action (the handler counts every action; these are the ones that matter).
MESSAGE_ACTIONS = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "StartTransaction",
                   "StopTransaction", "CallResult", "CallError", "Malformed")


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: dict, api_id: str, stage: str,
                 scheduler_dlq: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cw.Alarm] = []
        five = Duration.minutes(5)
        for name, function in functions.items():
            self.alarms.append(function.metric_errors(period=five).create_alarm(
                self, f"{name}Errors", threshold=1, evaluation_periods=1,
                alarm_description=f"{name} function errors (any in 5 minutes)",
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
            self.alarms.append(function.metric_throttles(period=five).create_alarm(
                self, f"{name}Throttles", threshold=1, evaluation_periods=1,
                alarm_description=f"{name} function throttled", treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
        self.alarms.append(scheduler_dlq.metric_approximate_number_of_messages_visible(period=five).create_alarm(
            self, "SchedulerDeadLetters", threshold=1, evaluation_periods=1,
            alarm_description="re-plan requests that failed every retry", treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
        platform = lambda name, stat="Sum": cw.Metric(  # noqa: E731
            namespace="CSMS", metric_name=name, dimensions_map={"service": constants.SERVICE}, statistic=stat, period=five)
        self.alarms.append(platform("SchedulerSkipped").create_alarm(
            self, "SchedulerSkippedVehicles", threshold=1, evaluation_periods=1,
            alarm_description="the scheduler could not plan some vehicles", treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
        # Refused handshakes (wrong key, unknown id, throttled source), counted from the authorizer's
        # own log lines: nothing extra per handshake. Someone is guessing keys or ids: the log lines
        # give the charger and the source; GET /v1/chargers/{id}/auth-failures and /v1/auth-failures/{ip}.
        refused = logs.MetricFilter(
            self, "AuthFailuresFilter", log_group=functions["Authorizer"].log_group, metric_namespace="CSMS",
            metric_name="AuthFailures", metric_value="1", default_value=0,
            filter_pattern=logs.FilterPattern.string_value("$.message", "=", "connection refused"))
        auth_failures = refused.metric(statistic="Sum", period=five)
        self.alarms.append(auth_failures.create_alarm(
            self, "AuthFailures", threshold=constants.AUTH_FAILURES_ALARM, evaluation_periods=1,
            alarm_description="chargers' handshakes refused (wrong key, unknown id, throttled source): "
                              "someone may be guessing keys; see the authorizer's log for charger and source",
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING))
        api = lambda name: cw.Metric(  # noqa: E731
            namespace="AWS/ApiGateway", metric_name=name, dimensions_map={"ApiId": api_id, "Stage": stage},
            statistic="Sum", period=five)
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{constants.STACK_NAME}-platform")
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Charger messages and connects", left=[api("MessageCount"), api("ConnectCount")]),
            cw.GraphWidget(title="API errors", left=[api("ClientError"), api("ExecutionError"), api("IntegrationError")]),
            cw.GraphWidget(title="Function errors", left=[f.metric_errors(period=five) for f in functions.values()]),
            cw.GraphWidget(title="Function duration p99",
                           left=[f.metric_duration(period=five, statistic="p99") for f in functions.values()]),
            cw.GraphWidget(title="Smart charging", left=[platform("VehiclesPlanned"), platform("ProfilesQueued"),
                                                         platform("SchedulerSkipped")]),
            cw.GraphWidget(title="Protocol errors", left=[platform("CallErrors"), platform("HandlerErrors"),
                                                          platform("CallsSentBySweep")]),
            cw.GraphWidget(title="Connected chargers", left=[platform("ConnectedChargers", "Maximum")]),
            cw.GraphWidget(title="Refused handshakes", left=[auth_failures]),
            cw.GraphWidget(title="Messages by action", left=[
                cw.Metric(namespace="CSMS", metric_name="Messages", statistic="Sum", period=five,
                          dimensions_map={"service": constants.SERVICE, "action": action}, label=action)
                for action in MESSAGE_ACTIONS]),
            cw.GraphWidget(title="Charging profiles", left=[platform("ProfilesQueued"), platform("ProfilesAccepted"),
                                                            platform("ProfilesRejected")]),
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )
