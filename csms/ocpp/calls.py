"""What travels through the per-charger queue of platform-initiated calls: the queued call, the
charger's single outstanding slot, and the recorded outcome of each call (``csms.ocpp.commands``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.ocpp import codec
from csms.timeutil import iso


@dataclass(frozen=True)
class PendingCall:
    charge_point_id: str
    unique_id: str
    action: str
    payload: dict[str, Any]
    created_at: datetime
    origin: str = "platform"  # setup | operator | scheduler | platform

    @property
    def seq(self) -> str:
        """Queue order: creation time, then the unique id."""
        return f"{iso(self.created_at)}#{self.unique_id}"

    def frame(self) -> str:
        return codec.call_frame(self.unique_id, self.action, self.payload)


@dataclass(frozen=True)
class Outstanding:
    call: PendingCall
    connection_id: str
    deadline: datetime


@dataclass(frozen=True)
class CallOutcome:
    charge_point_id: str
    unique_id: str
    action: str
    payload: dict[str, Any]
    outcome: str  # answered | error | timeout | invalid_answer
    at: datetime
    result: dict[str, Any] | None = None
    error_code: str | None = None
    origin: str = "platform"

