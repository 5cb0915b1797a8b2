from datetime import datetime, timezone

import pytest

from csms.charging.tariff import SignalFileError, load


def _write(tmp_path, prices, carbon):
    p, c = tmp_path / "p.csv", tmp_path / "c.csv"
    p.write_text("start_utc,price_p_per_kwh_inc_vat\n" + "".join(f"{t},{v}\n" for t, v in prices))
    c.write_text("start_utc,forecast_gco2_per_kwh,actual_gco2_per_kwh\n" + "".join(f"{t},{f},{a}\n" for t, f, a in carbon))
    return p, c


def test_carbon_gap_is_interpolated_and_counted(tmp_path):
    times = [f"2024-06-12T0{h}:{m}:00Z" for h in range(3) for m in ("00", "30")]
    p, c = _write(tmp_path, [(t, 10 + i) for i, t in enumerate(times)],
                  [(times[0], 100, ""), (times[3], 160, 150), (times[5], 200, "")])
    signals = load(p, c)
    assert signals.carbon_g_per_kwh == (100, 120, 140, 160, 180, 200)
    assert signals.filled_carbon_slots == 3
    assert signals.carbon_at(datetime(2024, 6, 12, 1, 40, tzinfo=timezone.utc)) == 150  # actual wins for scoring
    assert signals.price_at(datetime(2024, 6, 12, 0, 45, tzinfo=timezone.utc)) == 11


def test_price_gap_is_an_error_naming_the_file(tmp_path):
    p, c = _write(tmp_path, [("2024-06-12T00:00:00Z", 1), ("2024-06-12T01:30:00Z", 2)], [("2024-06-12T00:00:00Z", 1, "")])
    with pytest.raises(SignalFileError, match=r"p.csv:3: prices jump"):
        load(p, c)


def test_bad_number_names_the_row(tmp_path):
    p, c = _write(tmp_path, [("2024-06-12T00:00:00Z", "x")], [("2024-06-12T00:00:00Z", 1, "")])
    with pytest.raises(SignalFileError, match=r"p.csv:2: price 'x'"):
        load(p, c)


def test_the_real_june_2024_files_load():
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "data"
    signals = load(data / "gb_agile_prices.csv", data / "gb_carbon_intensity.csv")
    assert len(signals.starts) == 1392 and signals.filled_carbon_slots == 22


def test_replay_puts_recorded_days_onto_today_slot_by_slot():
    from pathlib import Path

    from csms.charging.tariff import SLOT, replayed

    data = Path(__file__).resolve().parents[2] / "data"
    recorded = load(data / "gb_agile_prices.csv", data / "gb_carbon_intensity.csv")
    now = datetime(2026, 11, 25, 6, 20, tzinfo=timezone.utc)
    replay = replayed(recorded, now, days=2)
    assert replay.starts[0] == datetime(2026, 11, 25, tzinfo=timezone.utc) and len(replay.starts) == 96
    assert replay.index(now) == 12
    # Each replayed slot is a recorded slot at the same time of day.
    for i in (0, 13, 47, 95):
        at = replay.starts[i]
        sources = [j for j, s in enumerate(recorded.starts) if (s.hour, s.minute) == (at.hour, at.minute)]
        assert any(recorded.price_p_per_kwh[j] == replay.price_p_per_kwh[i]
                   and recorded.carbon_g_per_kwh[j] == replay.carbon_g_per_kwh[i] for j in sources)
    assert all(b - a == SLOT for a, b in zip(replay.starts, replay.starts[1:]))
