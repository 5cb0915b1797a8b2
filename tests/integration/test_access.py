"""Who may connect, under attack: an attacker's wrong keys throttle the attacker's own source (with
back-off, without scrypt work) and never the charger's right key from its own source; arbitrary
handshake headers never let anyone in or write state."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csms.ocpp.connection
from csms.ocpp import certificates as certs
from csms.ocpp import lockout
from handlers import authorizer
from tests import events
from tests.integration.conftest import PASSWORD

CHARGER_IP = "203.0.113.10"
ATTACKER_IP = "198.51.100.7"


def _authorize(headers, source_ip=None):
    return authorizer.lambda_handler(events.authorizer_event(headers, source_ip=source_ip), None)


def _attempt(password, source_ip=CHARGER_IP, charge_point_id="CP001", **edge_headers):
    try:
        _authorize({"Authorization": events.basic(charge_point_id, password), "ws-uri": f"/ocpp/{charge_point_id}",
                    **edge_headers}, source_ip)
        return True
    except Exception as exc:
        assert str(exc) == "Unauthorized"
        return False


@pytest.fixture
def scrypt_checks(monkeypatch):
    """The handshakes whose key the authorizer checked (hashing work), one entry (the password) each.
    A password may stand for up to four key texts (hex text or its 16-20 bytes, either case:
    ``BasicCredentials.key_forms``); every check of one handshake is asserted to stay within those."""
    import csms.ocpp.credentials as credentials

    calls: list[str] = []
    real_forms, real_verify = credentials.BasicCredentials.key_forms, csms.ocpp.connection.verify_key
    runs = {"forms": 0, "verified": 0}

    def key_forms(self):
        forms = real_forms(self)
        calls.append(self.password)
        runs["forms"] += len(forms)
        return forms

    def verify(key, stored):
        runs["verified"] += 1
        return real_verify(key, stored)

    monkeypatch.setattr(credentials.BasicCredentials, "key_forms", key_forms)
    monkeypatch.setattr(csms.ocpp.connection, "verify_key", verify)
    yield calls
    assert runs["verified"] <= 2 * runs["forms"]  # the current key and, during a rotation, the pending one


@pytest.fixture
def clock(monkeypatch):
    """The authorizer's clock, stopped (a list: set clock[0] to move it)."""
    now = [datetime.now(timezone.utc)]

    class Stopped(datetime):
        @classmethod
        def now(cls, tz=None):
            return now[0]

    monkeypatch.setattr(authorizer, "datetime", Stopped)
    return now


def test_the_real_charger_is_admitted_while_an_attacker_is_being_refused(charger, scrypt_checks, clock, caplog):
    # Given an attacker hammering CP001 with wrong keys from its own address
    for i in range(lockout.SOURCE_FREE + 30):
        assert _attempt(f"guess-{i:016d}", ATTACKER_IP) is False
        # Then at every point the real charger, from its address, gets in with its key
        if i % 7 == 0:
            assert _attempt(PASSWORD, CHARGER_IP) is True
    # And the attacker is being refused for being throttled, not for its guesses
    assert lockout.THROTTLED in " ".join(str(r.__dict__) for r in caplog.records)
    # Even the right key is refused *from the attacker's address* while it waits
    assert _attempt(PASSWORD, ATTACKER_IP) is False
    # And scrypt ran only for the attacker's free guesses, plus the charger's own handshakes
    attacker_checks = [k for k in scrypt_checks if k != PASSWORD]
    assert len(attacker_checks) == lockout.PAIR_FREE
    # The back-off doubles: one more guess a second later, then the attacker waits 2 s
    clock[0] += timedelta(seconds=1)
    assert _attempt("guess-again-000000", ATTACKER_IP) is False
    assert len([k for k in scrypt_checks if k != PASSWORD]) == lockout.PAIR_FREE + 1
    clock[0] += timedelta(seconds=1)
    assert _attempt(PASSWORD, ATTACKER_IP) is False
    assert _attempt(PASSWORD, CHARGER_IP) is True


def test_the_back_off_ends_and_a_source_with_few_failures_is_never_refused(charger, clock):
    for i in range(lockout.PAIR_FREE - 1):
        assert _attempt(f"guess-{i:016d}", ATTACKER_IP) is False
    assert _attempt(PASSWORD, ATTACKER_IP) is True  # a typo or two from the charger's own site
    for i in range(lockout.PAIR_FREE + 3):
        _attempt(f"guess-{i:016d}", ATTACKER_IP)
    assert _attempt(PASSWORD, ATTACKER_IP) is False  # waiting
    clock[0] += timedelta(seconds=2 ** 3)
    assert _attempt(PASSWORD, ATTACKER_IP) is True  # the wait is over


def test_guessing_ids_throttles_the_guessing_source_only(charger, clock):
    for i in range(lockout.SOURCE_FREE + 2):
        assert _attempt(f"guess-{i:016d}", ATTACKER_IP, charge_point_id=f"NOBODY{i}") is False
    assert _attempt(PASSWORD, ATTACKER_IP) is False  # the source waits, whatever it tries
    assert _attempt(PASSWORD, CHARGER_IP) is True


def test_operators_see_failures_per_charger_and_per_source(charger, platform):
    for i in range(3):
        _attempt(f"guess-{i:016d}", ATTACKER_IP)
    now = datetime.now(timezone.utc)
    per_charger = lockout.charger_failures(platform.failures, "CP001", now)
    assert per_charger["failures"] == 3 and per_charger["last_source"] == ATTACKER_IP
    per_source = lockout.source_failures(platform.failures, ATTACKER_IP, now)
    assert per_source["failures"] == 3 and per_source["refused_until"] is None
    assert lockout.source_failures(platform.failures, CHARGER_IP, now)["failures"] == 0


def test_failures_for_an_unknown_charger_store_no_charger(platform):
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
    # nothing written to the charger (failures are counted in the keys table)
    assert after == before


def test_operators_read_failures_through_the_api_and_drivers_cannot(charger, platform):
    import json

    from handlers import api

    for i in range(2):
        _attempt(f"guess-{i:016d}", ATTACKER_IP)

    def get(path, claims):
        response = api.lambda_handler(events.http_event("GET", path, claims=claims), None)
        return response["statusCode"], json.loads(response["body"])

    operator = {"sub": "op-1", "cognito:groups": "[operators]"}
    status, body = get("/v1/chargers/CP001/auth-failures", operator)
    assert status == 200 and body["failures"] == 2 and body["last_source"] == ATTACKER_IP
    status, body = get(f"/v1/auth-failures/{ATTACKER_IP}", operator)
    assert status == 200 and body["failures"] == 2 and body["refused_until"] is None
    assert get("/v1/auth-failures/not-an-ip", operator)[0] == 400
    assert get("/v1/chargers/CP001/auth-failures", {"sub": "alice"})[0] == 403


# Behind CloudFront every viewer of an edge arrives from the edge's address

EDGE_IP = "130.176.0.1"
ORIGIN_SECRET = "origin-secret-0123456789abcdef"


@pytest.fixture
def edge(platform, monkeypatch, charger):
    """The runtime as the stack configures it: CloudFront adds the origin secret the authorizer checks."""
    from handlers import _runtime

    monkeypatch.setenv("ORIGIN_SECRET", ORIGIN_SECRET)
    _runtime.reset()
    return _runtime.runtime()


def _via_edge(password, viewer_address, secret=ORIGIN_SECRET):
    """A handshake CloudFront forwards: from the edge's address, with the viewer's ip:port."""
    return _attempt(password, EDGE_IP, **{lockout.VIEWER_ADDRESS: viewer_address,
                                          certs.ORIGIN_SECRET_HEADER: secret})


def test_an_attacker_on_the_charger_s_edge_never_refuses_the_charger(edge, clock, caplog):
    # Given an attacker hammering CP001 through the same CloudFront edge as the charger
    for i in range(lockout.SOURCE_FREE + 5):
        assert _via_edge(f"guess-{i:016d}", f"{ATTACKER_IP}:{40000 + i}") is False
    assert lockout.THROTTLED in " ".join(str(r.__dict__) for r in caplog.records)
    # Then the attacker's viewer address is refused, even with the right key (it is waiting)
    assert _via_edge(PASSWORD, f"{ATTACKER_IP}:41000") is False
    # And the charger, arriving from the same edge IP but its own viewer address, gets in
    assert _via_edge(PASSWORD, "[2001:db8::10]:50000") is True
    assert _via_edge(PASSWORD, f"{CHARGER_IP}:50001") is True
    # The failures were counted under the viewer's address, not the edge's (a waiting source's tries are not)
    now = clock[0]
    assert lockout.source_failures(edge.failures, ATTACKER_IP, now)["failures"] == lockout.PAIR_FREE
    assert lockout.source_failures(edge.failures, EDGE_IP, now)["failures"] == 0
    assert lockout.charger_failures(edge.failures, "CP001", now)["last_source"] == ATTACKER_IP


def test_a_forged_viewer_address_without_the_origin_secret_is_ignored(edge, clock):
    # Given an attacker calling the API Gateway endpoint directly, naming the charger's address as its viewer
    forged = {lockout.VIEWER_ADDRESS: f"{CHARGER_IP}:443"}
    for secret in (None, "wrong-secret-0000000000000000"):
        headers = forged if secret is None else {**forged, certs.ORIGIN_SECRET_HEADER: secret}
        for i in range(lockout.PAIR_FREE):
            assert _attempt(f"guess-{i:016d}", ATTACKER_IP, **headers) is False
    # Then its failures are its own TCP source's: that is what waits (after the free ones, unhashed)
    now = clock[0]
    assert lockout.source_failures(edge.failures, ATTACKER_IP, now)["failures"] == lockout.PAIR_FREE
    assert lockout.source_failures(edge.failures, CHARGER_IP, now)["failures"] == 0
    assert _attempt(PASSWORD, ATTACKER_IP, **forged) is False
    # And the charger, whose address was named, is admitted at once, directly and through the edge
    assert _attempt(PASSWORD, CHARGER_IP) is True
    assert _via_edge(PASSWORD, f"{CHARGER_IP}:50000") is True


def test_an_unreadable_viewer_address_from_the_edge_counts_under_the_edge_address(edge, clock):
    for value in ("not-an-address", "198.51.100.7", ""):
        assert _via_edge(f"guess-{value or 'empty'}-0000000", value) is False
    assert lockout.source_failures(edge.failures, EDGE_IP, clock[0])["failures"] == 3
