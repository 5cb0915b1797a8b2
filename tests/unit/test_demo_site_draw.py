"""make demo's site table judges a limit by what the simulated EVs draw (their own power at every
change), not by the sum of the chargers' latest meter readings, which lag a cut by up to a sample
interval."""

from datetime import datetime, timedelta, timezone

from csms_local.demo import site_draw

T0 = datetime(2024, 6, 12, 13, 0, tzinfo=timezone.utc)


def test_a_cut_and_a_raise_at_the_same_moment_never_add_up():
    minute = timedelta(minutes=1)
    draws = {"A": [(T0, 7000.0), (T0 + 5 * minute, 0.0)], "B": [(T0, 0.0), (T0 + 5 * minute, 7000.0)]}
    assert site_draw(draws, 10.0) == {"drawn_peak_kw": 7.0, "drawn_held": True, "drawn_minutes_over": 0.0,
                                      "drawn_over": []}


def test_a_site_over_its_limit_is_reported_with_the_minutes_it_was_over():
    minute = timedelta(minutes=1)
    draws = {"A": [(T0, 7000.0), (T0 + 10 * minute, 0.0)], "B": [(T0 + 4 * minute, 7000.0), (T0 + 20 * minute, 0.0)]}
    over = site_draw(draws, 10.0)
    assert (over["drawn_peak_kw"], over["drawn_held"], over["drawn_minutes_over"]) == (14.0, False, 6.0)
    assert over["drawn_over"] == [{"from": (T0 + 4 * minute).isoformat(), "to": (T0 + 10 * minute).isoformat(),
                                   "kw": {"A": 7.0, "B": 7.0}}]
    assert site_draw(draws, None)["drawn_held"] is True
