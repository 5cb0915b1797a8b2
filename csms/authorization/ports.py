"""What authorization needs from storage (``adapters.dynamo.authorization``; ``tests.fakes``)."""

from __future__ import annotations

from typing import Protocol

from csms.authorization.model import IdTag, Policy, Reservation


class AuthorizationStore(Protocol):
    def lookup(self, charge_point_id: str, id_tag: str) -> tuple[Policy | None, IdTag | None]:
        """The charger's policy (None: none stored, accept-all) and the tag (None: unknown), in ONE
        read request by key (both items at once): the per-message cost of Authorize and
        StartTransaction, independent of the fleet's and the list's size."""

    def policy(self, charge_point_id: str) -> Policy | None: ...

    def set_policy(self, charge_point_id: str, policy: Policy) -> None: ...

    def get_tag(self, id_tag: str) -> IdTag | None: ...

    def put_tag(self, tag: IdTag) -> None: ...

    def delete_tag(self, id_tag: str) -> bool:
        """False when the tag was not there."""

    def tags(self) -> list[IdTag]:
        """Every known tag (operators' listing, SendLocalList): by key, never a Scan."""

    def next_reservation_id(self) -> int:
        """A new reservationId (atomic counter, > 0)."""

    def put_reservation(self, reservation: Reservation) -> None: ...

    def reservation(self, charge_point_id: str, reservation_id: int) -> Reservation | None: ...

    def reservations(self, charge_point_id: str) -> list[Reservation]:
        """A charger's reservations, newest first (one Query on its partition)."""
