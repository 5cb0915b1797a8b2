"""Pure parts of firmware management: wave sizes and the maintenance window in local time."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from csms.firmware.campaigns import wave_sizes
from csms.firmware.model import Window


@pytest.mark.parametrize("total, percents, expected", [
    (200, [1, 10, 100], (2, 20, 178)),  # 1 %, 10 %, the rest
    (5, [1, 100], (1, 4)),  # a canary of one, then the rest
    (1, [1, 10, 100], (1,)),  # waves that would be empty are dropped
    (10, [50, 50], (5, 5)),
    (3, [100], (3,)),
])
def test_wave_sizes_cover_every_target_once(total, percents, expected):
    sizes = wave_sizes(total, percents)
    assert sizes == expected and sum(sizes) == total


def test_window_is_in_the_sites_local_time_and_wraps_midnight():
    night = Window.parse("23:00", "05:00", "Europe/London")
    # 2026-07-01 22:30 UTC is 23:30 in London (BST): open; 04:30 UTC is 05:30 BST: closed
    assert night.is_open(datetime(2026, 7, 1, 22, 30, tzinfo=timezone.utc))
    assert not night.is_open(datetime(2026, 7, 2, 4, 30, tzinfo=timezone.utc))
    # in winter London is UTC: 04:30 UTC is inside
    assert night.is_open(datetime(2026, 12, 2, 4, 30, tzinfo=timezone.utc))
    assert night.next_open(datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)) == datetime(2026, 12, 2, 23, 0,
                                                                                           tzinfo=timezone.utc)
    assert Window.parse("00:00", "00:00").is_open(datetime(2026, 1, 1, 13, tzinfo=timezone.utc))  # all day


def test_window_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="unknown time zone"):
        Window.parse("01:00", "02:00", "Mars/Olympus")
    with pytest.raises(ValueError, match="HH:MM"):
        Window.parse("25:00", "02:00")
