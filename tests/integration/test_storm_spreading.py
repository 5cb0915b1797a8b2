"""The platform closes each connection at a random age before API Gateway's 2-hour cut (issue 15):
the sweeper finds them through the online index, not a scan."""

from __future__ import annotations

from datetime import timedelta

from csms.ocpp.connection_age import MAX_AGE, MIN_AGE
from csms.timeutil import utcnow
from handlers import sweeper
from tests.integration.conftest import ChargerClient


def test_connections_are_closed_at_a_random_age_between_90_and_115_minutes(platform, poster):
    rt = platform
    chargers = [ChargerClient(rt, f"CP{i:03d}").register() for i in range(30)]
    for c in chargers:
        c.handshake()
    now = utcnow()
    # Nothing is due before 90 minutes
    assert sweeper.close_aged(rt, now + MIN_AGE - timedelta(seconds=5)) == 0
    # The ages drawn are spread over the window (a fleet that connected together drifts apart)
    due_at_100 = len(rt.chargers.due_to_close(now + timedelta(minutes=102, seconds=30)))
    assert 0 < due_at_100 < len(chargers)
    # By 115 minutes (+ the sweeper's period) every connection has been closed, each once
    assert sweeper.close_aged(rt, now + MAX_AGE + timedelta(minutes=1)) == len(chargers)
    assert sorted(poster.closed) == sorted(c.connection_id for c in chargers)
    # Closed connections (their $disconnect arrives) leave the index: not closed twice, not counted
    for c in chargers:
        c.disconnect()
    assert rt.chargers.due_to_close(now + timedelta(hours=3)) == [] and rt.chargers.count_online() == 0


def test_backfill_indexes_chargers_and_active_sessions_written_before_the_indexes(platform):
    from adapters.dynamo.backfill import backfill
    from adapters.dynamo.models import ChargerModel, SessionModel

    rt = platform
    ChargerClient(rt, "OLD1").register()
    ChargerModel("OLD1").update(actions=[ChargerModel.fleet.remove()])  # as written before the upgrade
    SessionModel("OLD1", 7, connector_id=1, id_tag="T", meter_start_wh=0, started_at=utcnow(),
                 start_received_at=utcnow(), active=True).save()
    assert rt.chargers.list() == [] and rt.sessions.all_active() == []
    assert backfill() == {"chargers": 1, "sessions": 1, "limited sites": 0}
    assert [v.charge_point_id for v in rt.chargers.list()] == ["OLD1"]
    assert [s.transaction_id for s in rt.sessions.all_active()] == [7]
    assert backfill() == {"chargers": 0, "sessions": 0, "limited sites": 0}  # idempotent
