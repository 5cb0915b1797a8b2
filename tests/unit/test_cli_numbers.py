"""Decimal options take finite numbers only (``csms_local.cli.number``): ``nan`` and ``inf``, which
Python's ``float`` reads, were passed on and met the API's range checks with a misleading message
("--cap-kw should be <= 1000000" for ``nan``) or no check at all (``csms cost --metering-hours inf``
printed a bill of ``inf``). And ``csms token`` without an account says what it needs."""

from __future__ import annotations

import pytest

from csms_local.cli import main


@pytest.mark.parametrize("argv, flag", [
    (["event", "add", "--cap-kw", "nan", "--start", "2026-12-01T10:00Z", "--end", "2026-12-01T11:00Z",
      "--sites", "depot"], "--cap-kw"),
    (["site", "add", "depot", "--limit-kw", "inf"], "--limit-kw"),
    (["cost", "--metering-hours=-inf"], "--metering-hours"),
    (["charger", "prefer", "CP1", "--energy-kwh", "NaN"], "--energy-kwh"),
])
def test_nan_and_infinity_are_refused_in_one_line_naming_the_option(argv, flag, capsys):
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"argument {flag}: invalid number value" in line


def test_a_finite_number_is_still_read(capsys):
    assert main(["cost", "--metering-hours", "12.5"]) == 0
    assert "$" in capsys.readouterr().out


def test_a_token_without_an_account_says_what_it_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("csms_local.state.has_state", lambda _state_dir: True)
    assert main(["token", "--state-dir", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "error: a token is for an account: csms token NAME [--operator] (or --revoke TOKEN)"
