"""The operators' and drivers' operations with the in-memory fakes (no moto): who may see and do
what, the input checks (made here once, for the API and the CLI alike) and the re-plan requests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from csms.ocpp.commands import Commander
from csms.ocpp.credentials import verify_key
from csms.operations import Conflict, Forbidden, Invalid, NotFound, Operations, Principal
from tests.fakes import MemoryCallQueue, MemoryChargers, MemoryConnectors, MemoryEvents, MemoryMeter, MemoryPoster
from tests.fakes import MemorySessions, MemorySignals

NOW = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)
OPS = Principal("ops", operator=True)
ALICE, BOB = Principal("alice"), Principal("bob")


@pytest.fixture
def world():
    chargers, queue, poster, asked = MemoryChargers(), MemoryCallQueue(), MemoryPoster(), []
    operations = Operations(chargers=chargers, connectors=MemoryConnectors(), sessions=MemorySessions(),
                            meter=MemoryMeter(), calls=queue, commander=Commander(queue, chargers, poster,
                                                                                  clock=lambda: NOW),
                            signals=MemorySignals(), events=MemoryEvents(), replan=asked.append, clock=lambda: NOW)
    operations.register_charger(OPS, "A1", driver="alice")
    return operations, chargers, queue, poster, asked


def test_registering_returns_a_working_key_once_and_refuses_duplicates_and_bad_ids(world):
    operations, chargers, *_ = world
    created = operations.register_charger(OPS, "C1", "0123456789abcdef0123")
    assert created == {"id": "C1", "authorization_key": "0123456789abcdef0123", "driver": None}
    assert verify_key("0123456789abcdef0123", chargers.get_auth("C1").password_hash)
    with pytest.raises(Conflict, match="already registered"):
        operations.register_charger(OPS, "C1")
    with pytest.raises(Invalid, match="without '/'"):
        operations.register_charger(OPS, "a/b")
    with pytest.raises(Invalid, match="16"):
        operations.register_charger(OPS, "C2", "short")
    with pytest.raises(Forbidden):
        operations.register_charger(ALICE, "C3")


def test_a_driver_sees_only_their_chargers_and_another_is_answered_as_missing(world):
    operations, *_ = world
    assert [c["id"] for c in operations.list_chargers(ALICE)] == ["A1"]
    assert operations.list_chargers(BOB) == []
    with pytest.raises(NotFound, match="no charger A1"):
        operations.get_preference(BOB, "A1")


def test_a_preference_is_checked_stored_as_a_value_and_re_plans(world):
    operations, chargers, _, _, asked = world
    departure = NOW + timedelta(hours=8)
    saved = operations.set_preference(ALICE, "A1", departure, 22.5, False, 250)
    assert saved == {"departure": "2024-06-13T02:00:00.000Z", "energy_kwh": 22.5, "charge_now": False,
                     "carbon_price_gbp_per_t": 250, "replan": "requested"}
    assert chargers.preference("A1").energy_kwh == 22.5 and asked == ["A1"]
    for bad in [dict(energy_kwh=0), dict(energy_kwh=1001), dict(carbon_price=-1), dict(departure=NOW)]:
        args = {"departure": None, "energy_kwh": None, "charge_now": False, "carbon_price": None, **bad}
        with pytest.raises(Invalid):
            operations.set_preference(ALICE, "A1", **args)
    assert asked == ["A1"]  # a refused change asks for nothing


def test_a_command_is_validated_guarded_and_sent_to_an_online_charger(world):
    operations, chargers, queue, poster, _ = world
    chargers.connect("A1", "conn-1", NOW)
    sent = operations.send_command(OPS, "A1", "Reset", {"type": "Soft"})
    assert sent["status"] == "sent" and len(poster.sent) == 1
    queued = operations.send_command(OPS, "A1", "Reset", {"type": "Hard"})
    assert queued["status"] == "queued"  # one outstanding call per charger
    with pytest.raises(Invalid, match="rotate-key"):  # the key goes through rotate_key, never raw
        operations.send_command(OPS, "A1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": "k" * 20})
    with pytest.raises(Invalid, match="Reset"):
        operations.send_command(OPS, "A1", "Reset", {"type": "Sideways"})
    with pytest.raises(Forbidden):
        operations.send_command(ALICE, "A1", "Reset", {"type": "Soft"})
    assert len(queue.queued("A1")) == 2


def test_grid_events_are_checked_and_re_plan_the_fleet(world):
    operations, _, _, _, asked = world
    event = operations.create_event(OPS, NOW + timedelta(hours=1), NOW + timedelta(hours=2), 50)
    assert [e["id"] for e in operations.list_events(OPS)] == [event["id"]]
    with pytest.raises(Invalid):
        operations.create_event(OPS, NOW + timedelta(hours=2), NOW + timedelta(hours=1), 50)
    operations.cancel_event(OPS, event["id"])
    with pytest.raises(NotFound):
        operations.cancel_event(OPS, "no-such-event")
    assert asked == ["*", "*"]
