"""Connectors as first-class rows (issue 22 item 6) and the charging profile a connector really runs
(item 4): behind ``GET /v1/chargers/{id}/connectors`` and ``.../connectors/{n}/composite-schedule``,
``csms charger connectors|composite`` and the page's Connectors section.

Per connector: its OCPP status and the app's state, its import power (only while plugged in: an
Available or Faulted connector draws nothing, whatever its last reading said), the transaction on it
with its energy so far, the plan the platform made for it, and its reservation. The composite
schedule is asked with GetCompositeSchedule through the command queue (OCPP 1.6 section 5.7); the
answer is the command's outcome record (stored with its time), shown beside the last
SetChargingProfile the platform sent for that connector (the plan as sent).

The caller checks are ``csms.operations.Operations``': a driver sees the connectors of their own
chargers; asking a charger for its composite schedule is an operator's command.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from csms.operations import Invalid, NotFound, Operations, Principal
from csms.timeutil import iso
from csms.views.connector_range import check_connector_id, connector_count
from csms.views.fleet import charger_overview
from csms.views.state import ConnectorState

MAX_COMPOSITE_S = 7 * 24 * 3600
LOOKBACK = 10  # as a StartTransaction looks for a session left open (csms.ocpp.v16.transactions)
DRAWING = (ConnectorState.CHARGING, ConnectorState.PLUGGED_IN)


def _ts(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


class ConnectorOperations:
    def __init__(self, operations: Operations):
        self.ops = operations

    def _open_sessions(self, charge_point_id: str) -> list:
        """Open transactions among the charger's latest ``LOOKBACK`` (newest first; one bounded Query)."""
        return [s for s in self.ops.sessions.page(charge_point_id, LOOKBACK)[0] if s.active]

    def connectors(self, who: Principal, charge_point_id: str) -> list[dict[str, Any]]:
        """``[{"id", "status", "state", "error_code", "status_at", "power_w", "session": {...} | None,
        "plan": [[from, to, W], ...] | None, "reservation": {...} | None}]`` by connector id (W, Wh, UTC)."""
        ops = self.ops
        ops._visible(who, charge_point_id)
        row = charger_overview(charge_point_id, ops.chargers, ops.connectors, ops.meter)
        if row is None:
            raise NotFound(f"no charger {charge_point_id}")
        active = {s.connector_id: s for s in reversed(self._open_sessions(charge_point_id))}
        reservations: dict[int, dict] = {}
        if who.operator and ops.authorization is not None:
            for r in reversed(ops.authorization.reservations(who, charge_point_id)):
                if r["state"] in ("requested", "reserved"):
                    reservations[r["connector_id"]] = r
        ids = sorted({c.connector_id for c in row.connectors} | set(active))
        shown = {c.connector_id: c for c in row.connectors}
        out = []
        for connector_id in ids:
            c = shown.get(connector_id)
            session = active.get(connector_id)
            latest = ops.meter.latest(charge_point_id, connector_id) if session is not None else None
            energy = None
            if session is not None and latest is not None and latest.energy_wh is not None:
                energy = round(max(0.0, latest.energy_wh - session.meter_start_wh), 3)
            plan = ops.sessions.plan_of(charge_point_id, session.transaction_id) if session is not None else None
            out.append({
                "id": connector_id, "status": c.status if c else None, "state": c.state.value if c else "unknown",
                "error_code": c.error_code if c else None, "status_at": _ts(c.status_at) if c else None,
                "power_w": c.power_w if c is not None and c.state in DRAWING else (0.0 if c is not None else None),
                "session": ({"transaction_id": session.transaction_id, "started_at": _ts(session.started_at),
                             "id_tag": session.id_tag, "energy_wh": energy, "flags": list(session.flags)}
                            if session is not None else None),
                "plan": json.loads(plan) if plan else None,
                "reservation": ({k: reservations[connector_id][k] for k in ("reservation_id", "id_tag", "expires_at",
                                                                           "state")}
                                if connector_id in reservations else None),
            })
        return out

    def _check_connector(self, charge_point_id: str, connector_id: int) -> None:
        """Raise ``Invalid`` naming the charger's count for a connector it does not have."""
        reported = [c.connector_id for c in self.ops.connectors.list(charge_point_id)]
        check_connector_id(charge_point_id, connector_id,
                           connector_count(self.ops.chargers.capabilities(charge_point_id), reported))

    def request_composite(self, who: Principal, charge_point_id: str, connector_id: int,
                          duration_s: int = 86_400, unit: str | None = None) -> dict[str, Any]:
        """Queue GetCompositeSchedule for ``connector_id`` (0: the charger's grid connection) over
        ``duration_s`` seconds from now, in ``unit`` (W or A; None: the charger's choice). A connector
        the charger does not have is refused (``Invalid`` naming its count,
        ``csms.views.connector_range``): the charger would answer Rejected."""
        if not 1 <= duration_s <= MAX_COMPOSITE_S:
            raise Invalid(f"duration_s must be 1-{MAX_COMPOSITE_S}")
        ops = self.ops
        ops._operator(who)
        ops._visible(who, charge_point_id)
        self._check_connector(charge_point_id, connector_id)
        payload: dict[str, Any] = {"connectorId": connector_id, "duration": duration_s}
        if unit is not None:
            if unit not in ("W", "A"):
                raise Invalid("unit must be W or A")
            payload["chargingRateUnit"] = unit
        return self.ops.send_command(who, charge_point_id, "GetCompositeSchedule", payload)

    def composite(self, who: Principal, charge_point_id: str, connector_id: int) -> dict[str, Any]:
        """``{"connector_id", "composite": {command_id, at, status, schedule_start, charging_schedule,
        error_code} | None, "pending": command id | None, "sent_profile": {command_id, at, status,
        purpose, stack_level, charging_schedule} | None, "plan": [[from, to, W], ...] | None}``: the latest
        answer to GetCompositeSchedule beside the latest SetChargingProfile sent for the connector. A
        connector the charger does not have is refused as in ``request_composite``."""
        ops = self.ops
        ops._operator(who)
        ops._visible(who, charge_point_id)
        self._check_connector(charge_point_id, connector_id)
        pending = None
        waiting = [q.call for q in [ops.calls.outstanding(charge_point_id)] if q is not None] + \
            list(ops.calls.queued(charge_point_id))
        for call in waiting:
            if call.action == "GetCompositeSchedule" and call.payload.get("connectorId") == connector_id:
                pending = call.unique_id
                break
        # Outcomes are read after the waiting calls: an answer is recorded before its slot is released,
        # so a call that stops waiting between the two reads is found among the outcomes.
        outcomes = sorted(ops.calls.outcomes(charge_point_id), key=lambda o: o.at)
        composite = sent = None
        for o in outcomes:
            if o.payload.get("connectorId") != connector_id:
                continue
            if o.action == "GetCompositeSchedule":
                composite = o
            elif o.action == "SetChargingProfile":
                sent = o
        plan = None
        for s in self._open_sessions(charge_point_id):
            if s.connector_id == connector_id:
                stored = ops.sessions.plan_of(charge_point_id, s.transaction_id)
                plan = json.loads(stored) if stored else None
        out: dict[str, Any] = {"connector_id": connector_id, "composite": None, "pending": pending,
                               "sent_profile": None, "plan": plan}
        if composite is not None:
            result = composite.result or {}
            out["composite"] = {"command_id": composite.unique_id, "at": _ts(composite.at),
                                "status": result.get("status") if composite.outcome == "answered" else composite.outcome,
                                "error_code": composite.error_code, "schedule_start": result.get("scheduleStart"),
                                "charging_schedule": result.get("chargingSchedule")}
        if sent is not None:
            profile = sent.payload.get("csChargingProfiles") or {}
            out["sent_profile"] = {"command_id": sent.unique_id, "at": _ts(sent.at),
                                   "status": (sent.result or {}).get("status") if sent.outcome == "answered" else sent.outcome,
                                   "purpose": profile.get("chargingProfilePurpose"),
                                   "stack_level": profile.get("stackLevel"),
                                   "charging_schedule": profile.get("chargingSchedule")}
        return out
