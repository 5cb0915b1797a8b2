"""OCPP 1.6 transactions: StartTransaction, MeterValues and StopTransaction.

Never answered with a CALLERROR for a data problem (a charger retries a failed transaction
message a few times and then drops it, OCPP 1.6 section 4.10): acknowledged, the raw message kept
for review, and what can be read is stored. A vehicle that came or went is re-planned at once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from csms.model import Session
from csms.ocpp import quirks
from csms.ocpp.meter import parse_meter_values, session_energy
from csms.ocpp.ports import IdTagAuthority, MeterRepository, SessionRepository
from csms.ocpp.v16.routing import ACCEPTED, Context, on
from csms.timeutil import plausible

log = logging.getLogger(__name__)

# Messages after which the fleet is re-planned at once (a vehicle came or went), not only at
# the next scheduled run.
REPLAN_AFTER = frozenset({"StartTransaction", "StopTransaction"})


# Integers beyond this are not a charger's numbers (OCPP integers are 32-bit; a Wh register of
# 2^53 is 9 TWh) and DynamoDB cannot store some of them (1e308): treated as missing, so the message
# is acknowledged and flagged for review instead of failing storage and being retried forever.
MAX_INT = 2**53
# How many of a charger's latest sessions a new StartTransaction looks through for one left open
# on its connector (a bounded Query: the cost never grows with the charger's history).
SUPERSEDE_LOOKBACK = 10


def _int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str):
        try:
            value = int(float(value))
        except (ValueError, OverflowError):
            return default
    if isinstance(value, int):
        return value if -MAX_INT <= value <= MAX_INT else default
    return default


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


class Transactions:
    """Mixed into ``CentralSystem``: the transaction messages and the re-plan rule."""

    sessions: SessionRepository
    meter: MeterRepository
    replan: Callable[[str], None] | None
    authority: IdTagAuthority | None

    def id_tag_info(self, ctx: Context, id_tag: Any) -> dict[str, Any]:
        """The IdTagInfo for ``id_tag`` at this charger (one read request), or Accepted without an
        authority (the default policy) or without a readable idTag. A store failure raises: the
        charger gets InternalError and retries, before anything was stored."""
        if self.authority is None or not isinstance(id_tag, str) or not id_tag:
            return dict(ACCEPTED)
        return self.authority.id_tag_info(ctx.charge_point_id, id_tag[:20], ctx.received_at)

    def _keep(self, ctx: Context, action: str, kind: str, detail: str, transaction_id: int | None = None) -> None:
        raise NotImplementedError

    def _time(self, ctx: Context, value: Any, flags: list[str] | None = None) -> datetime:
        raise NotImplementedError

    def _notify(self, ctx: Context, action: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def after_transaction(self, charge_point_id: str, action: str) -> None:
        """After an accepted Start/StopTransaction: ask for a re-plan. A failure is logged, never
        raised (the charger's answer must not depend on it; the next scheduled run re-plans)."""
        if action not in REPLAN_AFTER or self.replan is None:
            return
        try:
            self.replan(charge_point_id)
        except Exception:
            log.exception("re-plan request failed")

    @on("StartTransaction")
    def start_transaction(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        flags: list[str] = []
        connector_id = _int(p.get("connectorId"), 0) or 0
        meter_start = _int(p.get("meterStart"))
        if meter_start is None:
            flags.append("meter_start_missing")
        started_at = self._time(ctx, p.get("timestamp"), flags)
        # A retried StartTransaction (same or a new unique id) gets the same transaction id.
        start_key = "|".join(
            [ctx.charge_point_id, str(connector_id), str(p.get("timestamp")), str(meter_start), _str(p.get("idTag"))]
        )
        # Answered from the charger's authorization policy (OCPP 1.6 section 4.8): the transaction is
        # stored whatever the answer (the charger ends a refused one with reason DeAuthorized).
        info = self.id_tag_info(ctx, p.get("idTag"))
        existing = self.sessions.find_by_start_key(start_key)
        if existing is not None:
            log.info("StartTransaction from %s retried: transaction %s", ctx.charge_point_id, existing)
            return {"transactionId": existing, "idTagInfo": info}
        if ctx.lenient:
            flags.append("schema_violation")
        if info["status"] != "Accepted":
            flags.append(f"id_tag_{info['status'].lower()}")
        session = Session(
            charge_point_id=ctx.charge_point_id,
            transaction_id=0,
            connector_id=connector_id,
            id_tag=_str(p.get("idTag"))[:20],
            meter_start_wh=meter_start or 0,
            started_at=started_at,
            start_received_at=ctx.received_at,
            reservation_id=_int(p.get("reservationId")),
            flags=flags,
        )
        transaction_id = self.sessions.create(session, start_key)
        # a new transaction (never a retry): the operator console checks later whether it is still open
        self._notify(ctx, "StartTransaction", {**p, "transactionId": transaction_id})
        if flags and not ctx.lenient:
            self._keep(ctx, "StartTransaction", "flagged", ",".join(flags), transaction_id)
        try:
            self._close_superseded(ctx, connector_id, transaction_id, started_at)
        except Exception:  # the next StartTransaction or the review finds it; the start itself is stored
            log.exception("could not close a superseded session of %s", ctx.charge_point_id)
        if session.reservation_id is not None and self.authority is not None:
            try:  # the reservation this start used is over (OCPP 1.6 section 5.13)
                self.authority.reservation_used(ctx.charge_point_id, session.reservation_id, transaction_id,
                                                ctx.received_at)
            except Exception:  # shown as reserved until it expires; the start itself is stored
                log.exception("could not close reservation %s of %s", session.reservation_id, ctx.charge_point_id)
        return {"transactionId": transaction_id, "idTagInfo": info}

    def _close_superseded(self, ctx: Context, connector_id: int, transaction_id: int, started_at: datetime) -> None:
        """A connector runs one transaction at a time (OCPP 1.6 section 4.8): an open session on the
        same connector that a new StartTransaction finds was never stopped (its StopTransaction was
        lost or never sent). It is closed at the new start with the energy its meter readings show,
        flagged and kept for review, so it is no longer planned for. Reads the charger's latest
        sessions (a bounded Query) once per new StartTransaction."""
        for old in self.sessions.recent(ctx.charge_point_id, SUPERSEDE_LOOKBACK):
            if not old.active or old.connector_id != connector_id or old.transaction_id == transaction_id:
                continue
            if old.started_at > started_at:
                continue  # a late (offline-queued) start of an older transaction: leave the newer one open
            samples = [s for s in self.meter.between(ctx.charge_point_id, connector_id, old.started_at, started_at)
                       if s.transaction_id in (None, old.transaction_id)]
            energy = session_energy(old.meter_start_wh, samples, None)
            old.stopped_at = max(started_at, old.started_at)
            old.stop_received_at = ctx.received_at
            old.stop_reason = "Other"
            old.energy_wh = round(energy.energy_wh, 3)
            old.max_power_w = energy.max_power_w
            old.flags = list(dict.fromkeys(old.flags + [f"superseded_by_transaction_{transaction_id}", *energy.flags]))
            self.sessions.save_stop(old)
            self._keep(ctx, "StartTransaction", "superseded_transaction",
                       f"transaction {old.transaction_id} on connector {connector_id} was never stopped; closed at "
                       f"the start of transaction {transaction_id} with {old.energy_wh} Wh", old.transaction_id)

    @on("MeterValues")
    def meter_values(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        connector_id = _int(p.get("connectorId"), 0) or 0
        transaction_id = _int(p.get("transactionId"))
        raw_values = p.get("meterValue")
        values = raw_values if isinstance(raw_values, list) else []
        samples, problems = parse_meter_values(
            ctx.charge_point_id,
            connector_id,
            [v for v in values if isinstance(v, dict)],
            source="mv",
            transaction_id=transaction_id,
            received_at=ctx.received_at,
        )
        if samples:
            self.meter.put(samples)
        implausible = [s for s in samples if not plausible(s.timestamp)]
        if implausible:
            problems.append(f"{len(implausible)} sample(s) before the charger's clock was set")
        ahead = [s for s in samples if quirks.untrusted_future(s.timestamp, ctx.received_at)]
        if ahead:  # stored as stamped (a resend must land on the same key), flagged for review
            problems.append(f"{len(ahead)} sample(s) stamped later than their receipt: the charger's clock is ahead")
        if problems and not ctx.lenient:
            self._keep(ctx, "MeterValues", "meter_data", "; ".join(problems[:10]), transaction_id)
        return {}

    @on("StopTransaction")
    def stop_transaction(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        # idTagInfo for the idTag that stopped it, when one was sent (OCPP 1.6 section 4.10); a store
        # failure here must not cost the stop (a transaction message is never refused for it)
        reply: dict[str, Any] = {"idTagInfo": dict(ACCEPTED)}
        if isinstance(p.get("idTag"), str) and p["idTag"]:
            try:
                reply = {"idTagInfo": self.id_tag_info(ctx, p["idTag"])}
            except Exception:
                log.exception("idTag look-up failed for a StopTransaction of %s", ctx.charge_point_id)
        transaction_id = _int(p.get("transactionId"))
        if transaction_id is None:
            if not ctx.lenient:
                self._keep(ctx, "StopTransaction", "stop_without_transaction_id", "no readable transactionId")
            return reply
        session = self.sessions.get(ctx.charge_point_id, transaction_id) if transaction_id > 0 else None
        flags: list[str] = []
        if session is None:
            # Started offline (-1/0) or unknown here: attach to the only open session, if there is one.
            open_sessions = self.sessions.active(ctx.charge_point_id)
            if len(open_sessions) != 1:
                self._keep(
                    ctx, "StopTransaction", "stop_for_unknown_transaction",
                    f"transactionId {transaction_id}; {len(open_sessions)} open sessions", transaction_id,
                )
                return reply
            session = open_sessions[0]
            flags.append(f"stop_matched_from_transaction_id_{transaction_id}")
        if not session.active:
            same = session.meter_stop_wh == _int(p.get("meterStop"))
            if not same:
                self._keep(ctx, "StopTransaction", "stop_for_stopped_transaction",
                           f"transaction {session.transaction_id} already stopped", session.transaction_id)
            return reply
        meter_stop = _int(p.get("meterStop"))
        if meter_stop is None:
            flags.append("meter_stop_missing")
        stopped_at = self._time(ctx, p.get("timestamp"), flags)
        raw_tx_data = p.get("transactionData")
        tx_data = raw_tx_data if isinstance(raw_tx_data, list) else []
        tx_samples, problems = parse_meter_values(
            ctx.charge_point_id, session.connector_id, [v for v in tx_data if isinstance(v, dict)],
            source="txdata", transaction_id=session.transaction_id, received_at=ctx.received_at,
        )
        if tx_samples:
            self.meter.put(tx_samples)
        if problems:
            flags.append("unreadable_transaction_data")
        samples = [
            s for s in self.meter.between(ctx.charge_point_id, session.connector_id, session.started_at, stopped_at)
            if s.transaction_id in (None, session.transaction_id)
        ]
        energy = session_energy(session.meter_start_wh, samples, meter_stop)
        flags.extend(energy.flags)
        if ctx.lenient:
            flags.append("schema_violation")
        session.stopped_at = stopped_at
        session.stop_received_at = ctx.received_at
        session.meter_stop_wh = meter_stop
        session.stop_reason = _str(p.get("reason")) or None
        session.stop_id_tag = _str(p.get("idTag")) or None
        session.energy_wh = round(energy.energy_wh, 3)
        session.max_power_w = energy.max_power_w
        session.flags = list(dict.fromkeys(session.flags + flags))
        self.sessions.save_stop(session)
        if flags and not ctx.lenient:
            self._keep(ctx, "StopTransaction", "flagged", ",".join(flags), session.transaction_id)
        return reply

