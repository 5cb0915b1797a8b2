"""``csms backtest``: plans real sessions on real prices, writes the plan, reports savings; bad
files get a one-line error naming the file and row, exit code 2."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest

from csms_local.cli import main

DATA = Path(__file__).resolve().parents[2] / "data"
PRICES, CARBON = str(DATA / "gb_agile_prices.csv"), str(DATA / "gb_carbon_intensity.csv")


def _sessions(tmp_path, rows, header="session_id,plug_in_utc,departure_utc,energy_kwh,max_power_kw"):
    path = tmp_path / "s.csv"
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return str(path)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def acn_sessions(tmp_path_factory):
    path = tmp_path_factory.mktemp("acn") / "sessions.csv"
    assert main(["retime-acn", str(DATA / "ev_sessions_acn.csv"), "--prices", PRICES, "--count", "300",
                 "--out", str(path)]) == 0
    return str(path)


def test_backtest_on_real_sessions_saves_against_charging_on_plug_in(tmp_path, capsys, acn_sessions):
    out = tmp_path / "plan.csv"
    code, stdout, _ = _run(capsys, "backtest", "--sessions", acn_sessions, "--prices", PRICES, "--carbon", CARBON,
                           "--out", str(out))
    assert code == 0
    result = json.loads(stdout)
    assert result["sessions"] == 300 and result["plan"]["sessions_meeting_need"] == 300
    assert result["plan"]["energy_kwh"] == pytest.approx(result["immediate"]["energy_kwh"], abs=0.05)
    assert result["plan"]["cost_gbp"] < result["immediate"]["cost_gbp"]
    assert result["gap_to_lp_optimum_pct"] == pytest.approx(0, abs=0.1)
    # The plan file holds every session's energy, within its stay.
    with open(acn_sessions) as handle:
        stays = {r["session_id"]: (_ts(r["plug_in_utc"]), _ts(r["departure_utc"]), float(r["energy_kwh"]))
                 for r in csv.DictReader(handle)}
    energy: dict[str, float] = {}
    with out.open() as handle:
        for r in csv.DictReader(handle):
            start, end = _ts(r["start_utc"]), _ts(r["end_utc"])
            plug_in, departure, _ = stays[r["session_id"]]
            assert plug_in <= start < end <= departure
            energy[r["session_id"]] = energy.get(r["session_id"], 0) + float(r["power_kw"]) * (end - start).total_seconds() / 3600
    assert all(energy[s] == pytest.approx(need, abs=0.01) for s, (_, _, need) in stays.items())


def test_a_tight_site_limit_is_never_exceeded(tmp_path, capsys, acn_sessions):
    code, stdout, _ = _run(capsys, "backtest", "--sessions", acn_sessions, "--prices", PRICES, "--carbon", CARBON,
                           "--site-limit-kw", "15", "--out", str(tmp_path / "plan.csv"))
    result = json.loads(stdout)
    assert code == 0 and result["method"] == "lp"
    assert result["plan"]["peak_kw"] <= 15.0 < result["immediate"]["peak_kw"]


def test_hardware_options_trade_cost_for_fewer_switches(tmp_path, capsys, acn_sessions):
    args = ["backtest", "--sessions", acn_sessions, "--prices", PRICES, "--carbon", CARBON, "--out", str(tmp_path / "p.csv")]
    _, optimal, _ = _run(capsys, *args)
    _, gentle, _ = _run(capsys, *args, "--max-windows", "1", "--min-on-minutes", "60")
    optimal, gentle = json.loads(optimal), json.loads(gentle)
    assert gentle["plan"]["on_off_switches"] < optimal["plan"]["on_off_switches"]
    assert gentle["plan"]["cost_gbp"] >= optimal["plan"]["cost_gbp"]
    assert gentle["plan"]["energy_kwh"] == pytest.approx(optimal["plan"]["energy_kwh"], abs=0.05)


def test_hourly_slots(tmp_path, capsys):
    sessions = _sessions(tmp_path, [("a", "2024-06-12T17:00:00Z", "2024-06-13T07:00:00Z", 20, 7.4)])
    code, stdout, _ = _run(capsys, "backtest", "--sessions", sessions, "--prices", PRICES, "--carbon", CARBON,
                           "--slot-minutes", "60", "--out", str(tmp_path / "p.csv"))
    assert code == 0 and json.loads(stdout)["plan"]["sessions_meeting_need"] == 1


@pytest.mark.parametrize("rows, header, message", [
    ([("a", "2024-06-12T10:00:00Z", "2024-06-12T12:00:00Z", 5)], "session_id,plug_in_utc,energy_kwh,max_power_kw",
     "s.csv: missing column(s) departure_utc"),
    ([("a", "2024-06-12T10:00:00Z", "2024-06-12T12:00:00Z", 5, 7), ("b", "noon", "2024-06-12T12:00:00Z", 5, 7)], None,
     "s.csv:3: unreadable time"),
    ([("a", "2024-06-12T12:00:00Z", "2024-06-12T10:00:00Z", 5, 7)], None, "s.csv:2: departure"),
    ([("a", "2024-06-12T10:00:00Z", "2024-06-12T12:00:00Z", "lots", 7)], None, "s.csv:2: energy_kwh"),
])
def test_bad_session_files_get_one_line_naming_file_and_row(tmp_path, capsys, rows, header, message):
    sessions = _sessions(tmp_path, rows, header) if header else _sessions(tmp_path, rows)
    code, stdout, err = _run(capsys, "backtest", "--sessions", sessions, "--prices", PRICES, "--carbon", CARBON,
                             "--out", str(tmp_path / "p.csv"))
    assert code == 2 and stdout == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_price_gap_is_refused_naming_the_row(tmp_path, capsys):
    prices = tmp_path / "p.csv"
    lines = (DATA / "gb_agile_prices.csv").read_text().splitlines()
    prices.write_text("\n".join(lines[:10] + lines[12:40]) + "\n")
    sessions = _sessions(tmp_path, [("a", "2024-06-02T01:00:00Z", "2024-06-02T09:00:00Z", 5, 7)])
    code, _, err = _run(capsys, "backtest", "--sessions", sessions, "--prices", str(prices), "--carbon", CARBON,
                        "--out", str(tmp_path / "plan.csv"))
    assert code == 2 and "p.csv:11: prices jump" in err


def test_bad_arguments_are_one_line(tmp_path, capsys):
    code, _, err = _run(capsys, "backtest", "--sessions", "x.csv", "--prices", PRICES, "--carbon", CARBON,
                        "--out", "p.csv", "--site-limit-kw", "-3")
    assert code == 2 and err.strip() == "error: --site-limit-kw must be > 0"


def test_a_site_limit_just_above_the_smallest_feasible_one_meets_every_need(tmp_path, capsys, acn_sessions):
    """Energy first, cost second: re-timed real sessions under the tightest limit that can meet them all."""
    from csms.charging import backtest, tariff

    signals = tariff.load(PRICES, CARBON)
    smallest = backtest.smallest_feasible_limit_kw(backtest.load_sessions(acn_sessions), signals)
    limit = smallest * 1.001
    code, stdout, _ = _run(capsys, "backtest", "--sessions", acn_sessions, "--prices", PRICES, "--carbon", CARBON,
                           "--site-limit-kw", f"{limit:.4f}", "--out", str(tmp_path / "plan.csv"))
    result = json.loads(stdout)
    assert code == 0 and result["method"] == "lp"
    assert result["plan"]["sessions_meeting_need"] == result["sessions"] == 300
    assert result["plan"]["peak_kw"] <= round(limit, 1) + 0.05
    below, _ = backtest.run(backtest.load_sessions(acn_sessions), signals, site_limit_kw=smallest * 0.98)
    assert below["plan"]["sessions_meeting_need"] < 300  # the limit is tight: just below it, no plan meets all


def _with_sites(tmp_path, acn_sessions, names):
    with open(acn_sessions) as handle:
        rows = list(csv.DictReader(handle))
    path = tmp_path / "sessions_sites.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(rows[0]) + ["site_id"])
        for i, row in enumerate(rows):
            writer.writerow(list(row.values()) + [names[i % len(names)]])
    return str(path)


def test_backtest_with_sites_holds_each_site_limit_and_an_event_over_all_sites(tmp_path, capsys, acn_sessions):
    sessions = _with_sites(tmp_path, acn_sessions, ["house", "depot", "office"])
    sites = tmp_path / "sites.csv"
    sites.write_text("site_id,limit_kw\nhouse,11\ndepot,14.8\noffice,\n")
    args = ["backtest", "--sessions", sessions, "--prices", PRICES, "--carbon", CARBON, "--sites", str(sites)]
    code, stdout, _ = _run(capsys, *args, "--out", str(tmp_path / "a.csv"))
    free = json.loads(stdout)
    assert code == 0 and free["method"] == "sites" and free["sites"]["over_limit"] == []
    assert free["gap_to_lp_optimum_pct"] == pytest.approx(0, abs=0.1)  # exact inside each site
    assert free["plan"]["sessions_meeting_need"] == 300
    cap = round(0.8 * free["plan"]["peak_kw"], 1)
    code, stdout, _ = _run(capsys, *args, "--event-cap-kw", str(cap), "--out", str(tmp_path / "b.csv"))
    held = json.loads(stdout)
    assert code == 0 and held["method"] == "sites+event"
    assert held["plan"]["peak_kw"] <= cap and held["sites"]["event_cap_held"] and held["sites"]["over_limit"] == []
    assert held["sites"]["unmet_kwh"] <= held["sites"]["lp_unmet_kwh"] + 0.5  # energy first, close to the exact LP


def test_a_session_on_an_unknown_site_is_one_line(tmp_path, capsys, acn_sessions):
    sessions = _with_sites(tmp_path, acn_sessions, ["house", "nowhere"])
    sites = tmp_path / "sites.csv"
    sites.write_text("site_id,limit_kw\nhouse,11\n")
    code, _, err = _run(capsys, "backtest", "--sessions", sessions, "--prices", PRICES, "--carbon", CARBON,
                        "--sites", str(sites), "--out", str(tmp_path / "p.csv"))
    assert code == 2 and "site 'nowhere' is not in the sites file" in err and err.count("\n") == 1
