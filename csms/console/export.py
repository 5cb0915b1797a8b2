"""Sessions as CSV (issue 22), what SteVe and evcc export: one row per session, the columns of the
sessions listing (``GET /v1/sessions``), UTC ISO 8601 times, kWh, GBP and kg CO2."""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable

COLUMNS = ("charger", "transaction_id", "connector_id", "id_tag", "started_at", "stopped_at", "active", "stop_reason",
           "energy_kwh", "cost_gbp", "co2_kg", "unpriced_kwh", "immediate_cost_gbp", "savings_gbp", "flags")


def sessions_csv(rows: Iterable[dict[str, Any]], header: bool = True) -> str:
    """``rows``: sessions as the listing answers them. Flags are joined with ";"; a missing value
    is an empty field. RFC 4180 quoting, CRLF line ends (what spreadsheets expect)."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell("" if row.get(c) is None else (";".join(row[c]) if c == "flags" else row[c]))
                         for c in COLUMNS])
    return out.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (an idTag ``=1+2`` from a charger or a card)
    gets a leading ``'`` (OWASP, "CSV Injection"); numbers are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value

