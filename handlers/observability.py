"""One place for Powertools logging and metrics; correlation id = charge point id."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

logger = Logger(service="csms")
metrics = Metrics(namespace="CSMS", service="csms")

# The domain logs through the standard library (it has no AWS imports); give its
# loggers the same structured JSON output and correlation id.
copy_config_to_registered_loggers(source_logger=logger, include={"csms", "csms.central", "csms.connection"})
