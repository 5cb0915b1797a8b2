"""Who may connect, under attack: brute force locks a charger's key out for a while (the right key
too), the lockout expires, and arbitrary handshake headers never let anyone in or write state."""

from __future__ import annotations

import string
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.ocpp.connection import LOCKOUT_FAILURES, LOCKOUT_WINDOW
from handlers import authorizer
from tests import events
from tests.integration.conftest import PASSWORD


def _authorize(headers):
    return authorizer.lambda_handler(events.authorizer_event(headers), None)


def _attempt(password):
    try:
        _authorize({"Authorization": events.basic("CP001", password), "ws-uri": "/ocpp/CP001"})
        return True
    except Exception as exc:
        assert str(exc) == "Unauthorized"
        return False


def test_brute_force_locks_the_charger_out_then_the_window_passes(charger, monkeypatch, caplog):
    # Given an attacker trying keys for CP001
    for i in range(LOCKOUT_FAILURES):
        assert _attempt(f"guess-{i:016d}") is False
    # Then even the right key is refused while locked (and no scrypt work is done for it)
    assert _attempt(PASSWORD) is False
    assert "locked: too many wrong keys" in " ".join(str(r.__dict__) for r in caplog.records)
    # And after the window the charger gets in again with its key
    import csms.ocpp.connection as connection
    from datetime import datetime, timezone

    later = datetime.now(timezone.utc) + LOCKOUT_WINDOW + timedelta(seconds=1)
    real_authorize = connection.authorize
    monkeypatch.setattr(authorizer, "authorize", lambda headers, lookup, now: real_authorize(headers, lookup, later))
    assert _attempt(PASSWORD) is True


def test_fewer_failures_than_the_limit_do_not_lock(charger):
    for i in range(LOCKOUT_FAILURES - 1):
        assert _attempt(f"guess-{i:016d}") is False
    assert _attempt(PASSWORD) is True


def test_failures_for_an_unknown_charger_store_nothing(platform):
    from adapters.dynamo.models import ChargerModel

    for i in range(3):
        with pytest.raises(Exception, match="^Unauthorized$"):
            _authorize({"Authorization": events.basic("NOBODY", f"guess-{i:016d}"), "ws-uri": "/ocpp/NOBODY"})
    assert list(ChargerModel.scan()) == []


header_text = st.text(alphabet=string.printable + "é€\x00", max_size=80)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=st.dictionaries(st.sampled_from(["Authorization", "authorization", "ws-uri", "Sec-WebSocket-Protocol",
                                                "X-Other"]), header_text, max_size=4),
       basic_user=header_text, basic_password=header_text, use_basic=st.booleans())
def test_arbitrary_handshake_headers_never_get_in_and_write_nothing(charger, headers, basic_user, basic_password,
                                                                     use_basic):
    from adapters.dynamo.models import ChargerModel

    if use_basic:
        headers = {**headers, "Authorization": events.basic(basic_user, basic_password)}
    before = ChargerModel.get("CP001").to_simple_dict()
    try:
        policy = _authorize(headers)
    except Exception as exc:
        assert str(exc) == "Unauthorized"
    else:  # only the registered charger with its own key
        assert policy["context"]["chargePointId"] == "CP001" and basic_password == PASSWORD
    after = ChargerModel.get("CP001").to_simple_dict()
    # nothing written, except the failure counter when CP001's own name came with a wrong key
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {"auth_failures", "auth_failures_since"}
