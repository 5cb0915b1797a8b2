"""Connector status (``csms.ocpp.ports.ConnectorRepository``): a write is conditional on its
timestamp, so an older status never overwrites a newer one."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from adapters.dynamo.items import conditional_failed
from adapters.dynamo.models import ConnectorModel
from csms.model import ConnectorStatus
from csms.ocpp.quirks import FUTURE_TOLERANCE


def _status_from(item: ConnectorModel) -> ConnectorStatus:
    return ConnectorStatus(
        connector_id=int(item.connector_id),
        status=item.status,
        error_code=item.error_code,
        timestamp=item.status_at,
        received_at=item.received_at,
        info=item.info,
        vendor_id=item.vendor_id,
        vendor_error_code=item.vendor_error_code,
    )


class DynamoConnectors:
    def record_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        # A stored stamp later than this receipt (beyond the tolerance) came from a clock that ran ahead:
        # it never outranks a message received after it (csms.ocpp.quirks, issue 14).
        newer_or_first = (ConnectorModel.status_at.does_not_exist() | (ConnectorModel.status_at <= status.timestamp)
                          | (ConnectorModel.status_at > status.received_at + FUTURE_TOLERANCE))
        actions = [
            ConnectorModel.status.set(status.status),
            ConnectorModel.error_code.set(status.error_code),
            ConnectorModel.status_at.set(status.timestamp),
            ConnectorModel.received_at.set(status.received_at),
        ]
        for attr, value in (
            (ConnectorModel.info, status.info),
            (ConnectorModel.vendor_id, status.vendor_id),
            (ConnectorModel.vendor_error_code, status.vendor_error_code),
        ):
            actions.append(attr.set(value) if value is not None else attr.remove())
        try:
            ConnectorModel(charge_point_id, status.connector_id).update(actions=actions, condition=newer_or_first)
            return True
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise

    def list(self, charge_point_id: str) -> list[ConnectorStatus]:
        return [_status_from(i) for i in ConnectorModel.query(charge_point_id, consistent_read=True)]
