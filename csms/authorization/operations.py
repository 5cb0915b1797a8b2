"""Authorization as operators see it: the operations behind ``/v1/id-tags``,
``/v1/chargers/{id}/authorization`` and ``/v1/chargers/{id}/reservations``, ``csms idtag ...``,
``csms charger reserve ...`` and the page's Authorization view. Operators only.

What a charger answered (SendLocalList, GetLocalListVersion, ReserveNow, CancelReservation) is read
from the command outcomes when shown (``CallRecords.outcomes``): no result hook, no extra write on
the charger's path.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable

from csms.authorization import model as m
from csms.authorization.model import IdTag, Policy, Reservation
from csms.authorization.ports import AuthorizationStore
from csms.authorization.rules import id_tag_info, local_list, reservation_state, status_of
from csms.ocpp.operations import operator_call
from csms.ocpp.commands import CallOutcome, Commander
from csms.operations import Conflict, Forbidden, Invalid, NotFound, Principal
from csms.timeutil import iso
from csms.views.connector_range import check_connector_id, connector_count
from csms.views.ports import CallRecords, ChargerDirectory, ConnectorReader

MAX_RESERVATION = timedelta(days=7)
# What a charger answers ReserveNow for a connector in each status (OCPP 1.6 section 5.13); Available
# is the one status it reserves from.
RESERVE_REFUSAL = {"Preparing": "Occupied", "Charging": "Occupied", "SuspendedEV": "Occupied",
                   "SuspendedEVSE": "Occupied", "Finishing": "Occupied", "Reserved": "Occupied",
                   "Faulted": "Faulted", "Unavailable": "Unavailable"}
LIVE = ("requested", "reserved")  # reservation states that still hold a connector


def _ts(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def tag_json(tag: IdTag, now: datetime) -> dict[str, Any]:
    return {"id_tag": tag.id_tag, "status": id_tag_info(None, tag, now)["status"], "blocked": tag.blocked,
            "expiry": _ts(tag.expiry), "parent": tag.parent, "note": tag.note}


def _answer(outcomes: dict[str, CallOutcome], command_id: str | None) -> dict[str, Any] | None:
    """``{"status": <the charger's status or error code>, "at"}``, None while unanswered."""
    o = outcomes.get(command_id or "")
    if o is None:
        return None
    status = (o.result or {}).get("status") if o.outcome == "answered" else (o.error_code or o.outcome)
    return {"status": status, "at": _ts(o.at), **({"result": o.result} if o.outcome == "answered" else {})}


class AuthorizationOperations:
    """Seams: ``store`` (``AuthorizationStore``), ``commander`` (platform-initiated calls),
    ``calls`` (their outcomes), ``chargers`` (is there such a charger, its NumberOfConnectors),
    ``clock`` (UTC), ``connectors`` (their latest status: a ReserveNow the charger would refuse is
    refused before it is sent; None: not checked)."""

    def __init__(self, store: AuthorizationStore, commander: Commander, calls: CallRecords,
                 chargers: ChargerDirectory, clock: Callable[[], datetime], connectors: ConnectorReader | None = None):
        self.store, self.commander, self.calls, self.chargers, self.clock = store, commander, calls, chargers, clock
        self.connectors = connectors

    def _operator(self, who: Principal, charge_point_id: str | None = None) -> None:
        if not who.operator:
            raise Forbidden("only operators manage idTags, authorization and reservations")
        if charge_point_id is not None and self.chargers.get(charge_point_id) is None:
            raise NotFound(f"no charger {charge_point_id}")

    def _send(self, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        return operator_call(self.commander, charge_point_id, action, payload)

    def _outcomes(self, charge_point_id: str) -> dict[str, CallOutcome]:
        return {o.unique_id: o for o in self.calls.outcomes(charge_point_id)}

    # ------------------------------------------------------------ idTags
    def list_tags(self, who: Principal) -> list[dict[str, Any]]:
        self._operator(who)
        now = self.clock()
        return [tag_json(t, now) for t in self.store.tags()]

    def put_tag(self, who: Principal, id_tag: str, *, blocked: bool = False, expiry: datetime | None = None,
                parent: str | None = None, note: str | None = None) -> dict[str, Any]:
        """Add or replace a tag (idTag and parent: 1-20 characters, OCPP 1.6 IdToken). A tag is not
        its own parent (IdTagInfo.parentIdTag groups tags; IdToken is a case-insensitive CiString):
        ``Invalid``."""
        self._operator(who)
        for name, value in (("id_tag", id_tag), ("parent", parent)):
            if value is not None and not 1 <= len(value) <= m.MAX_ID_TAG:
                raise Invalid(f"{name} must be 1-{m.MAX_ID_TAG} characters (OCPP 1.6 IdToken)")
        if parent and parent.casefold() == id_tag.casefold():
            raise Invalid(f"idTag {id_tag} cannot be its own parent (parentIdTag names the group it belongs to)")
        tag = IdTag(id_tag, blocked, expiry, parent or None, note or None)
        self.store.put_tag(tag)
        return tag_json(tag, self.clock())

    def delete_tag(self, who: Principal, id_tag: str) -> None:
        self._operator(who)
        if not self.store.delete_tag(id_tag):
            raise NotFound(f"no idTag {id_tag}")

    # ----------------------------------------------------------- policy
    def authorization(self, who: Principal, charge_point_id: str) -> dict[str, Any]:
        """``{"id", "mode", "local_list": {"version", "size", "command_id", "answer"},
        "local_list_version_check": {...} | None, "reservations": [...]}``."""
        self._operator(who, charge_point_id)
        policy = self.store.policy(charge_point_id) or Policy()
        outcomes = self._outcomes(charge_point_id)
        checks = sorted((o for o in outcomes.values() if o.action == "GetLocalListVersion"), key=lambda o: o.at)
        return {"id": charge_point_id, "mode": policy.mode,
                "local_list": {"version": policy.local_list_version, "size": policy.local_list_size,
                               "command_id": policy.local_list_command,
                               "answer": _answer(outcomes, policy.local_list_command)},
                "local_list_version_check": ({"command_id": checks[-1].unique_id, **(_answer(outcomes, checks[-1].unique_id) or {})}
                                             if checks else None),
                "reservations": self._reservations(charge_point_id, outcomes)}

    def set_policy(self, who: Principal, charge_point_id: str, mode: str) -> dict[str, Any]:
        """accept_all / id_tags / local_list; local_list also pushes the list at once."""
        self._operator(who, charge_point_id)
        if mode not in m.MODES:
            raise Invalid(f"mode must be one of {', '.join(m.MODES)}")
        old = self.store.policy(charge_point_id) or Policy()
        self.store.set_policy(charge_point_id, replace(old, mode=mode))
        if mode == m.LOCAL_LIST:
            self.push_local_list(who, charge_point_id)
        return self.authorization(who, charge_point_id)

    def push_local_list(self, who: Principal, charge_point_id: str) -> dict[str, Any]:
        """SendLocalList, updateType Full, every known tag, listVersion = the last one sent + 1
        (OCPP 1.6 section 5.15). The version is stored when the call is queued; the charger's
        answer (Accepted / Failed / NotSupported / VersionMismatch) is shown with it."""
        self._operator(who, charge_point_id)
        policy = self.store.policy(charge_point_id) or Policy()
        entries = local_list(self.store.tags(), self.clock())
        version = policy.local_list_version + 1
        sent = self._send(charge_point_id, "SendLocalList",
                          {"listVersion": version, "updateType": "Full", "localAuthorizationList": entries})
        self.store.set_policy(charge_point_id, replace(policy, local_list_version=version,
                                                       local_list_command=sent["command_id"],
                                                       local_list_size=len(entries)))
        return {**sent, "version": version, "size": len(entries)}

    def check_local_list_version(self, who: Principal, charge_point_id: str) -> dict[str, Any]:
        """GetLocalListVersion: the answer (``listVersion``) is shown by ``authorization``."""
        self._operator(who, charge_point_id)
        return self._send(charge_point_id, "GetLocalListVersion", {})

    # ----------------------------------------------------- reservations
    def _reservations(self, charge_point_id: str, outcomes: dict[str, CallOutcome]) -> list[dict[str, Any]]:
        now = self.clock()
        out = []
        for r in self.store.reservations(charge_point_id):
            answer, cancel = _answer(outcomes, r.command_id), _answer(outcomes, r.cancel_command_id)
            status = r.status
            if status == m.REQUESTED and answer is not None:
                status = m.RESERVED if answer["status"] == "Accepted" else m.REFUSED
            if status == m.RESERVED and cancel is not None and cancel["status"] == "Accepted":
                status = m.CANCELLED
            out.append({"reservation_id": r.reservation_id, "connector_id": r.connector_id, "id_tag": r.id_tag,
                        "expires_at": _ts(r.expires_at), "created_at": _ts(r.created_at),
                        "state": reservation_state(replace(r, status=status), now),
                        "answer": answer, "cancel_answer": cancel, "transaction_id": r.transaction_id,
                        "command_id": r.command_id, "cancel_command_id": r.cancel_command_id})
        return out

    def reservations(self, who: Principal, charge_point_id: str) -> list[dict[str, Any]]:
        self._operator(who, charge_point_id)
        return self._reservations(charge_point_id, self._outcomes(charge_point_id))

    def reserve(self, who: Principal, charge_point_id: str, connector_id: int, id_tag: str,
                expires_at: datetime) -> dict[str, Any]:
        """ReserveNow (OCPP 1.6 section 5.13): connector 0 reserves the charger as a whole;
        ``expires_at`` in the future, at most 7 days ahead. Refused before sending, as the charger
        or the platform's own Authorize would refuse it: ``Invalid`` for an idTag that is not
        Accepted here (Blocked, Expired, Invalid under the charger's policy) or a connector the
        charger does not have; ``Conflict`` for a connector that is not Available (the charger's
        Occupied / Faulted / Unavailable) or still held by a reservation of the platform."""
        self._operator(who, charge_point_id)
        now = self.clock()
        if not now < expires_at <= now + MAX_RESERVATION:
            raise Invalid("expires_at must be in the future, at most 7 days ahead")
        if not 1 <= len(id_tag) <= m.MAX_ID_TAG:
            raise Invalid(f"id_tag must be 1-{m.MAX_ID_TAG} characters")
        policy, tag = self.store.lookup(charge_point_id, id_tag)
        status = status_of(policy, tag, now)
        if status != m.ACCEPTED:
            raise Invalid(f"idTag {id_tag} is {status} on {charge_point_id}: it could not start a transaction "
                          "on the reserved connector")
        self._check_connector(charge_point_id, connector_id)
        reservation_id = self.store.next_reservation_id()
        payload: dict[str, Any] = {"connectorId": connector_id, "expiryDate": iso(expires_at), "idTag": id_tag,
                                   "reservationId": reservation_id}
        if tag is not None and tag.parent:
            payload["parentIdTag"] = tag.parent
        sent = self._send(charge_point_id, "ReserveNow", payload)
        self.store.put_reservation(Reservation(charge_point_id, reservation_id, connector_id, id_tag, expires_at,
                                               now, command_id=sent["command_id"]))
        return {**sent, "reservation_id": reservation_id}

    def _check_connector(self, charge_point_id: str, connector_id: int) -> None:
        """The connector exists and could be reserved now (the charger's latest status, the platform's
        live reservations)."""
        statuses = {c.connector_id: c.status for c in self.connectors.list(charge_point_id)} if self.connectors else {}
        check_connector_id(charge_point_id, connector_id,
                           connector_count(self.chargers.capabilities(charge_point_id), statuses))
        for r in self._reservations(charge_point_id, self._outcomes(charge_point_id)):
            cancelling = r["cancel_command_id"] is not None and r["cancel_answer"] is None  # queued after it
            if r["connector_id"] == connector_id and r["state"] in LIVE and not cancelling:
                raise Conflict(f"connector {connector_id} of {charge_point_id} is held by reservation "
                               f"{r['reservation_id']} for {r['id_tag']} until {r['expires_at']} "
                               f"(csms charger unreserve {charge_point_id} {r['reservation_id']})")
        if connector_id > 0 and statuses.get(connector_id) in RESERVE_REFUSAL:
            raise Conflict(f"connector {connector_id} of {charge_point_id} is {statuses[connector_id]}: the charger "
                           f"would answer ReserveNow {RESERVE_REFUSAL[statuses[connector_id]]}")
        others = [s for i, s in statuses.items() if i > 0]
        if connector_id == 0 and others and "Available" not in others:
            raise Conflict(f"no connector of {charge_point_id} is Available: the charger would refuse ReserveNow "
                           "for connector 0")

    def cancel_reservation(self, who: Principal, charge_point_id: str, reservation_id: int) -> dict[str, Any]:
        """CancelReservation; the reservation shows ``cancelled`` once the charger accepts.
        ``NotFound`` when there is no live reservation of that id (never made, or already cancelled,
        used, refused or expired: the charger would answer Rejected, section 5.2); ``Conflict`` while
        an earlier CancelReservation of it awaits the charger's answer."""
        self._operator(who, charge_point_id)
        found = self.store.reservation(charge_point_id, reservation_id)
        if found is None:
            raise NotFound(f"no reservation {reservation_id} on {charge_point_id}")
        shown = next(r for r in self._reservations(charge_point_id, self._outcomes(charge_point_id))
                     if r["reservation_id"] == reservation_id)
        if shown["state"] not in LIVE:
            raise NotFound(f"no reservation {reservation_id} on {charge_point_id} to cancel: it is {shown['state']}")
        if shown["cancel_command_id"] is not None and shown["cancel_answer"] is None:
            raise Conflict(f"CancelReservation {reservation_id} was already sent (command {found.cancel_command_id}): "
                           "awaiting the charger's answer")
        sent = self._send(charge_point_id, "CancelReservation", {"reservationId": reservation_id})
        self.store.put_reservation(replace(found, cancel_command_id=sent["command_id"]))
        return {**sent, "reservation_id": reservation_id}
