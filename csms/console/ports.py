"""What the operator console needs from storage (issue 22), one Protocol per role. Implemented by
``adapters.dynamo.alerts`` / ``adapters.dynamo.unknown_chargers`` and by ``tests.fakes``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only
    from csms.console.alerts import Alert, DueCheck
    from csms.console.unknown import UnknownCharger


class AlertStore(Protocol):
    """Alerts, newest first, kept ``csms.console.alerts.RETENTION``; and the checks due later."""

    def add(self, alert: "Alert") -> None:
        """One write."""

    def recent(self, since: datetime, limit: int, kind: str | None = None,
               charge_point_id: str | None = None) -> list["Alert"]:
        """At most ``limit`` alerts raised at or after ``since``, newest first (reads only the days
        since then, never the table)."""

    def schedule(self, check: "DueCheck") -> None:
        """One write: make the check at ``check.due_at``."""

    def due(self, now: datetime) -> list["DueCheck"]:
        """Checks whose time has come (a sparse, sharded index: cost follows what is due)."""

    def done(self, check: "DueCheck") -> None:
        """Forget a check that was made."""


class UnknownChargerStore(Protocol):
    """Charge point ids that tried to connect without being registered (issue 22, item 8)."""

    def seen(self, charge_point_id: str, source: str | None, at: datetime) -> int:
        """Count an attempt (one write for an id already seen today; two for a new one, which the
        day's cap may refuse: 0, nothing stored); the id's attempts that UTC day, this one included
        (the write's own answer: no read)."""

    def recent(self, since: datetime, limit: int) -> list["UnknownCharger"]:
        """Ids seen since ``since``, the most recently seen first, one row per id."""

    def forget(self, charge_point_id: str) -> None:
        """Drop an id (it was registered)."""
