"""Timestamps as chargers send them, and as the platform stores them."""

from __future__ import annotations

from datetime import datetime, timezone

# Chargers send 1970 (or 2000) timestamps before their clock is set by a
# BootNotification answer; anything before this is treated as "clock not set".
EARLIEST_PLAUSIBLE = datetime(2010, 1, 1, tzinfo=timezone.utc)


class BadTimestamp(ValueError):
    pass


def parse_ts(value: object) -> datetime:
    """Parse an OCPP dateTime (RFC 3339); naive times are taken as UTC."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise BadTimestamp(f"not a timestamp: {value!r:.60}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadTimestamp(f"not a timestamp: {value!r:.60}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def iso(value: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``: sortable as text."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def plausible(value: datetime) -> bool:
    return value >= EARLIEST_PLAUSIBLE


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
