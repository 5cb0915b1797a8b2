"""Every capacity setting of the stack, derived from one number: the fleet size (``-c fleetSize=N``).

A fleet of N chargers sampling every 60 s sends N/60 MeterValues a second all day (100,000 chargers:
1,667/s). From that:

- the ``$default`` stage throttle is 3x the steady peak (a reconnect storm's StatusNotifications and
  offline queues arrive on top of the readings), never below API Gateway's default 500/s;
- reserved concurrency splits the account's Lambda concurrency: the charger path (authorizer,
  $connect, $default, $disconnect) gets what its peak needs (rate x duration), the background
  functions (sweeper, scheduler, signal refresh, operator API) are capped so that a slow scheduler
  run or an API burst can never take the charger path's concurrency;
- the authorizer's memory (CPU share): scrypt checks of keys chosen by operators in a storm;
- warm throughput (DynamoDB on-demand absorbs only 2x its previous peak at once) on the tables a
  storm or the steady readings hit: meter (writes), chargers (a storm's connects), calls.

The stack refuses (``QuotaError`` at synth) a fleet whose derived settings exceed the account quotas
it is told about (``-c accountRequestsPerSecond``, ``-c accountConcurrency``,
``-c newConnectionsPerSecond``: AWS defaults 10,000, 1,000 and 500): raise the quota first
(docs/scale.md lists them), then pass the new value.

Sources: API Gateway quotas (WebSocket: 500 new connections/s per account and region, 10,000
requests/s account-wide), Lambda quotas (1,000 concurrent executions; 100 must stay unreserved),
DynamoDB on-demand "previous peak x2" and warm throughput (defaults 12,000 read / 4,000 write units/s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DEFAULT_FLEET = 10_000
SAMPLE_INTERVAL_S = 60
HEADROOM = 3  # throttle and warm throughput over the steady peak
STAGE_THROTTLE_FLOOR = 500  # API Gateway's default stage throttle
MESSAGE_S = 0.03  # $default: CPU + up to 3 DynamoDB round trips (docs/benchmarks.md)
HANDSHAKE_S = 0.05  # authorizer (one read + HMAC) and $connect (one write)
UNRESERVED = 100  # Lambda keeps 100 of the account's concurrency unreserved
DDB_WARM_DEFAULT = (12_000, 4_000)  # on-demand tables start warm at these read / write units/s
# Background functions: capped (reserved concurrency is also a maximum)
BACKGROUND = {"Sweeper": 2, "Scheduler": 2, "SignalsRefresh": 1, "Api": 10, "Archive": 2,
              # the fanned-out periodic run (infra/fleet_run.py): these are also the SQS event sources'
              # maximum concurrency, so the pollers never invoke past them (no throttled retries)
              "FleetDispatch": 1, "ShardPlanner": 50, "ProfileSender": 100}


class QuotaError(ValueError):
    """The fleet needs more than the account's quotas (the message names the quota to raise)."""


@dataclass(frozen=True)
class Quotas:
    fleet_size: int = DEFAULT_FLEET
    account_requests_per_s: int = 10_000
    account_concurrency: int = 1_000
    new_connections_per_s: int = 500
    reserved: dict = field(init=False)

    def __post_init__(self):
        if self.fleet_size < 1:
            raise QuotaError("fleetSize must be a positive number of chargers")
        charger_path = {
            # twice the steady need (rate x duration): cold starts and slow round trips in a storm
            "Message": 2 * math.ceil(self.throttle_rate * MESSAGE_S) + 10,
            "Authorizer": 2 * math.ceil(self.new_connections_per_s * HANDSHAKE_S) + 5,
            "Connect": 2 * math.ceil(self.new_connections_per_s * HANDSHAKE_S) + 5,
            "Disconnect": 2 * math.ceil(self.new_connections_per_s * HANDSHAKE_S) + 5,
        }
        object.__setattr__(self, "reserved", {**charger_path, **BACKGROUND})
        problems = []
        if self.throttle_rate > self.account_requests_per_s:
            problems.append(f"the stage throttle needs {self.throttle_rate:,} requests/s, over the account's "
                            f"{self.account_requests_per_s:,} (raise 'API Gateway account throttle', then "
                            f"-c accountRequestsPerSecond=N)")
        if sum(self.reserved.values()) > self.account_concurrency - UNRESERVED:
            problems.append(f"reserved concurrency {sum(self.reserved.values()):,} leaves less than {UNRESERVED} of "
                            f"the account's {self.account_concurrency:,} (raise 'Lambda concurrent executions', then "
                            f"-c accountConcurrency=N)")
        if self.reconnects_per_s > self.new_connections_per_s / 2:
            problems.append(f"{self.reconnects_per_s:,.0f} reconnects/s in steady state is over half the "
                            f"{self.new_connections_per_s:,} new connections/s quota (raise it, then "
                            f"-c newConnectionsPerSecond=N)")
        if problems:
            raise QuotaError(f"fleetSize={self.fleet_size:,}: " + "; ".join(problems))

    @property
    def steady_messages_per_s(self) -> float:
        """MeterValues of every charger every SAMPLE_INTERVAL_S (the dominant message)."""
        return self.fleet_size / SAMPLE_INTERVAL_S

    @property
    def throttle_rate(self) -> int:
        return max(STAGE_THROTTLE_FLOOR, math.ceil(HEADROOM * self.steady_messages_per_s))

    @property
    def throttle_burst(self) -> int:
        return 2 * self.throttle_rate

    @property
    def reconnects_per_s(self) -> float:
        """Steady reconnects: every connection is closed at 90-115 min (csms.ocpp.connection_age)."""
        return self.fleet_size / (102.5 * 60)

    @property
    def storm_minutes(self) -> float:
        """Time for the whole fleet to reconnect at the new-connection quota."""
        return self.fleet_size / self.new_connections_per_s / 60

    @property
    def authorizer_memory_mb(self) -> int:
        """512 MB (scrypt's 16 MiB and a fair CPU share); 1,024 MB above 20,000 chargers, so a storm's
        scrypt checks of operator-chosen keys take ~25 ms, not 50 (generated keys use one HMAC)."""
        return 512 if self.fleet_size <= 20_000 else 1024

    @property
    def warm_throughput(self) -> dict[str, tuple[int, int]]:
        """{table: (read units/s, write units/s)} where the need is above on-demand's default warmth."""
        need = {
            # (the meter table is provisioned: meter_capacity)
            # a storm at the new-connection quota: a read (authorizer) and a write + index write ($connect)
            "chargers": (4 * self.new_connections_per_s, 4 * self.new_connections_per_s),
            # a boot storm's set-up calls: ~8 writes per booting charger
            "calls": (DDB_WARM_DEFAULT[0], 8 * self.new_connections_per_s),
        }
        return {t: (max(r, DDB_WARM_DEFAULT[0]), max(w, DDB_WARM_DEFAULT[1])) for t, (r, w) in need.items()
                if r > DDB_WARM_DEFAULT[0] or w > DDB_WARM_DEFAULT[1]}


    @property
    def meter_capacity(self) -> dict[str, tuple[int, int]]:
        """The meter table is provisioned with auto scaling (a steady write per sample is ~3x cheaper
        than on-demand, csms cost): {"write": (min, max), "read": (min, max)} units/s. Writes: the
        steady rate at the 80 % target, up to HEADROOM x (a storm's offline queues); reads: the
        scheduler's latest-sample reads and session views, burst capacity covers a run."""
        steady = self.steady_messages_per_s
        return {"write": (max(5, math.ceil(steady / 0.8)), max(50, math.ceil(HEADROOM * steady))),
                "read": (max(5, math.ceil(self.fleet_size / 400)), max(100, math.ceil(self.fleet_size / 20)))}


def from_context(node) -> Quotas:
    """Quotas from the CDK context (``-c fleetSize=N`` and the account's quotas)."""
    def number(key: str, default: int) -> int:
        value = node.try_get_context(key)
        if value is None:
            return default
        try:
            return int(str(value).replace("_", "").replace(",", ""))
        except ValueError as exc:
            raise QuotaError(f"-c {key} must be a whole number, not {value!r}") from exc
    return Quotas(number("fleetSize", DEFAULT_FLEET), number("accountRequestsPerSecond", 10_000),
                  number("accountConcurrency", 1_000), number("newConnectionsPerSecond", 500))
