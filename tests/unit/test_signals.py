"""Price and carbon feeds: parsed from the providers' formats, merged per slot, gaps handled."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from csms.charging import signals
from csms.charging.signals import FeedError, SignalRow

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
DAY = datetime(2024, 6, 12, tzinfo=timezone.utc)
SLOT = timedelta(minutes=30)


def _load(name):
    return json.loads((FEEDS / name).read_text())


def test_octopus_and_carbon_feeds_make_one_day_of_signals():
    prices = signals.octopus_rows(_load("octopus_agile_2024-06-12.json"))
    carbon = signals.carbon_intensity_rows(_load("carbon_intensity_fw48h_2024-06-12.json"))
    merged = signals.to_signals(signals.combine(prices, carbon))
    assert merged.starts[0] == DAY and len(merged.starts) == 96  # newest-first answer, sorted
    assert merged.filled_carbon_slots == 0
    # the day's values, as recorded in data/
    from csms.charging import tariff

    data = Path(__file__).resolve().parents[2] / "data"
    recorded = tariff.load(data / "gb_agile_prices.csv", data / "gb_carbon_intensity.csv")
    i = recorded.index(DAY + 37 * SLOT)
    assert merged.price_at(DAY + 37 * SLOT) == recorded.price_p_per_kwh[i]
    assert merged.carbon_at(DAY + 37 * SLOT, actual=False) == round(recorded.carbon_g_per_kwh[i])


def test_a_longer_rate_is_split_into_half_hours():
    rows = signals.octopus_rows({"results": [{"value_inc_vat": 20.5, "valid_from": "2024-06-12T00:00:00Z",
                                              "valid_to": "2024-06-12T01:00:00Z"}]})
    assert [(r.start, r.price_p_per_kwh) for r in rows] == [(DAY, 20.5), (DAY + SLOT, 20.5)]


def test_carbon_gaps_are_interpolated_and_a_price_gap_ends_the_window():
    rows = [SignalRow(DAY + i * SLOT, 10.0 + i, 100.0 if i == 0 else (300.0 if i == 4 else None)) for i in range(6)]
    rows = [r for r in rows if r.start != DAY + 5 * SLOT] + [SignalRow(DAY + 7 * SLOT, 99.0)]
    merged = signals.to_signals(rows)
    assert len(merged.starts) == 5  # 0..4 contiguous; slot 5 is missing, so 7 is not used
    assert merged.carbon_g_per_kwh[2] == pytest.approx(200.0) and merged.filled_carbon_slots == 3


def test_a_price_feed_row_does_not_erase_carbon():
    merged = signals.combine([SignalRow(DAY, carbon_forecast=150.0)], [SignalRow(DAY, price_p_per_kwh=12.0)])
    assert merged == [SignalRow(DAY, 12.0, 150.0, None)]


@pytest.mark.parametrize("payload, parse, message", [
    ({"results": "no"}, signals.octopus_rows, "octopus: no 'results' list"),
    ({"results": [{"valid_from": "yesterday", "value_inc_vat": 1}]}, signals.octopus_rows, "octopus: item 0: unreadable time"),
    ({"results": [{"valid_from": "2024-06-12T00:00:00Z", "value_inc_vat": "1"}]}, signals.octopus_rows, "is not a number"),
    ({"data": [{"from": "2024-06-12T00:00Z"}]}, signals.carbon_intensity_rows, "carbon-intensity: item 0 has no 'intensity'"),
])
def test_malformed_feed_answers_are_named(payload, parse, message):
    with pytest.raises(FeedError, match=message):
        parse(payload)
