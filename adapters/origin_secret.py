"""The edge's origin secret: proof that a ``$connect`` came through CloudFront (or the local
gateway), so its ``CloudFront-Viewer-*`` certificate headers are the edge's and not forged by a
client talking to the API Gateway endpoint directly.

In AWS the secret lives in Secrets Manager; CloudFront sends it as a custom origin header
(``csms.ocpp.certificates.ORIGIN_SECRET_HEADER``) and the authorizer accepts the ``AWSCURRENT`` and
``AWSPREVIOUS`` versions, so a rotation (docs/deploy.md) never refuses a charger while CloudFront's
configuration propagates. Values are cached per container for :data:`CACHE_S` (two
GetSecretValue calls per container per 5 minutes, not one per handshake).
"""

from __future__ import annotations

import hmac
import time
from typing import Callable, Protocol

from adapters.settings import Settings

CACHE_S = 300.0


class OriginSecret(Protocol):
    def matches(self, presented: str | None) -> bool:
        """True when ``presented`` is a current (or the previous) origin secret."""


class NoOriginSecret:
    """No edge configured: certificate headers are never trusted (profile 3 is unavailable)."""

    def matches(self, presented: str | None) -> bool:
        return False


class StaticOriginSecret:
    """One known value (the local platform generates one per state directory)."""

    def __init__(self, value: str):
        self.value = value

    def matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.value.encode())


class SecretsManagerOriginSecret:
    """AWSCURRENT and AWSPREVIOUS of a Secrets Manager secret, cached for ``cache_s``."""

    def __init__(self, secret_arn: str, region: str, cache_s: float = CACHE_S, client=None,
                 clock: Callable[[], float] = time.monotonic):
        self.secret_arn, self.region, self.cache_s, self.clock = secret_arn, region, cache_s, clock
        self._client = client
        self._values: tuple[str, ...] = ()
        self._loaded_at: float | None = None

    def _load(self) -> tuple[str, ...]:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager", region_name=self.region)
        values = []
        for stage in ("AWSCURRENT", "AWSPREVIOUS"):
            try:
                values.append(self._client.get_secret_value(SecretId=self.secret_arn, VersionStage=stage)["SecretString"])
            except self._client.exceptions.ResourceNotFoundException:
                continue  # no previous version before the first rotation
        return tuple(v for v in values if v)

    def matches(self, presented: str | None) -> bool:
        now = self.clock()
        if self._loaded_at is None or now - self._loaded_at >= self.cache_s:
            self._values, self._loaded_at = self._load(), now
        return bool(presented) and any(hmac.compare_digest(presented.encode(), v.encode()) for v in self._values)


def origin_secret(settings: Settings) -> OriginSecret:
    """The checker the settings ask for: a Secrets Manager ARN, a value, or none."""
    if settings.origin_secret_arn:
        return SecretsManagerOriginSecret(settings.origin_secret_arn, settings.region)
    if settings.origin_secret:
        return StaticOriginSecret(settings.origin_secret)
    return NoOriginSecret()
