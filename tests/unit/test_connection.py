"""Handshake decisions and credentials, without storage."""

from __future__ import annotations

import base64

import pytest

from csms.ocpp.connection import authorize, choose_subprotocol, id_from_path
from csms.ocpp.credentials import CredentialError, generate_key, hash_key, parse_basic_auth, verify_key
from csms.model import ChargerAuth

KEY = "0123456789abcdef"


def _basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def stored():
    return {"CP1": ChargerAuth("CP1", hash_key(KEY))}


def test_key_is_stored_salted_and_verified(stored):
    assert KEY not in stored["CP1"].password_hash
    assert hash_key(KEY) != hash_key(KEY)  # salted
    assert verify_key(KEY, stored["CP1"].password_hash)
    assert not verify_key(KEY + "x", stored["CP1"].password_hash)
    assert not verify_key(KEY, "garbage")


def test_generated_keys_are_40_hex_chars_and_unique():
    keys = {generate_key() for _ in range(20)}
    assert len(keys) == 20 and all(len(k) == 40 and int(k, 16) >= 0 for k in keys)


@pytest.mark.parametrize("key", ["short", "x" * 41, "ünïcödé-ünïcödé-ü", ""])
def test_bad_keys_are_refused(key):
    with pytest.raises(CredentialError):
        hash_key(key)


@pytest.mark.parametrize("header", [None, "", "Basic", "Basic ####", "Bearer x", "Basic " + base64.b64encode(b"nocolon").decode(),
                                    "Basic " + base64.b64encode(b":pw").decode(), "Basic " + base64.b64encode(b"\xff\xfe:x").decode()])
def test_malformed_authorization_headers_parse_to_none(header):
    assert parse_basic_auth(header) is None


def test_password_may_contain_colons():
    assert parse_basic_auth(_basic("CP1", "a:b:c")).password == "a:b:c"


@pytest.mark.parametrize("headers, allowed", [
    ({"authorization": _basic("CP1", KEY)}, True),
    ({"Authorization": _basic("CP1", KEY), "ws-uri": "/ocpp/CP1"}, True),
    ({"Authorization": _basic("CP1", KEY), "WS-URI": "/some/prefix/ocpp/CP1?x=1"}, True),
    ({"Authorization": _basic("CP1", KEY), "ws-uri": "/ocpp/CP2"}, False),
    ({"Authorization": _basic("CP1", "wrongwrongwrong1")}, False),
    ({"Authorization": _basic("CP2", KEY)}, False),
    ({"Authorization": _basic("CP/1", KEY)}, False),
    ({}, False),
])
def test_authorize(stored, headers, allowed):
    assert authorize(headers, stored.get).allowed is allowed


def test_disabled_charger_is_refused():
    auth = ChargerAuth("CP1", hash_key(KEY), enabled=False)
    assert not authorize({"Authorization": _basic("CP1", KEY)}, lambda _: auth).allowed


@pytest.mark.parametrize("path, expected", [("/ocpp/CP1", "CP1"), ("/ocpp/CP%201", "CP 1"), ("/CP1/", "CP1"), ("/", None),
                                            ("/ocpp/%ff", None)])
def test_id_from_path(path, expected):
    assert id_from_path(path) == expected


@pytest.mark.parametrize("offered, chosen", [("ocpp1.6", "ocpp1.6"), ("ocpp2.0.1,ocpp1.6", "ocpp1.6"), ("ocpp2.0.1", None),
                                             (None, None), ("OCPP1.6", None)])
def test_subprotocol(offered, chosen):
    headers = {"Sec-WebSocket-Protocol": offered} if offered else {}
    assert choose_subprotocol(headers) == chosen


def test_generated_keys_get_a_fast_hash_and_chosen_keys_keep_scrypt():
    generated, chosen = generate_key(), KEY
    fast, slow = hash_key(generated), hash_key(chosen)
    # A 160-bit random key: one salted HMAC-SHA256 (cannot be guessed, so no slow hash is needed)
    assert fast.startswith("hmac-sha256$") and generated not in fast and hash_key(generated) != fast
    wrong = generated[:-1] + ("1" if generated[-1] == "0" else "0")
    assert verify_key(generated, fast) and not verify_key(wrong, fast)
    # An operator's chosen key may be guessable: scrypt
    assert slow.startswith("scrypt$") and verify_key(chosen, slow)
    # Hashes stored before the change (scrypt, even of a generated key) still verify
    legacy = hash_key(generated, slow=True)
    assert legacy.startswith("scrypt$") and verify_key(generated, legacy)
    assert not verify_key(generated, "hmac-sha256$not-base64$x")


def test_a_verified_scrypt_key_is_not_run_through_scrypt_again_but_a_wrong_or_changed_key_is(monkeypatch):
    """A reconnect storm's handshakes: the same key against the same stored hash costs one scrypt per
    process; a wrong key, or the old key after a change (new hash), pays scrypt every time and fails."""
    from csms.ocpp import credentials

    monkeypatch.setattr(credentials, "VERIFIED", credentials.VerifiedKeys(limit=2))
    runs = []
    scrypt = credentials.hashlib.scrypt

    def counted(*args, **kwargs):
        runs.append(1)
        return scrypt(*args, **kwargs)

    stored = hash_key(KEY, slow=True)
    monkeypatch.setattr(credentials.hashlib, "scrypt", counted)
    assert verify_key(KEY, stored) and verify_key(KEY, stored) and verify_key(KEY, stored)
    assert len(runs) == 1
    assert not verify_key(KEY + "x", stored) and not verify_key(KEY + "x", stored) and len(runs) == 3
    changed = hash_key("another-key-0123456789", slow=True)  # the operator changed the key: a new hash
    assert not verify_key(KEY, changed) and verify_key("another-key-0123456789", changed)
    assert verify_key(KEY, stored) and len(runs) == 6  # 1 + 2 wrong + 1 hash + 2 checks of the new hash
    # bounded: two more verified hashes forget the oldest, which then costs scrypt again
    others = [hash_key(f"key-number-{n}-0123456789", slow=True) for n in range(2)]
    for n, other in enumerate(others):
        assert verify_key(f"key-number-{n}-0123456789", other)
    before = len(runs)
    assert verify_key(KEY, stored) and len(runs) == before + 1
