"""Every name and number of the stack in one place."""

from adapters.dynamo.models import MODELS, TTL_ATTRIBUTES

STACK_NAME = "Csms"
SERVICE = "csms"
STAGE_NAME = "prod"
OCPP_PATH_PREFIX = "/ocpp/"
PATH_HEADER = "ws-uri"  # the CloudFront function puts the viewer path here (csms.ocpp.connection.PATH_HEADER)

PYTHON_RUNTIME = "PYTHON_3_14"  # the newest Lambda Python; the layers are built for it (layers/build.sh)
LAMBDA_MEMORY_MB = 512  # the authorizer's scrypt check needs 16 MiB and benefits from the CPU share
# The charger path's message functions: ~100 MB resident, 0.2 ms of CPU per message next to a DynamoDB
# round trip; billed per GB-s on every MeterValues, so 256 MB (csms cost). Cold starts take longer.
CHARGER_PATH_MEMORY_MB = {"Message": 256, "Connect": 256, "Disconnect": 256}
LAMBDA_TIMEOUT_S = 10
LOG_RETENTION_DAYS = 30

# Without quotas (infra/quotas.py derives the stage throttle from -c fleetSize): API Gateway's default
THROTTLE_RATE = 500
THROTTLE_BURST = 1000
SWEEP_MINUTES = 1
SCHEDULE_MINUTES = 15  # the periodic smart-charging run (infra/fleet_run.py; plus a re-plan on every plug-in / unplug)
SIGNALS_REFRESH_MINUTES = 30  # price and carbon feeds
SCHEDULER_TIMEOUT_S = 120  # the fleet LP: 10,000 vehicles take ~6 s on a laptop core (docs/benchmarks.md)
SCHEDULER_MEMORY_MB = 2048

# Tables come from the pynamodb models: one table per model, same key schema.
TABLES = tuple(MODELS)
TABLE_TTL = dict(TTL_ATTRIBUTES)

FUNCTIONS = {
    # name: (handler, tables it reads, tables it writes)
    # console (issue 22): unknown chargers, repeated-failure alerts
    "Authorizer": ("handlers.authorizer.lambda_handler", ("chargers",), ("console",)),
    # calls: a certificate near its expiry queues a renewal request (csms.ocpp.certificates.needs_renewal)
    "Connect": ("handlers.connect.lambda_handler", ("chargers", "calls"), ("chargers", "calls")),
    # console: the check "still offline in N minutes?" (issue 22)
    "Disconnect": ("handlers.disconnect.lambda_handler", ("chargers",), ("chargers", "console")),
    "Message": ("handlers.default.lambda_handler", TABLES, TABLES),
    # Also advances firmware campaigns (reads sessions: no update during an active transaction).
    # and makes the console's due checks (offline, open too long: issue 22)
    "Sweeper": ("handlers.sweeper.lambda_handler", ("chargers", "calls", "sessions", "firmware", "console"),
                ("chargers", "calls", "firmware", "console")),
    "Scheduler": ("handlers.scheduler.lambda_handler", ("chargers", "sessions", "meter", "signals", "events", "calls"),
                  ("chargers", "sessions", "calls", "events")),  # events: the sites' re-plan claims (issue 16)
    "SignalsRefresh": ("handlers.signals_refresh.lambda_handler", ("signals",), ("signals",)),
    # The meter table's stream -> S3 (infra/archive.py); stream read rights come with the event source.
    "Archive": ("handlers.archive.lambda_handler", (), ()),
    # The operator / app HTTP API: reads the fleet, writes preferences, drivers, queued commands, events.
    # console (issue 22): the frame log, alerts, unknown chargers; the log switch is on the charger item
    "Api": ("handlers.api.lambda_handler", ("chargers", "connectors", "sessions", "meter", "calls", "signals", "events",
                                            "firmware", "authorization", "console"),
            ("chargers", "calls", "events", "firmware", "authorization", "console")),
    # The fanned-out periodic run (issue 16, infra/fleet_run.py): the dispatcher reads only the events
    # and, under a grid-demand event, opens the run's ledger (events table); a shard planner reads its
    # page of sessions (or limited sites) and their inputs; its orders go to the send queue; it writes
    # the run's ledger (events) and a limited site's default shares when they changed (queued calls,
    # posted, remembered on the site: calls, chargers for a gone connection, events); the sender
    # queues the calls, stores the plans, marks a gone connection.
    "FleetDispatch": ("handlers.fleet_run.dispatch", ("events",), ("events",)),
    "ShardPlanner": ("handlers.fleet_run.plan_shard", ("chargers", "sessions", "meter", "signals", "events", "calls"),
                     ("chargers", "calls", "events")),
    "ProfileSender": ("handlers.fleet_run.send_profiles", ("chargers", "sessions", "calls"),
                      ("chargers", "sessions", "calls")),
}
# What each function may do in the firmware and diagnostics buckets, and nothing else: pre-signing a
# URL needs the action itself (the URL carries the signer's permission). Message and Sweeper hand
# chargers download URLs; Api also takes image uploads, checks them (HeadObject is GetObject's
# permission), hands out diagnostics upload URLs and operators' download links.
BUCKET_ACCESS = {
    "Message": {"firmware": ("s3:GetObject",)},
    "Sweeper": {"firmware": ("s3:GetObject",)},
    "Api": {"firmware": ("s3:GetObject", "s3:PutObject"), "diagnostics": ("s3:GetObject", "s3:PutObject")},
}
# Keys-table items the authorizer may write (csms.ocpp.lockout's failure counters)
AUTH_FAILURE_KEYS = "authfail#*"
# Refused handshakes (wrong key or unknown id, csms.ocpp.lockout) in 5 minutes that raise the alarm
AUTH_FAILURES_ALARM = 50
# Functions that post to chargers through the connection management API.
POSTS_TO_CONNECTIONS = ("Message", "Sweeper", "Scheduler", "Api", "ProfileSender", "ShardPlanner")
# Extra layers per function (every function has the Dependencies layer).
EXTRA_LAYERS = {"Scheduler": ("Planner",), "ShardPlanner": ("Planner",)}
# Functions that ask the scheduler for a re-plan (plug-in, unplug).
INVOKES_SCHEDULER = ("Message", "Api")

# The operator / app HTTP API (infra/http_api.py)
OPERATOR_GROUP = "operators"  # the Cognito group whose members are operators (adapters.http_api)
HTTP_THROTTLE_RATE = 50  # requests/s: people and dashboards, not chargers
HTTP_THROTTLE_BURST = 100
API_PATH = "/v1/{proxy+}"
# Only what the functions import is shipped.
SOURCE_PACKAGES = ("csms", "adapters", "handlers")

# The fanned-out periodic run (infra/fleet_run.py, csms.charging.fanout; the numbers behind them: docs/scale.md).
# name: (memory MB, timeout s). A shard task plans at most 5,000 vehicles (bench_fleet: 22-36 s and
# under 100 MiB for a page of sites with limits and an event) plus two reads per vehicle.
FUNCTION_SIZES = {"FleetDispatch": (256, 30), "ShardPlanner": (2048, 180), "ProfileSender": (256, 30)}
PLANNER_BATCH = 1  # one shard task per invocation: its time and memory are bounded by the page
SENDER_BATCH = 10  # profile orders per invocation (SQS's largest batch without a batching window)
SHARD_MAX_RECEIVES = 2  # a shard task that fails twice goes to its dead-letter queue (the next run plans it again)
SENDER_MAX_RECEIVES = 3  # an order is sent at most 3 times, then dead-lettered
# Visibility timeouts: the sender's 6x its timeout (AWS's advice for SQS event sources: throttled
# retries); the planners' 2x, so a failed task is delivered again within the period (a task older
# than one period is dropped: csms.charging.fanout.STALE_AFTER)
SENDER_VISIBILITY_S = 6 * FUNCTION_SIZES["ProfileSender"][1]
PLANNER_VISIBILITY_S = 2 * FUNCTION_SIZES["ShardPlanner"][1]
FLEET_RUN_OLDEST_ALARM_S = 600  # orders waiting this long: the run does not finish within its period
