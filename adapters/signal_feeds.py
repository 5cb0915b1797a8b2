"""Fetch price and carbon feeds over HTTPS and store them (``csms.charging.signals`` parses them).

The fetch function is injected (``fetch_json(url) -> dict``): Lambda uses urllib; tests replay
recorded answers. Nothing here runs in tests against the network.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Callable

from csms.charging import signals

log = logging.getLogger(__name__)

OCTOPUS_URL = ("https://api.octopus.energy/v1/products/{product}/electricity-tariffs/"
               "E-1R-{product}-{region}/standard-unit-rates/?period_from={start}&period_to={end}")
CARBON_URL = "https://api.carbonintensity.org.uk/intensity/{start}/fw48h"
DEFAULT_PRODUCT = "AGILE-24-10-01"
DEFAULT_REGION = "B"  # East Midlands, the region of the recorded prices in data/

FetchJson = Callable[[str], dict]


def urllib_fetch(url: str, timeout_s: float = 10.0) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "csms/0.1"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (https URLs above)
        return json.loads(response.read().decode("utf-8"))


def refresh(store, now: datetime, fetch_json: FetchJson = urllib_fetch, product: str = DEFAULT_PRODUCT,
            region: str = DEFAULT_REGION) -> dict[str, int | str]:
    """Fetch the next 48 hours of prices and carbon intensity and store them. A feed that fails is
    logged and reported; the other one is still stored (the scheduler uses what it has)."""
    start, end = signals.horizon(now - timedelta(hours=1))
    outcome: dict[str, int | str] = {}
    feeds = {
        "prices": (OCTOPUS_URL.format(product=product, region=region, start=_z(start), end=_z(end)), signals.octopus_rows),
        "carbon": (CARBON_URL.format(start=_z(start)), signals.carbon_intensity_rows),
    }
    for name, (url, parse) in feeds.items():
        try:
            rows = parse(fetch_json(url))
        except Exception as exc:  # a feed down must not stop the other
            log.warning("signal feed %s failed: %s", name, exc)
            outcome[name] = f"failed: {exc}"
            continue
        outcome[name] = store.put(rows, now)
    return outcome


def _z(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
