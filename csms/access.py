"""Who may do what, shared by every capability's operations (``csms.operations`` is their facade).

Every operation takes the caller (:class:`Principal`) and checks it: an operator sees and
commands the whole fleet; a driver sees only the chargers linked to their account, and a charger
that is not theirs is answered exactly like one that does not exist (nothing to enumerate).
The refusals below are what a caller (HTTP API, CLI) is told, in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from csms.model import ChargerView
from csms.timeutil import iso
from csms.views.ports import ChargerDirectory, DriverLinks


@dataclass(frozen=True)
class Principal:
    """The caller: ``subject`` (the login's id; a driver's account), ``operator`` (sees and commands the fleet)."""

    subject: str
    operator: bool = False

    def __post_init__(self):
        if not self.subject:
            raise ValueError("a principal needs a subject")


class NotFound(LookupError):
    """Unknown, or not visible to this caller."""


class Forbidden(PermissionError):
    """Only operators may do this."""


class Invalid(ValueError):
    """Input the caller must fix; the message says what."""


class Conflict(Exception):
    """The request clashes with stored state (an id already taken)."""


REFUSALS = (NotFound, Forbidden, Invalid, Conflict)  # what a caller is told in one line


def ts(value: datetime | None) -> str | None:
    """ISO 8601 UTC text of ``value``, or None."""
    return iso(value) if value is not None else None


def require_operator(who: Principal) -> None:
    """Raises Forbidden unless ``who`` is an operator."""
    if not who.operator:
        raise Forbidden("only operators may do this")


class Access:
    """The visibility rules over the charger directory: which chargers a caller may see, and the
    driver links that decide it (``links``: link periods, ``csms.views.driver_links``; None: the
    charger item's driver attribute)."""

    def __init__(self, chargers: ChargerDirectory, links: DriverLinks | None, clock: Callable[[], datetime]):
        self.chargers, self.links, self.clock = chargers, links, clock

    def visible(self, who: Principal, charge_point_id: str) -> ChargerView:
        """The charger's view; NotFound when unknown or not the caller's."""
        view = self.chargers.get(charge_point_id)
        if view is None or not (who.operator or view.driver == who.subject):
            raise NotFound(f"no charger {charge_point_id}")
        return view

    def charger_views(self, who: Principal, limit: int, cursor: str | None) -> tuple[list[ChargerView], str | None]:
        """One page of the chargers the caller may see: (views, next cursor). Raises Invalid."""
        try:
            if who.operator:
                return self.chargers.page(limit, cursor)
            return self.chargers.page_of_driver(who.subject, limit, cursor)
        except ValueError as exc:  # a cursor this API did not hand out
            raise Invalid(str(exc)) from exc

    def link(self, charge_point_id: str, driver: str | None) -> bool:
        """Link ``driver`` (None unlinks) to the charger from now; False when the charger is unknown."""
        if self.links is not None:
            return self.links.link(charge_point_id, driver, self.clock())
        return self.chargers.set_driver(charge_point_id, driver)
