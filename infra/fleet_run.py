"""The fanned-out periodic fleet run (issue 16; ``csms.charging.fanout``, ``handlers/fleet_run.py``).

EventBridge (every 15 minutes, no retries) -> FleetDispatch -> shard queue -> ShardPlanner (batch
size 1) -> send queue -> ProfileSender (batches of 10) -> the management API. Each queue has a
dead-letter queue with an alarm; the consumers report partial batch failures, so a failed order is
delivered again on its own, as it is (never re-planned). Concurrency is bounded twice: reserved
concurrency (``infra/quotas.py``: the charger path's share can never be taken) and the event
sources' maximum concurrency, set equal, so the pollers never invoke past the reservation."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from adapters.fanout import ENV_SEND_QUEUE_URL, ENV_SHARD_QUEUE_URL
from infra import constants


class FleetRun(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: dict[str, lambda_.Function],
                 reserved: dict[str, int]) -> None:
        """``functions``: FleetDispatch, ShardPlanner, ProfileSender (``infra/functions.py``);
        ``reserved``: their reserved concurrency (``infra.quotas.Quotas.reserved``)."""
        super().__init__(scope, construct_id)
        dispatcher, planner, sender = functions["FleetDispatch"], functions["ShardPlanner"], functions["ProfileSender"]
        self.shard_dlq, self.shard_queue = self._queue("Shard", constants.PLANNER_VISIBILITY_S,
                                                       constants.SHARD_MAX_RECEIVES)
        self.send_dlq, self.send_queue = self._queue("Send", constants.SENDER_VISIBILITY_S,
                                                     constants.SENDER_MAX_RECEIVES)
        for function in (dispatcher, planner, sender):
            function.add_environment(ENV_SHARD_QUEUE_URL, self.shard_queue.queue_url)
            function.add_environment(ENV_SEND_QUEUE_URL, self.send_queue.queue_url)
        self.shard_queue.grant_send_messages(dispatcher)
        self.shard_queue.grant_send_messages(planner)  # a full shard hands its next page on
        self.send_queue.grant_send_messages(planner)
        planner.add_event_source(sources.SqsEventSource(
            self.shard_queue, batch_size=constants.PLANNER_BATCH, report_batch_item_failures=True,
            max_concurrency=reserved["ShardPlanner"]))
        sender.add_event_source(sources.SqsEventSource(
            self.send_queue, batch_size=constants.SENDER_BATCH, report_batch_item_failures=True,
            max_concurrency=reserved["ProfileSender"]))
        # A whole-fleet run is never retried: a failed one is replaced by the next, 15 minutes later.
        dispatcher.configure_async_invoke(retry_attempts=0, max_event_age=Duration.minutes(constants.SCHEDULE_MINUTES))
        self.rule = events.Rule(self, "Schedule", schedule=events.Schedule.rate(Duration.minutes(constants.SCHEDULE_MINUTES)),
                                targets=[targets.LambdaFunction(dispatcher, retry_attempts=0)])
        five = Duration.minutes(5)
        self.alarms = [
            dlq.metric_approximate_number_of_messages_visible(period=five).create_alarm(
                self, f"{name}DeadLettersAlarm", threshold=1, evaluation_periods=1, alarm_description=description,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
            for name, dlq, description in (
                ("Shard", self.shard_dlq, "fleet-run shard tasks that failed every delivery (their vehicles wait for the next run)"),
                ("Send", self.send_dlq, "charging profiles that failed every send (see the sender's log for why)"))]
        self.alarms.append(self.send_queue.metric_approximate_age_of_oldest_message(period=five, statistic="Maximum")
                           .create_alarm(self, "SendBacklog", threshold=constants.FLEET_RUN_OLDEST_ALARM_S,
                                         evaluation_periods=1, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                                         alarm_description="charging profiles wait over 10 minutes: the fleet run "
                                                           "does not finish within its 15-minute period"))

    def _queue(self, name: str, visibility_s: int, max_receives: int) -> tuple[sqs.Queue, sqs.Queue]:
        dlq = sqs.Queue(self, f"{name}DeadLetters", retention_period=Duration.days(14),
                        encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        Validations.of(dlq).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-SQS3", reason="This queue is itself the dead-letter queue of the fleet run's "
                                                         f"{name.lower()} queue (alarmed when it holds any message)."))
        queue = sqs.Queue(self, f"{name}Queue", retention_period=Duration.hours(1),
                          visibility_timeout=Duration.seconds(visibility_s),
                          encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                          dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receives))
        return dlq, queue
