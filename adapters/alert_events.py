"""Alerts to EventBridge (issue 22): one event per alert on the stack's bus (source ``csms``,
detail-type ``csms alert``, detail = the alert's JSON). ``infra/alerts.py`` routes them to an SNS
topic operators subscribe to, and alarms on each kind's count. One PutEvents per alert ($1 per
million); alerts are rare."""

from __future__ import annotations

import json

import boto3

from csms.console.alerts import Alert

SOURCE = "csms"
DETAIL_TYPE = "csms alert"


class EventBridgeAlerts:
    def __init__(self, bus: str, region: str):
        self.bus = bus
        self.client = boto3.client("events", region_name=region)

    def __call__(self, alert: Alert) -> None:
        answer = self.client.put_events(Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "EventBusName": self.bus,
                                                  "Detail": json.dumps(alert.as_json())}])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the alert: {answer['Entries']}")
