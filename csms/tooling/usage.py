"""The inputs and the shape of ``csms cost`` (:mod:`csms.tooling.cost`): what one charger does in a
month (``Profile``: intervals in s, sessions and updates per day / month / year, sizes in KB, memory
in MB) and the bill it gets (``Bill``: priced ``Line`` items in USD a month). No prices here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

RECONNECTS_PER_DAY = 24 * 60 / 102.5  # the platform closes each connection at 90-115 min (csms.ocpp.connection_age)


@dataclass(frozen=True)
class Profile:
    sample_interval_s: int = 60  # MeterValues while metering
    metering_hours_per_day: float = 24.0  # the API Gateway floor assumes a message a minute all month
    heartbeat_interval_s: int = 300  # heartbeats only while not metering
    sessions_per_day: float = 1.0
    profiles_per_session: float = 4.0  # SetChargingProfile sent (only when a plan changes)
    replans_per_day: float = 96.0  # scheduler runs (every 15 min) while a vehicle is plugged in
    plugged_hours_per_day: float = 10.0
    lambda_memory_mb: int = 256  # the $default function (infra/constants.py CHARGER_PATH_MEMORY_MB)
    charger_item_kb: float = 2.0
    firmware_updates_per_year: float = 4.0  # campaigns that reach this charger
    ddb_latency_ms: float = 4.0
    site_chargers: int = 10  # chargers on this charger's site (issue 16); 0: on no limited site
    fleet_size: int = 10_000  # shares the periodic jobs' fixed cost (sweeper, gauge, signal refresh)
    reconnects_per_day: float = RECONNECTS_PER_DAY
    connectors: int = 2  # StatusNotifications a reconnect's trigger brings (connector 0 and 1)
    boots_per_month: float = 4.0  # real reboots: BootNotification, set-up only if the configuration changed
    meter_provisioned: bool = True  # meter table in provisioned mode with auto scaling (infra/quotas.py)
    provisioned_utilization: float = 0.8  # auto-scaling target
    # Security (issue 17, docs/certificates.md)
    security_profile: int = 2  # 3: the charger connects with a client certificate (renewals, the recorded certificate)
    security_events_per_month: float = 4.0  # SecurityEventNotification (StartupOfTheDevice at each boot, resets, ...)
    certificate_renewals_per_year: float = 1.0  # certificates are issued for 365 days (csms.ocpp.certificates)
    revocations_per_year: float = 0.05  # an operator revokes a certificate (a stolen or replaced charger)
    # one WebSocket access-log line per message (~47 B: infra/websocket_api.py ACCESS_LOG_FORMAT without the
    # connection id, which $connect/$disconnect log), with CloudWatch's 26 B overhead per event
    access_log_bytes: int = 73
    # Authorize messages per session (an RFID tap; 0 for a free-vend charger that starts without one)
    authorizes_per_session: float = 1.0
    onboarding_reports_per_month: float = 1.0  # an operator opens the charger's integration report (issue 18)
    onboarding_checks_per_year: float = 1.0  # active checks run on this charger
    # the frame log (issue 22, csms.ocpp.frame_log): opt-in per charger in AWS, hours a month it is on
    frame_log_hours_per_month: float = 0.0
    # hours a month a region-wide or fleet-wide grid-demand event covers this charger (issue 16: the
    # periodic run records its site's allowance every run, a plug-in reads it; csms.charging.allowances)
    large_event_hours_per_month: float = 8.0

    def __post_init__(self):
        if self.sample_interval_s <= 0 or self.heartbeat_interval_s <= 0:
            raise ValueError("intervals must be > 0")
        if not 0 <= self.metering_hours_per_day <= 24 or not 0 <= self.plugged_hours_per_day <= 24:
            raise ValueError("hours per day must be in [0, 24]")
        if self.security_profile not in (2, 3):
            raise ValueError("security profile must be 2 (Basic auth) or 3 (client certificate)")


@dataclass
class Line:
    item: str
    per_month: float
    detail: str


@dataclass
class Bill:
    lines: list[Line] = field(default_factory=list)

    def add(self, item: str, usd: float, detail: str) -> None:
        self.lines.append(Line(item, usd, detail))

    @property
    def total(self) -> float:
        return sum(line.per_month for line in self.lines)

    def as_dict(self) -> dict:
        return {"total_usd": round(self.total, 4), "lines": [asdict(line) for line in self.lines]}
