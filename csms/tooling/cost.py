"""What one charger costs a month on AWS, from the measured requests per message.

List prices live in ``PRICES`` (us-east-1, on-demand, 2026; the region the $0.097 floor of the
API Gateway pricing example uses). Request counts per message come from ``docs/requests.json``,
written by ``bench/bench_requests.py`` from the real handlers with instrumented AWS clients (a test
checks the file still matches a fresh measurement). Lambda time = the measured handler CPU plus an
assumed DynamoDB round trip per request (``ddb_latency_ms``), billed per started millisecond. What a charger does (the ``Profile``) and the ``Bill``'s shape are
in :mod:`csms.tooling.usage`; every priced line is built here.
"""

from __future__ import annotations

import math

# the charger's usage profile and the bill's shape (named here as before: callers use cost.Profile)
from csms.tooling.usage import RECONNECTS_PER_DAY, Bill, Line, Profile

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
    "sqs_request": 0.40e-6,  # standard queue, per request (up to 10 messages, each 64 KB chunk a request)
}
# The fanned-out periodic run (issue 16, csms.charging.fanout; tests check these against the code):
PLANNER_READ_WORKERS = 16  # a shard planner's reads at a time (adapters.fanout.READ_WORKERS)
PLANNER_MEMORY_GB = 2.0  # infra/constants.py FUNCTION_SIZES["ShardPlanner"]
SENDER_MEMORY_GB = 0.25  # FUNCTION_SIZES["ProfileSender"]
SENDER_BATCH = 10  # orders per sender invocation and per SendMessageBatch (infra/constants.py SENDER_BATCH)
POST_MS = 25.0  # one post_to_connection (assumed, as ddb_latency_ms)
SENDER_REQUESTS = 8  # DynamoDB requests to send one profile to an online charger (bench/bench_fanout.py, counted on moto: 7, and the superseded check's GetItem)
# An idle SQS event source still long-polls: ~5 pollers x 3 empty ReceiveMessage a minute per queue (AWS
# Lambda's SQS poller), 2 queues: a fixed cost shared by the fleet
IDLE_RECEIVES_PER_MONTH = 2 * 5 * 3 * 60 * 24 * 30
MINUTES_PER_MONTH = 30 * 24 * 60
# One idTag answer: the charger's policy and the idTag, two items under 4 KB read eventually consistently
# in one BatchGetItem (adapters.dynamo.authorization): 2 x 0.5 read units
AUTH_LOOKUP_UNITS = 1.0
# Removing a site (csms.charging.site_ops delete_site): one Query of the events partition for an event
# that targets it (eventually consistent, ~4 KB of events not yet expired: 0.5-1 RU)
SITE_REMOVAL_RU = 1.0
# A report's reads (adapters/dynamo/onboarding.py, consistent unless noted): the charger item (1 RU), its
# connectors (1), 5 sessions (1), 240 meter samples of ~300 B (18), 200 call outcomes of ~500 B (25), 50
# review items (eventually consistent, ~2 KB each: 13), the check item (2)
ONBOARDING_REPORT_RU = 61
ONBOARDING_CHECK_POLLS = 150  # a check of up to 5 minutes polled every 2 s
SETUP_WINDOW_S = 120  # csms.ocpp.setup_policy.SETUP_WINDOW: messages this young pay the set-up check (tested equal)


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
    authorizes = sessions * profile.authorizes_per_session
    return {"MeterValues": meter, "Heartbeat": heartbeat, "StatusNotification": sessions * 4,
            "StartTransaction": sessions, "StopTransaction": sessions, "Authorize": authorizes,
            "total": meter + heartbeat + other + authorizes}


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
    # the fan-out's sender first reads the session (GetItem, eventually consistent: 0.5 RU) and drops an
    # order a newer plan superseded while it waited in the queue (adapters.fanout.send_order)
    ddb_r += profiles * 0.5
    lambda_s += profiles * _invocation_ms(200, answer["reads"] + answer["writes"], profile) / 1000
    log_bytes += profiles * (answer.get("log_bytes", 0) + send.get("log_bytes", 0))
    # scheduler runs while plugged in: per vehicle per run (its share of the run)
    runs = profile.replans_per_day * 30 * profile.plugged_hours_per_day / 24
    plan = counts["Scheduler run (per plugged-in vehicle)"]
    ddb_r += runs * plan["read_units"]
    # this vehicle's share of a shard planner's time (the periodic run fans out per shard, issue 16): its
    # reads, PLANNER_READ_WORKERS at a time, plus ~1 ms of planning, in the 2 GB planner
    scheduler_gb_s = runs * (plan["reads"] * profile.ddb_latency_ms / PLANNER_READ_WORKERS + 1) / 1000 * PLANNER_MEMORY_GB
    # the sender: each changed plan is an order on the send queue (sent in batches of 10, received and
    # deleted by Lambda's poller in batches), sent by a 256 MB function: its DynamoDB round trips and the post
    sender_s = profiles * (SENDER_REQUESTS * profile.ddb_latency_ms + POST_MS) / 1000
    sender_usd = (sender_s * SENDER_MEMORY_GB * PRICES["lambda_gb_second_arm64"]
                  + profiles / SENDER_BATCH * PRICES["lambda_request"])
    sqs_requests = 3 * profiles / SENDER_BATCH + IDLE_RECEIVES_PER_MONTH / profile.fleet_size
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
             f"{lambda_s:,.1f} s at {profile.lambda_memory_mb} MB + shard planners' share {scheduler_gb_s:,.2f} GB-s")
    bill.add("Fleet run: profile sender (Lambda)", sender_usd,
             f"{profiles:,.0f} profiles, {sender_s:,.2f} s at {SENDER_MEMORY_GB * 1024:.0f} MB, "
             f"{profiles / SENDER_BATCH:,.1f} invocations")
    bill.add("Fleet run: queues (SQS)", sqs_requests * PRICES["sqs_request"],
             f"{sqs_requests:,.1f} requests (send, receive, delete in batches of {SENDER_BATCH}; the idle pollers' "
             f"{IDLE_RECEIVES_PER_MONTH:,} empty receives a month over {profile.fleet_size:,} chargers)")
    meter_w = msgs["MeterValues"] * counts["MeterValues"]["write_units"]
    if profile.meter_provisioned:
        # a steady write a sample: provisioned capacity at the auto-scaling target, not on-demand
        wcu = meter_w / (MINUTES_PER_MONTH * 60) / profile.provisioned_utilization
        bill.add("DynamoDB meter writes (provisioned)", wcu * 720 * PRICES["dynamodb_wcu_hour"],
                 f"{meter_w:,.0f} writes = {wcu:.4f} WCU at {profile.provisioned_utilization:.0%} utilisation")
        ddb_w -= meter_w
    # idTag authorization (csms.authorization, issue 22): Authorize and StartTransaction each read the
    # charger's policy and the idTag in one BatchGetItem (AUTH_LOOKUP_UNITS); shown on its own line, out
    # of the reads above. A StopTransaction carrying an idTag pays one more; operators' tag, policy and
    # reservation writes (one PutItem each) and a StartTransaction's reservation (1 read + 1 write) are
    # not per message.
    auth_r = msgs["Authorize"] * counts["Authorize"]["read_units"] + msgs["StartTransaction"] * AUTH_LOOKUP_UNITS
    ddb_r -= auth_r
    bill.add("DynamoDB writes", ddb_w * PRICES["dynamodb_write_unit"], f"{ddb_w:,.0f} write units (on-demand)")
    bill.add("DynamoDB reads", ddb_r * PRICES["dynamodb_read_unit"],
             f"{ddb_r:,.0f} read units ({gauge_r:,.1f} of them the connected-chargers gauge)")
    bill.add("Authorization (idTag look-ups)", auth_r * PRICES["dynamodb_read_unit"],
             f"{auth_r:,.0f} read units: one BatchGetItem (policy + idTag, {AUTH_LOOKUP_UNITS} unit) per Authorize "
             f"and StartTransaction, whatever the fleet's or the list's size")
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
    _security(bill, profile, counts, reconnects, msgs["Heartbeat"])
    # Sites (issue 16, adapters/dynamo/sites.py): a plug-in / unplug on a limited site re-plans the site,
    # not the fleet: the burst claim (a conditional put, then an update and a delete releasing it: 3 WU),
    # the charger's site (2 consistent reads), the site's chargers (1 Query), each charger's active
    # sessions (0.5 RU each) and each plugged-in neighbour's meter and preference (2 x 0.5 RU); the
    # site's LP ~50 ms at the scheduler's 2 GB. The assignment (a transaction of 3 items, 6 WU) is once
    # in a charger's life (36 months). Site and event items themselves are operator writes (per site);
    # removing a site first reads the events for one that targets it (SITE_REMOVAL_RU, once a site's life).
    if profile.site_chargers:
        site_runs = 2 * profile.sessions_per_day * 30
        plugged = profile.site_chargers * profile.plugged_hours_per_day / 24
        site_r = (site_runs * (2 + 1 + 0.5 * profile.site_chargers + 2 * 0.5 * plugged)
                  + SITE_REMOVAL_RU / 36 / profile.site_chargers)
        site_w = site_runs * 3 + 6 / 36
        site_gb_s = site_runs * 0.05 * 2.0
        bill.add("Site re-plans (claim, site reads)",
                 site_w * PRICES["dynamodb_write_unit"] + site_r * PRICES["dynamodb_read_unit"]
                 + site_gb_s * PRICES["lambda_gb_second_arm64"],
                 f"{site_runs:,.0f} re-plans of a {profile.site_chargers}-charger site: {site_w:,.0f} WU, "
                 f"{site_r:,.0f} RU, {site_gb_s:,.1f} GB-s")
    # The periodic run with sites (issue 16, adapters/fanout.py), every 15 minutes: a charger task asks
    # for each plugged-in vehicle's site (``sites_of``: the charger's site item and its site, 2 items in a
    # BatchGetItem, 0.5 RU each) to leave a limited site's vehicles to their site task; a site task
    # reads its page of the sparse limited-site list (one Query, shared by the page's sites), per site
    # its chargers and the defaults sent (2 Queries, shared by its chargers) and per charger its active
    # sessions (one Query, 0.5 RU) whether plugged in or not. The limited-site item is one more item in
    # the operator's site write (a site's limit set or cleared: 2 WU in its transaction, per site).
    period_runs = MINUTES_PER_MONTH / 15
    site_task_r = period_runs * profile.plugged_hours_per_day / 24 * 2 * 0.5
    if profile.site_chargers:
        site_task_r += period_runs * (0.5 + 2 * 0.5 / profile.site_chargers)
    bill.add("Fleet run: site look-ups and site tasks", site_task_r * PRICES["dynamodb_read_unit"],
             f"{site_task_r:,.0f} RU a month ({period_runs:,.0f} runs: the vehicle's site look-up while plugged in"
             + (f"; on a {profile.site_chargers}-charger limited site its sessions Query and its share of the "
                "site's 2 Queries" if profile.site_chargers else "") + ")")
    # Large events' allowances (issue 16, adapters/dynamo/allowances.py): while a region / fleet event
    # covers the charger, the periodic run writes its site's allowance each run (4 an hour; one item of
    # <= 336 slots, ~2 KB: 2 WU, shared by the site's chargers) and a plug-in or unplug under it reads
    # the site's allowances and the events' run marks (two BatchGetItems, eventually consistent: 0.5 RU
    # each) instead of the region's sites; the run's mark is one write per large event and run (shared
    # by the fleet: nothing per charger).
    if profile.large_event_hours_per_month:
        hours = profile.large_event_hours_per_month
        allow_w = hours * 4 * 2 / max(1, profile.site_chargers)
        allow_r = 2 * profile.sessions_per_day * 30 * hours / (24 * 30) * 2 * 0.5  # the allowances and the run marks
        bill.add("Large-event allowances (write per site per run, read per re-plan)",
                 allow_w * PRICES["dynamodb_write_unit"] + allow_r * PRICES["dynamodb_read_unit"],
                 f"{hours:g} event-hours: {allow_w:,.1f} WU, {allow_r:,.2f} RU")
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
    # Onboarding (issue 18, docs/onboarding.md): no write per charger message (clock offsets, sample
    # intervals and limit-to-power latencies are derived from stored readings when a report is made).
    # A report reads ONBOARDING_REPORT_RU and writes 2 items (the charger's verdicts under its model, the
    # model's entry); an active check is polled ~ONBOARDING_CHECK_POLLS times, each poll a report's reads,
    # and writes its ~7 calls (queue, slot, outcome: ~5 WU each) and ~14 versions of its state (~4 KB).
    reports = profile.onboarding_reports_per_month
    checks = profile.onboarding_checks_per_year / 12
    ob_r = (reports + checks * ONBOARDING_CHECK_POLLS) * ONBOARDING_REPORT_RU
    ob_w = reports * 2 + checks * (7 * 5 + 14 * 4 + 2)
    bill.add("Onboarding reports and checks", ob_r * PRICES["dynamodb_read_unit"] + ob_w * PRICES["dynamodb_write_unit"]
             + checks * 14 * PRICES["apigw_ws_message"],
             f"{reports:g} report(s) and {checks:.2f} active check(s) a month: {ob_r:,.0f} RU, {ob_w:,.0f} WU; "
             "nothing per charger message")
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


# What profile 3 keeps on the charger's item: the recorded client certificate (subject, issuer, serial,
# SHA-256, validity: about 0.5 KB). Security events are not on it (adapters/dynamo/security_events.py).
CERTIFICATE_RECORD_BYTES = 500
KMS_ECC_SIGN = 0.15 / 10_000  # KMS asymmetric requests other than RSA 2048, per request
CHAIN_EXTRA_WU = 2  # the ~1.5 KB certificate chain makes the queued CertificateSigned item 2 KB: its put and delete


def _usd(wu: float, ru: float, messages: float, invocations: float) -> float:
    return (wu * PRICES["dynamodb_write_unit"] + ru * PRICES["dynamodb_read_unit"]
            + messages * PRICES["apigw_ws_message"] + invocations * PRICES["lambda_request"])


def _security(bill: Bill, profile: Profile, counts: dict[str, dict], reconnects: float, heartbeats: float) -> None:
    """The security extension's writes (docs/certificates.md "Cost"): security events (measured: one
    PutItem each, in their own partition), and for profile 3 certificate renewals (measured) and the
    recorded certificate on the charger's item; operators' revocations (measured).

    DynamoDB bills a write by the item's size in 1 KB units (an UpdateItem by the larger of before and
    after), so what is kept on the charger's item costs on every write to it: the connection's
    ``$connect``, ``$disconnect`` and set-up claim, heartbeats, boots. Over item sizes spread evenly
    within a KB, ``g`` KB more costs ``g`` write units more per write on average."""
    event = counts.get("SecurityEventNotification")
    if event is None:  # counts measured before issue 17
        return
    events = profile.security_events_per_month
    usd = _usd(events * event["write_units"], events * event["read_units"], 2 * events, events)
    bill.add("Security events", usd,
             f"{events:g} SecurityEventNotification a month ({event['write_units']} WU each): ${usd:.6f}")
    if profile.security_profile == 3:
        item_writes = reconnects * 3 + heartbeats + profile.boots_per_month
        growth_kb = CERTIFICATE_RECORD_BYTES / 1024
        bill.add("Recorded certificate (charger item +0.5 KB)", _usd(item_writes * growth_kb, 0, 0, 0),
                 f"+{growth_kb:.2f} KB on {item_writes:,.0f} charger-item writes: {item_writes * growth_kb:,.0f} WU")
        issue = counts["Certificate issuance (ExtendedTriggerMessage, SignCertificate, CertificateSigned, answers)"]
        renewals = profile.certificate_renewals_per_year / 12
        wu, ru = issue["write_units"] + CHAIN_EXTRA_WU, issue["read_units"]
        usd = _usd(renewals * wu, renewals * ru, 6 * renewals, 3 * renewals) + renewals * KMS_ECC_SIGN
        bill.add("Certificate renewals", usd,
                 f"{renewals:.3f} issuances ({wu} WU + {ru:g} RU, 6 messages, one KMS Sign each): ${usd:.6f}")
    revocations = profile.revocations_per_year / 12
    revoke = counts["Revocation (operator)"]
    usd = _usd(revocations * revoke["write_units"], 0, 0, revocations)
    bill.add("Revocations (operator)", usd,
             f"{profile.revocations_per_year:g} a year, {revoke['write_units']} WU each: ${usd:.7f}")


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


# A grid-demand event in the periodic run (issue 16, adapters/fanout_events.py, adapters/dynamo/run_ledger.py):
# per run while an event is active, for each vehicle it covers: its session key in its unit's member list
# (~20 B of a batch-written item, 1 WU per KB), stage 2's reads (the session by key, consistent: 1 RU; its
# meter and preference again: 2 x 0.5 RU) and stage 2's planning (an LP of its unit: ~2 ms CPU a vehicle
# measured by bench_fanout, plus the reads 16 at a time) in the 2 GB planner. Per task of the run: its
# record and count (a transaction of two items: 4 WU), the counter read (1 RU), a hand-off's ADD (1 WU);
# per run: the counter (1 WU), the split's two Queries and claim (~2 RU, 1 WU): spread over a task's
# up-to-5,000 vehicles, under 0.002 WU a vehicle, counted in the fixed term below.
EVENT_STAGE2_CPU_MS = 2.0


def event_vehicle_run(profile: Profile, page: int = 5_000) -> float:
    """$ for one covered vehicle in one periodic run while a grid-demand event is active."""
    write_units = 20 / 1024 + (4 + 1 + 1) / page
    read_units = 1 + 2 * 0.5 + 1 / page
    gb_s = (EVENT_STAGE2_CPU_MS + 3 * profile.ddb_latency_ms / PLANNER_READ_WORKERS) / 1000 * PLANNER_MEMORY_GB
    return (write_units * PRICES["dynamodb_write_unit"] + read_units * PRICES["dynamodb_read_unit"]
            + gb_s * PRICES["lambda_gb_second_arm64"])
