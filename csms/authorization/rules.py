"""How an idTag is answered: ``id_tag_info`` (OCPP 1.6 section 4.2 Authorize, 4.8 StartTransaction,
4.10 StopTransaction: IdTagInfo, section 7.1) and the local authorization list a charger is sent
(section 5.15 SendLocalList, AuthorizationData)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from csms.authorization.model import (ACCEPT_ALL, ACCEPTED, BLOCKED, EXPIRED, INVALID, IdTag, Policy, Reservation,
                                      CANCELLED, REFUSED, USED)
from csms.timeutil import iso


def status_of(policy: Policy | None, tag: IdTag | None, now: datetime) -> str:
    """Accepted / Blocked / Expired / Invalid. A known tag answers from its record whatever the
    policy (a blocked card stays blocked under accept-all); an unknown tag is Accepted only under
    accept-all (the default: no policy stored)."""
    if tag is not None:
        if tag.blocked:
            return BLOCKED
        if tag.expiry is not None and tag.expiry <= now:
            return EXPIRED
        return ACCEPTED
    mode = policy.mode if policy is not None else ACCEPT_ALL
    return ACCEPTED if mode == ACCEPT_ALL else INVALID


def id_tag_info(policy: Policy | None, tag: IdTag | None, now: datetime) -> dict[str, Any]:
    """The IdTagInfo to answer: ``{"status", "expiryDate"?, "parentIdTag"?}`` (expiryDate in UTC,
    given only for a known tag that has one)."""
    info: dict[str, Any] = {"status": status_of(policy, tag, now)}
    if tag is not None and tag.expiry is not None:
        info["expiryDate"] = iso(tag.expiry)
    if tag is not None and tag.parent:
        info["parentIdTag"] = tag.parent
    return info


def local_list(tags: Iterable[IdTag], now: datetime) -> list[dict[str, Any]]:
    """The ``localAuthorizationList`` of a Full SendLocalList: every known tag with its IdTagInfo
    (blocked and expired ones too, so a charger offline refuses them as the platform would)."""
    return [{"idTag": t.id_tag, "idTagInfo": id_tag_info(None, t, now)} for t in sorted(tags, key=lambda t: t.id_tag)]


def reservation_state(r: Reservation, now: datetime) -> str:
    """What an operator is shown: requested / reserved / refused / used / cancelled / expired."""
    if r.status in (USED, CANCELLED, REFUSED):
        return r.status
    return "expired" if r.expires_at <= now else r.status
