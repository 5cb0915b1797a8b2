"""The fanned-out periodic run in the template (infra/fleet_run.py): a scheduled dispatcher that is
never retried, two queues with dead-letter queues and alarms, SQS event sources with the batch size,
maximum concurrency and partial batch responses the handlers rely on, reserved concurrency."""

from __future__ import annotations

import json

from infra import constants
from infra.quotas import BACKGROUND


def _of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _function(resources, handler):
    return next((k, f["Properties"]) for k, f in _of_type(resources, "AWS::Lambda::Function").items()
                if f["Properties"]["Handler"] == handler)


def _queues(resources):
    queues = _of_type(resources, "AWS::SQS::Queue")
    main = {k: q["Properties"] for k, q in queues.items() if k.startswith("FleetRun") and "Queue" in k}
    dead = {k: q["Properties"] for k, q in queues.items() if k.startswith("FleetRun") and "DeadLetters" in k}
    return main, dead


def test_the_dispatcher_runs_every_period_and_a_failed_run_is_never_retried(resources):
    key, dispatcher = _function(resources, "handlers.fleet_run.dispatch")
    rules = [r["Properties"] for r in _of_type(resources, "AWS::Events::Rule").values()
             if key in json.dumps(r["Properties"]["Targets"])]
    assert [r["ScheduleExpression"] for r in rules] == [f"rate({constants.SCHEDULE_MINUTES} minutes)"]
    assert rules[0]["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    (config,) = [c["Properties"] for c in _of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
                 if key in json.dumps(c["Properties"]["FunctionName"])]
    assert config["MaximumRetryAttempts"] == 0
    # the whole-fleet scheduler is no longer on a schedule: it re-plans one charger per invoke
    scheduler_key, _ = _function(resources, "handlers.scheduler.lambda_handler")
    assert not any(scheduler_key in json.dumps(r["Properties"]["Targets"])
                   for r in _of_type(resources, "AWS::Events::Rule").values())


def test_each_queue_has_a_dead_letter_queue_with_an_alarm_and_is_encrypted_and_tls_only(resources):
    main, dead = _queues(resources)
    assert len(main) == 2 and len(dead) == 2
    receives = set()
    for props in main.values():
        target = json.dumps(props["RedrivePolicy"]["deadLetterTargetArn"])
        assert any(k in target for k in dead)
        receives.add(props["RedrivePolicy"]["maxReceiveCount"])
    assert receives == {constants.SHARD_MAX_RECEIVES, constants.SENDER_MAX_RECEIVES}
    for props in [*main.values(), *dead.values()]:
        assert props["SqsManagedSseEnabled"] is True
    policies = [p["Properties"] for p in _of_type(resources, "AWS::SQS::QueuePolicy").values()]
    tls_only = {json.dumps(q) for p in policies for s in p["PolicyDocument"]["Statement"]
                if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                for q in p["Queues"]}
    assert all(any(k in q for q in tls_only) for k in [*main, *dead])
    alarms = [a["Properties"] for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()]
    dlq_alarms = [a for a in alarms if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
                  and any(k in json.dumps(a["Dimensions"]) for k in dead)]
    assert len(dlq_alarms) == 2 and all(a["Threshold"] == 1 for a in dlq_alarms)
    backlog = [a for a in alarms if a["MetricName"] == "ApproximateAgeOfOldestMessage"]
    assert [a["Threshold"] for a in backlog] == [constants.FLEET_RUN_OLDEST_ALARM_S]


def test_planner_and_sender_consume_their_queues_with_bounded_concurrency_and_partial_batch_failures(resources):
    main, _ = _queues(resources)
    mappings = [m["Properties"] for m in _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
                if any(k in json.dumps(m["Properties"].get("EventSourceArn")) for k in main)]
    by_function = {}
    for handler, name, batch in (("handlers.fleet_run.plan_shard", "ShardPlanner", constants.PLANNER_BATCH),
                                 ("handlers.fleet_run.send_profiles", "ProfileSender", constants.SENDER_BATCH)):
        key, function = _function(resources, handler)
        (mapping,) = [m for m in mappings if key in json.dumps(m["FunctionName"])]
        assert mapping["BatchSize"] == batch
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # the pollers never invoke past the reservation (no throttled redeliveries eat the receive count)
        assert mapping["ScalingConfig"]["MaximumConcurrency"] == BACKGROUND[name] == function["ReservedConcurrentExecutions"]
        memory, timeout = constants.FUNCTION_SIZES[name]
        assert (function["MemorySize"], function["Timeout"]) == (memory, timeout)
        by_function[name] = (mapping, function)
    # a queue's visibility timeout outlasts its consumer's timeout (else a message is delivered twice at once)
    for props in main.values():
        assert props["VisibilityTimeout"] in (constants.PLANNER_VISIBILITY_S, constants.SENDER_VISIBILITY_S)
    assert constants.PLANNER_VISIBILITY_S >= 2 * constants.FUNCTION_SIZES["ShardPlanner"][1]
    assert constants.SENDER_VISIBILITY_S >= 6 * constants.FUNCTION_SIZES["ProfileSender"][1]
    _, dispatcher = _function(resources, "handlers.fleet_run.dispatch")
    assert dispatcher["ReservedConcurrentExecutions"] == 1


def test_fleet_run_functions_get_the_queues_and_only_the_rights_they_need(resources):
    main, _ = _queues(resources)
    (shard_key,) = [k for k in main if "Shard" in k]
    (send_key,) = [k for k in main if "Send" in k]
    roles = {}
    for name, handler in (("FleetDispatch", "handlers.fleet_run.dispatch"), ("ShardPlanner", "handlers.fleet_run.plan_shard"),
                          ("ProfileSender", "handlers.fleet_run.send_profiles")):
        _, function = _function(resources, handler)
        env = json.dumps(function["Environment"]["Variables"])
        assert shard_key in env and send_key in env
        roles[name] = json.dumps(function["Role"]["Fn::GetAtt"][0])
    sends = {}
    for policy in _of_type(resources, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "sqs:SendMessage" in json.dumps(statement["Action"]):
                for role in policy["Properties"]["Roles"]:
                    sends.setdefault(json.dumps(role["Ref"]), set()).add(json.dumps(statement["Resource"]))
    assert {r for r in sends if r in roles.values()} == {roles["FleetDispatch"], roles["ShardPlanner"]}
    assert all(shard_key in s for s in sends[roles["FleetDispatch"]])
    assert any(send_key in s for s in sends[roles["ShardPlanner"]])
    writes = [s for p in _of_type(resources, "AWS::IAM::Policy").values() if json.dumps(
        p["Properties"]["Roles"][0]["Ref"]) == roles["ShardPlanner"] for s in p["Properties"]["PolicyDocument"]["Statement"]
        if any(a in json.dumps(s["Action"]) for a in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"))]
    # a shard planner's orders go to the send queue; it writes only the run's ledger and a limited
    # site's default shares (events; the calls they queue, a gone connection on the charger item)
    written = json.dumps(writes)
    assert "TablesEvents" in written and "TablesCalls" in written
    assert not any(t in written for t in ("TablesSessions", "TablesMeter", "TablesSignals"))
