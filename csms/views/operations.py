"""The operator read side behind the HTTP API and the CLI: the fleet listing, one charger's live
state, the messages kept for review, a command's result. Behind ``csms.operations.Operations``."""

from __future__ import annotations

from typing import Any

from csms.access import Access, Invalid, NotFound, Principal, require_operator, ts
from csms.views.fleet import ChargerOverview, charger_overview
from csms.views.ports import CallRecords, ChargerDirectory, ConnectorReader, MeterReader, ReviewReader

PAGE = 50  # default page of a listing
MAX_PAGE = 100


def overview_json(row: ChargerOverview, view, capabilities: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": row.charge_point_id,
        "online": row.online,
        "last_seen": ts(row.last_seen),
        "vendor": row.vendor,
        "model": row.model,
        "firmware_version": row.firmware_version,
        "firmware_status": view.firmware_status,
        "driver": view.driver,
        "power_w": row.power_w,
        "connectors": [
            {"id": c.connector_id, "status": c.status, "error_code": c.error_code, "state": c.state.value,
             "power_w": c.power_w, "status_at": ts(c.status_at),
             "info": c.info, "vendor_id": c.vendor_id, "vendor_error_code": c.vendor_error_code}
            for c in row.connectors
        ],
        **({"capabilities": capabilities} if capabilities is not None else {}),
    }


class FleetOperations:
    """Seams: ``access`` (who sees which charger), the read ports, ``review`` (messages kept for a
    person; None: nothing kept)."""

    def __init__(self, access: Access, chargers: ChargerDirectory, connectors: ConnectorReader, meter: MeterReader,
                 calls: CallRecords, review: ReviewReader | None = None):
        self.access, self.chargers, self.connectors, self.meter = access, chargers, connectors, meter
        self.calls, self.review = calls, review

    def chargers_page(self, who: Principal, limit: int = PAGE, cursor: str | None = None) -> tuple[list[dict], str | None]:
        """At most ``limit`` chargers (id order) with their live state, and the cursor of the next
        page (None at the end): a page costs the same whatever the fleet's size."""
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"limit must be 1-{MAX_PAGE}")
        views, after = self.access.charger_views(who, limit, cursor)
        out = []
        for view in views:
            row = charger_overview(view.charge_point_id, self.chargers, self.connectors, self.meter)
            if row is not None:
                out.append(overview_json(row, view))
        return out, after

    def list_chargers(self, who: Principal) -> list[dict]:
        """Every charger the caller may see (every page: the CLI's listing; the HTTP API pages)."""
        out, cursor = [], None
        while True:
            rows, cursor = self.chargers_page(who, MAX_PAGE, cursor)
            out.extend(rows)
            if cursor is None:
                return out

    def get_charger(self, who: Principal, charge_point_id: str) -> dict:
        view = self.access.visible(who, charge_point_id)
        row = charger_overview(charge_point_id, self.chargers, self.connectors, self.meter)
        if row is None:
            raise NotFound(f"no charger {charge_point_id}")
        return overview_json(row, view, self.chargers.capabilities(charge_point_id))

    def review_items(self, who: Principal, charge_point_id: str) -> list[dict]:
        """What a charger sent that was read around a quirk or flagged (operators): newest first,
        each with the message id, action, reason and the raw frame, for review with the charger."""
        require_operator(who)
        self.access.visible(who, charge_point_id)
        items = self.review.list(charge_point_id) if self.review is not None else []
        return [{"at": ts(i.at), "kind": i.kind, "action": i.action, "message_id": i.unique_id,
                 "transaction_id": i.transaction_id, "detail": i.detail, "raw": i.raw}
                for i in sorted(items, key=lambda i: i.at, reverse=True)]

    def command_result(self, who: Principal, charge_point_id: str, command_id: str) -> dict:
        require_operator(who)
        self.access.visible(who, charge_point_id)
        for outcome in self.calls.outcomes(charge_point_id):
            if outcome.unique_id == command_id:
                return {"command_id": command_id, "action": outcome.action, "status": outcome.outcome,
                        "result": outcome.result, "error_code": outcome.error_code, "at": ts(outcome.at)}
        held = self.calls.outstanding(charge_point_id)
        if held is not None and held.call.unique_id == command_id:
            return {"command_id": command_id, "action": held.call.action, "status": "awaiting answer"}
        for call in self.calls.queued(charge_point_id):
            if call.unique_id == command_id:
                return {"command_id": command_id, "action": call.action, "status": "queued"}
        raise NotFound(f"no command {command_id} on {charge_point_id}")
