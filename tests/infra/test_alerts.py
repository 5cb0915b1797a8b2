"""Operator alerts in the synthesised stack (issue 22): one EventBridge rule per alert kind to one
encrypted SNS topic, an alarm on each rule's count, and exactly the functions that raise alerts
allowed to put events on the bus, with the bus named in their environment."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from adapters.alert_events import DETAIL_TYPE, SOURCE
from csms.console.alerts import KINDS


def _of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_a_rule_per_kind_sends_its_alerts_to_one_encrypted_topic(template, resources):
    (topic_id, topic), = _of_type(resources, "AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    rules = [r["Properties"] for r in _of_type(resources, "AWS::Events::Rule").values()
             if "EventPattern" in r["Properties"]]
    kinds = sorted(r["EventPattern"]["detail"]["kind"][0] for r in rules)
    assert kinds == sorted(KINDS)
    for rule in rules:
        assert rule["EventPattern"]["source"] == [SOURCE] and rule["EventPattern"]["detail-type"] == [DETAIL_TYPE]
        assert rule["Targets"][0]["Arn"] == {"Ref": topic_id}
    # EventBridge may publish to the topic
    template.has_resource_properties("AWS::SNS::TopicPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": "sns:Publish", "Principal": {"Service": "events.amazonaws.com"}})])}})


def test_an_alarm_watches_each_kinds_count_and_notifies_the_topic(resources):
    alarms = [a["Properties"] for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("Namespace") == "AWS/Events"]
    assert len(alarms) == len(KINDS)
    for alarm in alarms:
        assert alarm["MetricName"] == "TriggeredRules" and alarm["Statistic"] == "Sum"
        assert alarm["Dimensions"][0]["Name"] == "RuleName" and alarm["AlarmActions"]


def test_only_the_functions_that_raise_alerts_may_put_events(resources):
    putters = set()
    policies = {**_of_type(resources, "AWS::IAM::Policy"), **_of_type(resources, "AWS::IAM::ManagedPolicy")}
    for policy in policies.values():  # (Message's grants overflow into managed policies)
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any("events:PutEvents" in json.dumps(s.get("Action")) for s in statements):
            putters |= {r["Ref"] for r in policy["Properties"].get("Roles", [])}
    functions = {k: v for k, v in _of_type(resources, "AWS::Lambda::Function").items()
                 if v["Properties"].get("Handler", "").startswith("handlers.")}
    raisers = {f["Properties"]["Handler"].split(".")[1] for f in functions.values()
               if f["Properties"]["Role"]["Fn::GetAtt"][0] in putters}
    assert raisers == {"default", "sweeper", "authorizer"}
    for function in functions.values():
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        assert ("ALERT_EVENT_BUS" in env) == (function["Properties"]["Handler"].split(".")[1] in raisers)
