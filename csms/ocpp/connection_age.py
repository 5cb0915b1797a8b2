"""When the platform closes a charger's connection itself, before API Gateway's 2-hour cut.

API Gateway closes every WebSocket after at most 2 hours. After a regional blip every charger
reconnects within minutes, and without intervention API Gateway cuts them all again two hours later
in the same minutes: the storm repeats every 2 hours for ever. Closing each connection at a random
age, uniformly between ``MIN_AGE`` and ``MAX_AGE``, makes a fleet that connected together drift
apart: after one cycle the reconnects of a 5-minute storm are spread over ~30 minutes, after two
cycles over ~45 (sum of uniform draws: the spread grows with every cycle).

Source of the 2-hour limit: API Gateway quotas, "Connection duration for WebSocket APIs: 2 hours".
A charger reconnects after a close as after API Gateway's own cut (OCPP-J 1.6 §5: the charge point
re-establishes the connection), so the platform's close costs nothing extra.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

MIN_AGE = timedelta(minutes=90)
MAX_AGE = timedelta(minutes=115)  # 5 minutes of margin for the sweeper's 1-minute period and retries

_random = random.Random()


def close_at(connected_at: datetime, rng: random.Random | None = None) -> datetime:
    """When a connection opened at ``connected_at`` (UTC) should be closed by the platform."""
    draw = (rng or _random).uniform(MIN_AGE.total_seconds(), MAX_AGE.total_seconds())
    return connected_at + timedelta(seconds=round(draw))
