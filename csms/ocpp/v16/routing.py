"""How an OCPP 1.6 charger's CALL is routed to its handler: the action registry and what a
handler is told about the message (``Context``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Transaction messages are acknowledged even when a payload breaks its schema (see ``central``).
TRANSACTION_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
ACCEPTED = {"status": "Accepted"}
ROUTES: dict[str, str] = {}  # action -> name of the CentralSystem method that handles it


def on(action: str):
    """Register a method as the handler of a charger-initiated action."""

    def register(method):
        ROUTES[action] = method.__name__
        return method

    return register


@dataclass(frozen=True)
class Context:
    charge_point_id: str
    connection_id: str | None
    received_at: datetime
    unique_id: str
    raw: str
    lenient: bool  # payload failed its schema: read what can be read
