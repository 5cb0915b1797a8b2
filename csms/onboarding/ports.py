"""What onboarding needs from storage, by role (implemented in ``adapters/dynamo/onboarding.py``,
faked in ``tests/fakes.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from csms.onboarding.facts import ChargerFacts


class FactSource(Protocol):
    def facts(self, charge_point_id: str, now: datetime, since: datetime | None = None) -> ChargerFacts | None:
        """One charger's stored state, bounded (newest samples, outcomes, review items) and its
        latest active check; None for an unknown charger. A fixed number of reads per call.
        ``since``: only meter samples and call outcomes from then on (the active check's cheap look)."""
        ...


class CheckStore(Protocol):
    def load_check(self, charge_point_id: str) -> dict[str, Any] | None:
        """The charger's latest active check (its ``as_dict``), or None."""
        ...

    def save_check(self, charge_point_id: str, check: dict[str, Any], expected_version: int | None) -> bool:
        """Store ``check`` if the stored one still has ``expected_version`` (None: there is none);
        False when another writer got there first (nothing written)."""
        ...


class ModelVerdicts(Protocol):
    def record(self, vendor: str, model: str, firmware: str | None, charge_point_id: str,
               summary: dict[str, str], at: datetime) -> None:
        """Keep a charger's latest verdicts (requirement id -> state) under its vendor and model."""
        ...

    def models(self) -> list[tuple[str, str]]:
        """Every (vendor, model) with a recorded charger."""
        ...

    def chargers(self, vendor: str, model: str) -> list[dict[str, Any]]:
        """The model's chargers: {charger, firmware, summary, at}."""
        ...


class FleetByModel(Protocol):
    def chargers_of(self, vendor: str, model: str) -> list[tuple[str, str | None]]:
        """(charge point id, firmware version at its last boot) of every charger of a model."""
        ...
