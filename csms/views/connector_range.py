"""Which connector ids a charger has: what a ReserveNow or a GetCompositeSchedule may name before it
is sent (OCPP 1.6 sections 5.13 and 5.7: connectorId 0 is the charger as a whole, 1..n its
connectors; a charger answers an id it does not have with Rejected).

The count is the larger of the charger's ``NumberOfConnectors`` (configuration key, section 9.1.23,
read after every BootNotification) and the highest connector id it has sent a StatusNotification
for; None while neither is known (nothing is refused then: the charger will answer)."""

from __future__ import annotations

from typing import Iterable, Mapping

from csms.access import Invalid


def connector_count(capabilities: Mapping[str, str], reported: Iterable[int]) -> int | None:
    """The number of connectors, or None when the charger has told nothing yet. An unreadable
    ``NumberOfConnectors`` value counts as not told."""
    told: list[int] = [i for i in reported if i > 0]
    try:
        told.append(int(str(capabilities.get("NumberOfConnectors", "")).strip()))
    except ValueError:
        pass
    return max(told) if told else None


def check_connector_id(charge_point_id: str, connector_id: int, count: int | None) -> None:
    """Raise ``Invalid`` (the message names the charger's count) for an id below 0 or above ``count``."""
    if connector_id < 0:
        raise Invalid("connector_id must be >= 0 (0: the charger as a whole)")
    if count is not None and connector_id > count:
        raise Invalid(f"{charge_point_id} has {count} connector{'s' if count != 1 else ''}: connector_id must be "
                      f"0-{count} (0: the charger as a whole)")
