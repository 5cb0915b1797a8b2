"""What a fresh engineer found probing the merged platform as a new user (closing note of this stop):
each test fails on the code before its fix."""

from __future__ import annotations

import csv
import io

import pytest

from csms.console.export import sessions_csv
from csms.ocpp.certificates import revocation_key
from csms_local.cli import main


def test_charger_cert_issues_a_certificate_from_the_state_dirs_charger_ca(tmp_path, capsys):
    # was: NameError (pathlib.Path not imported) and a traceback, every time
    assert main(["charger", "cert", "CP001", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "certificate:" in out and "CN=CP001" in out
    assert (tmp_path / "chargers").is_dir() and any((tmp_path / "chargers").iterdir())


@pytest.mark.parametrize("typo", ["zz", "-1", "0xZZ", "zz12", ""])
def test_a_serial_that_is_not_hex_is_refused_not_revoked_as_another_serial(typo):
    # was: "zz12" stored as serial:12, another certificate's serial
    with pytest.raises(ValueError, match="hex"):
        revocation_key("serial", typo)


def test_serials_in_their_usual_spellings_name_the_same_certificate():
    assert {revocation_key("serial", v) for v in ("04:A3:0F", "4a30f", "0x4A30F", "04 a3 0f")} == {"serial:4a30f"}


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_starts_with_a_quote():
    text = sessions_csv([{"charger": "CP003", "transaction_id": 3, "id_tag": '=1+2,"x"', "energy_kwh": 1.5,
                          "flags": []}])
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["id_tag"] == "'=1+2,\"x\"" and row["energy_kwh"] == "1.5" and row["charger"] == "CP003"
