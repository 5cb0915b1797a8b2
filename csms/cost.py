"""What one charger costs a month on AWS, from the measured requests per message.

List prices live in ``PRICES`` (us-east-1, on-demand, 2026; the region the $0.097 floor of the
API Gateway pricing example uses). Request counts per message come from ``docs/requests.json``,
written by ``bench/bench_requests.py`` from the real handlers with instrumented AWS clients (a test
checks the file still matches a fresh measurement). Lambda time = the measured handler CPU plus an
assumed DynamoDB round trip per request (``ddb_latency_ms``), billed per started millisecond.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

PRICES = {
    "apigw_ws_message": 1.00e-6,  # per message (in or out, per 32 KB), first billion a month
    "apigw_ws_connection_minute": 0.25e-6,
    "lambda_request": 0.20e-6,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_async_invoke": 0.20e-6,  # the re-plan request is an ordinary invocation
    "dynamodb_write_unit": 0.625e-6,  # on-demand, per write request unit (1 KB; transactions count 2)
    "dynamodb_read_unit": 0.125e-6,  # per read request unit (4 KB strongly consistent; transactions 2)
    "logs_gb_ingested": 0.50,
}
MINUTES_PER_MONTH = 30 * 24 * 60


@dataclass(frozen=True)
class Profile:
    sample_interval_s: int = 60  # MeterValues while metering
    metering_hours_per_day: float = 24.0  # the API Gateway floor assumes a message a minute all month
    heartbeat_interval_s: int = 300  # heartbeats only while not metering
    sessions_per_day: float = 1.0
    profiles_per_session: float = 4.0  # SetChargingProfile sent (only when a plan changes)
    replans_per_day: float = 96.0  # scheduler runs (every 15 min) while a vehicle is plugged in
    plugged_hours_per_day: float = 10.0
    lambda_memory_mb: int = 512
    charger_item_kb: float = 2.0  # the chargers-table item the sweeper's ConnectedChargers scan reads
    boots_per_day: float = 0.2  # BootNotifications (reboots; a reconnect without one costs nothing here)
    firmware_updates_per_year: float = 4.0  # campaigns that reach this charger
    ddb_latency_ms: float = 4.0

    def __post_init__(self):
        if self.sample_interval_s <= 0 or self.heartbeat_interval_s <= 0:
            raise ValueError("intervals must be > 0")
        if not 0 <= self.metering_hours_per_day <= 24 or not 0 <= self.plugged_hours_per_day <= 24:
            raise ValueError("hours per day must be in [0, 24]")


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


def floor(profile: Profile) -> float:
    """API Gateway alone: every charger message and its reply, and the connection minutes."""
    return (2 * messages_per_month(profile)["total"] * PRICES["apigw_ws_message"]
            + MINUTES_PER_MONTH * PRICES["apigw_ws_connection_minute"])


def messages_per_month(profile: Profile) -> dict[str, float]:
    days = 30
    meter = profile.metering_hours_per_day * 3600 / profile.sample_interval_s * days
    heartbeat = (24 - profile.metering_hours_per_day) * 3600 / profile.heartbeat_interval_s * days
    sessions = profile.sessions_per_day * days
    # per session: 2 statuses in, 2 out (Preparing/Charging/Finishing/Available ~ 4), start, stop
    other = sessions * (4 + 2)
    return {"MeterValues": meter, "Heartbeat": heartbeat, "StatusNotification": sessions * 4,
            "StartTransaction": sessions, "StopTransaction": sessions, "total": meter + heartbeat + other}


def _invocation_ms(cpu_us: float, requests: float, profile: Profile) -> int:
    return max(1, math.ceil(cpu_us / 1000 + requests * profile.ddb_latency_ms))


def charger_month(profile: Profile, counts: dict[str, dict], cpu_us: dict[str, float]) -> Bill:
    """``counts[action] = {"reads": r, "writes": w, "read_units": ru, "write_units": wu,
    "management_posts": m}`` per charger message; ``cpu_us[action]`` the handler's median CPU."""
    bill = Bill()
    msgs = messages_per_month(profile)
    gb = profile.lambda_memory_mb / 1024
    invocations = ddb_w = ddb_r = lambda_s = log_bytes = 0.0
    for action, n in msgs.items():
        if action == "total" or n == 0:
            continue
        c = counts[action]
        invocations += n
        ddb_w += n * c["write_units"]
        ddb_r += n * c["read_units"]
        lambda_s += n * _invocation_ms(cpu_us.get(action, 200), c["reads"] + c["writes"], profile) / 1000
        log_bytes += n * c.get("log_bytes", 0)
    apigw_messages = 2 * msgs["total"]
    # platform-initiated: each profile is one message out, one answer in (the answer's route response
    # carries nothing when the queue is empty), one Lambda invocation for the answer
    profiles = profile.profiles_per_session * profile.sessions_per_day * 30
    answer = counts["CALLRESULT"]
    send = counts["SetChargingProfile (queued and sent)"]
    apigw_messages += 2 * profiles
    invocations += profiles  # the answer
    ddb_w += profiles * (answer["write_units"] + send["write_units"])
    ddb_r += profiles * (answer["read_units"] + send["read_units"])
    lambda_s += profiles * _invocation_ms(200, answer["reads"] + answer["writes"], profile) / 1000
    log_bytes += profiles * (answer.get("log_bytes", 0) + send.get("log_bytes", 0))
    # scheduler runs while plugged in: per vehicle per run (its share of the run)
    runs = profile.replans_per_day * 30 * profile.plugged_hours_per_day / 24
    plan = counts["Scheduler run (per plugged-in vehicle)"]
    ddb_r += runs * plan["read_units"]
    # this vehicle's share of a run's time: its reads plus ~1 ms of planning, in the 2 GB scheduler
    scheduler_gb_s = runs * (plan["reads"] * profile.ddb_latency_ms + 1) / 1000 * 2.0
    replan_requests = 2 * profile.sessions_per_day * 30  # plug-in and unplug
    bill.add("API Gateway messages", apigw_messages * PRICES["apigw_ws_message"],
             f"{apigw_messages:,.0f} messages (charger messages and replies, profiles and answers)")
    bill.add("API Gateway connection minutes", MINUTES_PER_MONTH * PRICES["apigw_ws_connection_minute"],
             f"{MINUTES_PER_MONTH:,} minutes")
    bill.add("Lambda requests", (invocations + replan_requests) * PRICES["lambda_request"],
             f"{invocations + replan_requests:,.0f} invocations")
    bill.add("Lambda duration", (lambda_s * gb + scheduler_gb_s) * PRICES["lambda_gb_second_arm64"],
             f"{lambda_s:,.1f} s at {profile.lambda_memory_mb} MB + scheduler share {scheduler_gb_s:,.2f} GB-s")
    # the sweeper's ConnectedChargers gauge: a scan of the chargers table every 5 minutes (eventually
    # consistent: 0.5 read unit per 4 KB), so each charger's item is read 8,640 times a month
    gauge_r = MINUTES_PER_MONTH / 5 * profile.charger_item_kb / 4 * 0.5
    ddb_r += gauge_r
    bill.add("DynamoDB writes", ddb_w * PRICES["dynamodb_write_unit"], f"{ddb_w:,.0f} write units")
    bill.add("DynamoDB reads", ddb_r * PRICES["dynamodb_read_unit"],
             f"{ddb_r:,.0f} read units ({gauge_r:,.0f} of them the connected-chargers gauge)")
    # Boots and firmware updates (docs/firmware.md): each BootNotification also indexes the charger by
    # model for campaigns (1 PutItem) and looks up its campaign (1 GetItem); one update of this charger
    # (its share of the campaign, UpdateFirmware and its answer, 4 FirmwareStatusNotifications, the
    # proving boot) is measured end to end. The periodic job's reads are per active campaign, not per
    # charger: docs/firmware.md.
    boots = profile.boots_per_day * 30
    updates = profile.firmware_updates_per_year / 12
    boot, update = counts.get("BootNotification"), counts.get("Firmware update (one charger: campaign, UpdateFirmware, 4 statuses, proof by boot)")
    if boot is not None and update is not None:
        fw_w = boots * boot["write_units"] + updates * update["write_units"]
        fw_r = boots * boot["read_units"] + updates * update["read_units"]
        fw_messages = 2 * boots + 12 * updates  # in and out: boot; UpdateFirmware + answer, 4 statuses, boot
        fw_invocations = boots + 6 * updates
        fw_usd = (fw_w * PRICES["dynamodb_write_unit"] + fw_r * PRICES["dynamodb_read_unit"]
                  + fw_messages * PRICES["apigw_ws_message"] + fw_invocations * PRICES["lambda_request"])
        bill.add("Boots and firmware updates", fw_usd,
                 f"{boots:g} boots ({boot['write_units']} WU + {boot['read_units']} RU each), {updates:.2f} updates "
                 f"({update['write_units']} WU + {update['read_units']} RU each: "
                 f"${update['write_units'] * PRICES['dynamodb_write_unit'] + update['read_units'] * PRICES['dynamodb_read_unit']:.6f})")
    # the handlers' own log lines, measured; the runtime's START/END/REPORT lines are off (WARN)
    log_gb = log_bytes / 1e9
    bill.add("CloudWatch Logs", log_gb * PRICES["logs_gb_ingested"], f"{log_gb * 1000:,.1f} MB")
    return bill
