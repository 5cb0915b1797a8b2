"""Settings and adapters, built once per Lambda container (cold start), lazily."""

from __future__ import annotations

from functools import lru_cache

from adapters.settings import Settings
from adapters.wiring import Runtime, build_runtime


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    from handlers.observability import message_counts, profile_counts

    rt = build_runtime(Settings.from_env())
    # Frames by action and charging-profile answers, published once a minute by the $default handler
    rt.central.tally, rt.commander.tally = message_counts, profile_counts
    return rt


def reset() -> None:
    """Forget the cached runtime (tests, or the local gateway after changing the environment)."""
    runtime.cache_clear()
