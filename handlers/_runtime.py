"""Settings and adapters, built once per Lambda container (cold start), lazily."""

from __future__ import annotations

from functools import lru_cache

from adapters.settings import Settings
from adapters.wiring import Runtime, build_runtime


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    return build_runtime(Settings.from_env())


def reset() -> None:
    """Forget the cached runtime (tests, or the local gateway after changing the environment)."""
    runtime.cache_clear()
