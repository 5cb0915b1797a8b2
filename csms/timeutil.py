"""Timestamps as chargers send them, and as the platform stores them."""

from __future__ import annotations

from datetime import datetime, timezone

# Chargers send 1970 (or 2000) timestamps before their clock is set by a
# BootNotification answer; anything before this is treated as "clock not set".
EARLIEST_PLAUSIBLE = datetime(2010, 1, 1, tzinfo=timezone.utc)


class BadTimestamp(ValueError):
    pass


class TimestampOutOfRange(BadTimestamp):
    """A readable time outside ``TIME_RANGE``: near datetime's ends a zone shift or a retention
    period overflows (``OverflowError``, an unanswered frame or a 500), and no clock means it."""


TIME_RANGE = (datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc))


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
    try:
        utc = parsed.astimezone(timezone.utc)
    except OverflowError as exc:
        raise TimestampOutOfRange(f"time out of range: {value!r:.60}") from exc
    if not TIME_RANGE[0] <= utc < TIME_RANGE[1]:
        raise TimestampOutOfRange(f"time out of range (years 1900 to 8999): {value!r:.60}")
    return utc


def iso(value: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``: sortable as text."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def plausible(value: datetime) -> bool:
    return value >= EARLIEST_PLAUSIBLE


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
