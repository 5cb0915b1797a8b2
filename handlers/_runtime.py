"""Settings and adapters, built once per Lambda container (cold start), lazily."""

from __future__ import annotations

from adapters.settings import Settings
from adapters.wiring import Counters, Runtime, build_runtime

_current: Runtime | None = None


def runtime() -> Runtime:
    """This container's runtime: the one ``install``-ed, else built from the environment with the
    frame and charging-profile counters published once a minute by the ``$default`` handler."""
    global _current
    if _current is None:
        _current = build_runtime(Settings.from_env(), counters=lambda_counters())
    return _current


def lambda_counters() -> Counters:
    """Frames by action and charging-profile answers, published as metrics by the ``$default`` handler."""
    from handlers.observability import message_counts, profile_counts

    return Counters(frames=message_counts, profiles=profile_counts)


def install(rt: Runtime) -> Runtime:
    """Use ``rt`` (built with its own seams: the local platform's re-plan, a test's poster)."""
    global _current
    _current = rt
    return rt


def reset() -> None:
    """Forget the runtime (tests, or the local gateway after changing the environment)."""
    global _current
    _current = None
