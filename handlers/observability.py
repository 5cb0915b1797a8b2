"""One place for Powertools logging and metrics; correlation id = charge point id."""

from __future__ import annotations

import json
import os
import time

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

logger = Logger(service="csms")
metrics = Metrics(namespace="CSMS", service="csms")


def set_correlation_id(value: str | None) -> None:
    """The correlation id (the charge point id; None: none) of the log lines this invocation writes,
    its own and the domain's: a thread-local key (Powertools' ``thread_safe_append_keys``, a
    ContextVar), not the logger's shared keys (``Logger.set_correlation_id``). The local platform runs
    the handlers for many chargers at once on its frame threads, where the shared key made each line
    carry whichever charger's id was set last; a Lambda container runs one invocation at a time and
    logs the same."""
    logger.thread_safe_append_keys(correlation_id=value)


# The domain logs through the standard library (it has no AWS imports); give its
# loggers the same structured JSON output and correlation id.
copy_config_to_registered_loggers(
    source_logger=logger,
    include={"csms", "csms.ocpp.v16.central", "csms.ocpp.v16.transactions", "csms.ocpp.connection"},
)


class PeriodicCounts:
    """Counts (messages by action, profile answers) kept in the container and published as CloudWatch
    embedded-metric records at most once a minute, one record per label: a per-message EMF line
    would cost more in log ingestion than the Lambda request (docs/benchmarks.md). Counts of a
    container that is shut down before its next flush (at most a minute's) are lost: they are
    for dashboards, not billing."""

    def __init__(self, metric: str | None = "Messages", dimension: str = "action", every_s: float = 60.0,
                 clock=None, emit=None):
        self.metric, self.dimension, self.every_s = metric, dimension, every_s
        self.clock = clock or time.monotonic
        self.emit = emit or (lambda line: print(line, flush=True))
        self.counts: dict[str, int] = {}
        self.last = self.clock()

    def __call__(self, label: str) -> None:
        self.counts[label] = self.counts.get(label, 0) + 1

    def flush_if_due(self, force: bool = False) -> int:
        if not self.counts or (not force and self.clock() - self.last < self.every_s):
            return 0
        if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":  # the local platform
            self.counts, self.last = {}, self.clock()
            return 0

        now_ms = int(time.time() * 1000)
        for label, value in sorted(self.counts.items()):
            if self.metric is None:  # the label is the metric's name
                record = {"_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [{
                    "Namespace": "CSMS", "Dimensions": [["service"]], "Metrics": [{"Name": label, "Unit": "Count"}]}]},
                    "service": "csms", label: value}
            else:
                record = {"_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [{
                    "Namespace": "CSMS", "Dimensions": [["service", self.dimension]],
                    "Metrics": [{"Name": self.metric, "Unit": "Count"}]}]},
                    "service": "csms", self.dimension: label, self.metric: value}
            self.emit(json.dumps(record))
        flushed = len(self.counts)
        self.counts, self.last = {}, self.clock()
        return flushed


message_counts = PeriodicCounts()  # Messages by action
profile_counts = PeriodicCounts(metric=None)  # ProfilesAccepted, ProfilesRejected
