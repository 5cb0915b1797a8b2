"""Operator alerts (issue 22, ``csms.console.alerts``): each alert is an EventBridge event on the
account's default bus (source ``csms``, detail-type ``csms alert``); a rule per kind sends it to one
SNS topic that operators subscribe to (e-mail, SMS, chat), and a CloudWatch alarm per kind watches
its count (the rule's TriggeredRules) and notifies the same topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from adapters.alert_events import DETAIL_TYPE, SOURCE
from adapters.settings import ENV_ALERT_EVENT_BUS
from csms.console.alerts import KINDS

BUS = "default"
# who raises alerts: Message (faulted, profiles refused, the StartTransaction's check), Sweeper (offline,
# open too long), Authorizer (repeated authentication failures)
RAISERS = ("Message", "Sweeper", "Authorizer")
# an alarm per kind when its count in 5 minutes reaches this
ALARM_AT = {"offline": 1, "faulted": 1, "long_transaction": 1, "profiles_refused": 1, "auth_failures": 1}


class Alerts(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: dict) -> None:
        super().__init__(scope, construct_id)
        # SNS encrypted at rest with a key EventBridge and CloudWatch may use (the AWS-managed SNS key
        # admits neither)
        self.key = kms.Key(self, "TopicKey", enable_key_rotation=True, description="csms alerts topic")
        for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com"):
            self.key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", display_name="csms alerts", master_key=self.key, enforce_ssl=True)
        bus = events.EventBus.from_event_bus_name(self, "Bus", BUS)
        for name in RAISERS:
            bus.grant_put_events_to(functions[name])
            functions[name].add_environment(ENV_ALERT_EVENT_BUS, BUS)
        self.rules: dict[str, events.Rule] = {}
        self.alarms: dict[str, cw.Alarm] = {}
        for kind in KINDS:
            title = "".join(part.capitalize() for part in kind.split("_"))
            rule = events.Rule(self, f"{title}Rule", event_bus=bus, description=f"csms alert: {kind}",
                               event_pattern=events.EventPattern(source=[SOURCE], detail_type=[DETAIL_TYPE],
                                                                 detail={"kind": [kind]}),
                               targets=[targets.SnsTopic(self.topic)])
            self.rules[kind] = rule
            count = cw.Metric(namespace="AWS/Events", metric_name="TriggeredRules",
                              dimensions_map={"RuleName": rule.rule_name}, statistic="Sum", period=Duration.minutes(5))
            alarm = count.create_alarm(self, f"{title}Alarm", threshold=ALARM_AT[kind], evaluation_periods=1,
                                       alarm_description=f"csms alerts of kind {kind} (GET /v1/alerts?kind={kind})",
                                       treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
            self.alarms[kind] = alarm
