"""The records of authorization: an idTag the platform knows, a charger's policy, a reservation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# A charger's policy (``Policy.mode``):
ACCEPT_ALL = "accept_all"  # every idTag is Accepted unless the platform knows it as Blocked or Expired (default)
ID_TAGS = "id_tags"  # only idTags on the platform's list, unblocked and unexpired, are Accepted
LOCAL_LIST = "local_list"  # as id_tags, and the list is also pushed to the charger (SendLocalList)
MODES = (ACCEPT_ALL, ID_TAGS, LOCAL_LIST)

# idTagInfo.status (OCPP 1.6 section 7.1 AuthorizationStatus); ConcurrentTx is not produced here
ACCEPTED, BLOCKED, EXPIRED, INVALID = "Accepted", "Blocked", "Expired", "Invalid"

MAX_ID_TAG = 20  # OCPP 1.6 IdToken: CiString20Type


@dataclass(frozen=True)
class IdTag:
    """An idTag the platform knows. ``blocked``: refused everywhere; ``expiry``: refused from then on
    (UTC); ``parent``: the parentIdTag a charger groups tags by (section 7.1 IdTagInfo)."""

    id_tag: str
    blocked: bool = False
    expiry: datetime | None = None
    parent: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Policy:
    """A charger's authorization policy. ``local_list_version``: the version of the last
    SendLocalList the platform queued (0: none yet), ``local_list_command``: its command id (its
    answer says whether the charger took it)."""

    mode: str = ACCEPT_ALL
    local_list_version: int = 0
    local_list_command: str | None = None
    local_list_size: int = 0


# Reservation.status
REQUESTED, RESERVED, REFUSED, USED, CANCELLED = "requested", "reserved", "refused", "used", "cancelled"


@dataclass(frozen=True)
class Reservation:
    """A ReserveNow the platform sent (section 5.13): ``status`` is what is known from the
    charger's answers; ``expired`` is derived from ``expires_at`` when read."""

    charge_point_id: str
    reservation_id: int
    connector_id: int
    id_tag: str
    expires_at: datetime
    created_at: datetime
    command_id: str | None = None
    status: str = REQUESTED
    transaction_id: int | None = None
    cancel_command_id: str | None = None
    history: tuple[str, ...] = field(default_factory=tuple)
