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
    "logs_gb_ingested_infrequent": 0.25,  # Infrequent Access log class (the WebSocket access log)
    "dynamodb_wcu_hour": 0.00065,  # provisioned write capacity unit-hour (the meter table)
    "dynamodb_rcu_hour": 0.00013,
}
RECONNECTS_PER_DAY = 24 * 60 / 102.5  # the platform closes each connection at 90-115 min (csms.ocpp.connection_age)
MINUTES_PER_MONTH = 30 * 24 * 60
SETUP_WINDOW_S = 120  # csms.ocpp.setup_policy.SETUP_WINDOW: messages this young pay the set-up check (tested equal)


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
    fleet_size: int = 10_000  # shares the periodic jobs' fixed cost (sweeper, gauge, signal refresh)
    reconnects_per_day: float = RECONNECTS_PER_DAY
    connectors: int = 2  # StatusNotifications a reconnect's trigger brings (connector 0 and 1)
    boots_per_month: float = 4.0  # real reboots: BootNotification, set-up only if the configuration changed
    meter_provisioned: bool = True  # meter table in provisioned mode with auto scaling (infra/quotas.py)
    provisioned_utilization: float = 0.8  # auto-scaling target
    # one WebSocket access-log line per message (~47 B: infra/websocket_api.py ACCESS_LOG_FORMAT without the
    # connection id, which $connect/$disconnect log), with CloudWatch's 26 B overhead per event
    access_log_bytes: int = 73
    # the frame log (issue 22, csms.ocpp.frame_log): opt-in per charger in AWS, hours a month it is on
    frame_log_hours_per_month: float = 0.0

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
    # reconnects (csms.ocpp.connection_age; measured: $connect, $disconnect, the set-up check, the trigger's
    # answer) and the StatusNotifications the trigger brings, plus the sweeper's DeleteConnection
    reconnects = profile.reconnects_per_day * 30
    rc_parts = [counts["$connect"], counts["$disconnect"], counts["reconnect: first message (set-up check)"],
                counts["reconnect: TriggerMessage answer"]]
    statuses = counts["StatusNotification"]
    # the first message itself is a charger message counted above: only its set-up work is the reconnect's
    # +2: $connect and $disconnect each change the online index (one index write unit each); the
    # statuses in the set-up window each pay the set-up check (an eventually consistent read, 0.5)
    rc_w = (sum(c["write_units"] for c in rc_parts) - counts["Heartbeat"]["write_units"]
            + profile.connectors * statuses["write_units"] + 2)
    # and so does every other message of the set-up window: the MeterValues of its first 2 minutes
    # (SETUP_WINDOW) after the first message, while metering
    window_meter = max(0.0, SETUP_WINDOW_S / profile.sample_interval_s - 1) * profile.metering_hours_per_day / 24
    rc_r = (sum(c["read_units"] for c in rc_parts) - counts["Heartbeat"]["read_units"]
            + profile.connectors * (statuses["read_units"] + 0.5) + window_meter * 0.5)
    rc_posts = sum(c["management_posts"] for c in rc_parts)
    # authorizer + $connect + $disconnect + trigger answer + the statuses (the first message is counted already)
    rc_invocations = 4 + profile.connectors
    rc_messages = rc_posts + 1 + 2 * profile.connectors + 1  # trigger out, its answer, statuses and replies, close
    ddb_w += reconnects * rc_w
    ddb_r += reconnects * rc_r
    invocations += reconnects * rc_invocations
    lambda_s += reconnects * (rc_invocations * _invocation_ms(150, 1, profile) + 50  # + one HMAC authorizer
                              + window_meter * profile.ddb_latency_ms) / 1000  # the window's checks' round trips
    apigw_messages += reconnects * rc_messages
    # boots: set-up only when the configuration changed; a current charger's boot is measured
    boot = counts["BootNotification"]
    ddb_w += profile.boots_per_month * boot["write_units"]
    ddb_r += profile.boots_per_month * boot["read_units"]  # the campaign look-up (firmware, issue 19)
    invocations += profile.boots_per_month
    apigw_messages += 2 * profile.boots_per_month
    # periodic jobs, fixed cost per run shared by the fleet: sweeper (every minute: 32 index Queries, the
    # Lambda), ConnectedChargers gauge (every 5 min: 16 COUNT Queries), signal refresh (every 30 min)
    runs = MINUTES_PER_MONTH + MINUTES_PER_MONTH / 30
    # (and the scheduler's 16 active-index Queries every 15 minutes, and the sweeper's 16 Queries of the
    # console's due-index: the alert checks, issue 22)
    job_r = (MINUTES_PER_MONTH * 32 * 0.5 + MINUTES_PER_MONTH / 5 * 16 * 0.5 + MINUTES_PER_MONTH / 15 * 16
             + MINUTES_PER_MONTH * 16 * 0.5)
    jobs_usd = (runs * (PRICES["lambda_request"] + 0.2 * 0.5 * PRICES["lambda_gb_second_arm64"])
                + job_r * PRICES["dynamodb_read_unit"]) / profile.fleet_size
    # the gauge's COUNT reads every connected charger's ~64 B index entry (0.5 unit per 4 KB)
    gauge_r = MINUTES_PER_MONTH / 5 * 64 / 4096 * 0.5
    ddb_r += gauge_r
    bill.add("API Gateway messages", apigw_messages * PRICES["apigw_ws_message"],
             f"{apigw_messages:,.0f} messages (charger messages and replies, profiles and answers, "
             f"{reconnects:,.0f} reconnects' triggers and statuses)")
    bill.add("API Gateway connection minutes", MINUTES_PER_MONTH * PRICES["apigw_ws_connection_minute"],
             f"{MINUTES_PER_MONTH:,} minutes")
    bill.add("Lambda requests", (invocations + replan_requests) * PRICES["lambda_request"],
             f"{invocations + replan_requests:,.0f} invocations")
    bill.add("Lambda duration", (lambda_s * gb + scheduler_gb_s) * PRICES["lambda_gb_second_arm64"],
             f"{lambda_s:,.1f} s at {profile.lambda_memory_mb} MB + scheduler share {scheduler_gb_s:,.2f} GB-s")
    meter_w = msgs["MeterValues"] * counts["MeterValues"]["write_units"]
    if profile.meter_provisioned:
        # a steady write a sample: provisioned capacity at the auto-scaling target, not on-demand
        wcu = meter_w / (MINUTES_PER_MONTH * 60) / profile.provisioned_utilization
        bill.add("DynamoDB meter writes (provisioned)", wcu * 720 * PRICES["dynamodb_wcu_hour"],
                 f"{meter_w:,.0f} writes = {wcu:.4f} WCU at {profile.provisioned_utilization:.0%} utilisation")
        ddb_w -= meter_w
    bill.add("DynamoDB writes", ddb_w * PRICES["dynamodb_write_unit"], f"{ddb_w:,.0f} write units (on-demand)")
    bill.add("DynamoDB reads", ddb_r * PRICES["dynamodb_read_unit"],
             f"{ddb_r:,.0f} read units ({gauge_r:,.1f} of them the connected-chargers gauge)")
    # Firmware updates (docs/firmware.md): one update of this charger (its share of the campaign,
    # UpdateFirmware and its answer, 4 FirmwareStatusNotifications, the proving boot) is measured end to
    # end; boots themselves (the model index and campaign look-up included) are priced above. The
    # periodic job's reads are per active campaign, not per charger: docs/firmware.md.
    updates = profile.firmware_updates_per_year / 12
    fw_update = counts.get("Firmware update (one charger: campaign, UpdateFirmware, 4 statuses, proof by boot)")
    if fw_update is not None:
        fw_w, fw_r = updates * fw_update["write_units"], updates * fw_update["read_units"]
        fw_messages = 12 * updates  # in and out: UpdateFirmware + answer, 4 statuses, boot
        fw_usd = (fw_w * PRICES["dynamodb_write_unit"] + fw_r * PRICES["dynamodb_read_unit"]
                  + fw_messages * PRICES["apigw_ws_message"] + 6 * updates * PRICES["lambda_request"])
        bill.add("Firmware updates", fw_usd,
                 f"{updates:.2f} updates ({fw_update['write_units']} WU + {fw_update['read_units']} RU each: "
                 f"${fw_update['write_units'] * PRICES['dynamodb_write_unit'] + fw_update['read_units'] * PRICES['dynamodb_read_unit']:.6f})")
    # the meter archive (DynamoDB Streams -> the Archive function, 10,000 samples a batch, ~0.5 s at
    # 512 MB to gzip ~4 MB of JSON -> one PUT straight into Glacier Deep Archive, $0.05 per 1,000, at
    # ~20 % of the JSON's size, $0.00099 per GB-month); stream reads by a Lambda trigger are free
    batches = msgs["MeterValues"] / 10_000
    archive_gb = msgs["MeterValues"] * 400 * 0.2 / 1e9
    archive_usd = (batches * (PRICES["lambda_request"] + 0.25 * PRICES["lambda_gb_second_arm64"] + 0.05e-3)
                   + archive_gb * 0.00099 * 13)  # storage once 13 months are archived
    bill.add("Meter archive (stream -> S3 Deep Archive)", archive_usd,
             f"{batches:,.1f} batches, {archive_gb * 1000:,.1f} MB a month archived")
    bill.add("Periodic jobs (share of fixed cost)", jobs_usd,
             f"sweeper every minute, gauge every 5 min, signal refresh every 30 min, over {profile.fleet_size:,} chargers")
    # the handlers' own log lines, measured; the runtime's START/END/REPORT lines are off (WARN)
    log_gb = log_bytes / 1e9
    bill.add("CloudWatch Logs", log_gb * PRICES["logs_gb_ingested"], f"{log_gb * 1000:,.1f} MB")
    # alert checks (issue 22, csms.console.alerts): each new StartTransaction schedules one (its PutItem
    # is in the measured counts above: docs/requests.json), and so does an abnormal $disconnect (1006:
    # rare; the planned reconnects close cleanly and schedule none, handlers/disconnect.py); here the
    # due-index entry and the sweeper's part when it is due: the session's GetItem (eventually
    # consistent) and the DeleteItem (plus the index entry)
    checks = profile.sessions_per_day * 30
    check_w, check_r = checks * (1 + 2), checks * 0.5
    bill.add("Alert checks (transaction open too long; offline after an abnormal close)", check_w * PRICES["dynamodb_write_unit"]
             + check_r * PRICES["dynamodb_read_unit"],
             f"{checks:,.0f} checks: {check_w:,.0f} write units, {check_r:,.0f} read units")
    if profile.frame_log_hours_per_month:
        hours = profile.frame_log_hours_per_month
        bill.add("Frame log (opt-in)", hours * frame_log_hour(profile),
                 f"{hours:g} h switched on: {frames_per_hour(profile):,.0f} frames an hour, a write each")
    access = (2 * msgs["total"] / 2 + reconnects * (3 + profile.connectors)) * profile.access_log_bytes / 1e9
    bill.add("WebSocket access logs", access * PRICES["logs_gb_ingested_infrequent"],
             f"{access * 1000:,.1f} MB, one line per message (Infrequent Access log class)")
    return bill


def frames_per_hour(profile: Profile) -> float:
    """Frames crossing a charger's socket in an hour, both ways: its messages and their replies."""
    return 2 * messages_per_month(profile)["total"] / MINUTES_PER_MONTH * 60


def frame_log_hour(profile: Profile, frame_kb: float = 1.0) -> float:
    """$ for one charger-hour of the frame log switched on (issue 22): a PutItem per frame (one write
    unit up to 1 KB: a MeterValues frame is ~0.5 KB; ``frame_kb`` rounds up per KB) and its round
    trip in the $default function. No read: the switch rides on the authorizer's GetItem."""
    frames = frames_per_hour(profile)
    write_units = frames * math.ceil(frame_kb)
    lambda_gb_s = frames * profile.ddb_latency_ms / 1000 * profile.lambda_memory_mb / 1024
    return write_units * PRICES["dynamodb_write_unit"] + lambda_gb_s * PRICES["lambda_gb_second_arm64"]


def unknown_charger_attempt() -> float:
    """$ for one handshake by an unregistered charge point id (issue 22, ``csms.console.unknown``): at
    most two writes (the day's counter and the id's item; one for an id already seen that day, one
    failed conditional write once the day's cap is reached), on top of the lockout's counters."""
    return 2 * PRICES["dynamodb_write_unit"]
