"""Reading the edge's certificate headers (RFC 2253 names, serials, fingerprints)."""

from __future__ import annotations

import pytest

from csms.ocpp import certificates as certs


def test_distinguished_names_with_escapes_and_multi_valued_rdns():
    parsed = certs.parse_dn(r"CN=CP\2C001+serialNumber=42,O=Acme\, Ltd,C=GB")
    assert parsed == {"CN": ["CP,001"], "SERIALNUMBER": ["42"], "O": ["Acme, Ltd"], "C": ["GB"]}


def test_two_common_names_match_no_charger():
    cert = certs.ClientCertificate("CN=CP001,CN=CP002,O=X", "CN=CA", "1", "00" * 32, *[None] * 2)
    assert cert.common_name is None


@pytest.mark.parametrize("value, key", [("0A:1b:2C", "serial:a1b2c"), ("000", "serial:0"), ("a1b2c", "serial:a1b2c")])
def test_serials_are_normalised_so_a_revocation_matches_any_spelling(value, key):
    assert certs.revocation_key("serial", value) == key


def test_a_fingerprint_must_be_a_sha256():
    with pytest.raises(ValueError):
        certs.revocation_key("sha256", "abcd")
    assert certs.revocation_key("sha256", "AB:" * 31 + "AB") == "sha256:" + "ab" * 32


def test_viewer_tls_header():
    assert certs.parse_viewer_tls("TLSv1.3:TLS_AES_128_GCM_SHA256:sessionResumed") == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
    assert certs.parse_viewer_tls(None) == (None, None)
