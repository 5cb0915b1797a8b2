"""The whole platform on one machine: local WSS gateway, management API, embedded
DynamoDB and the scheduled jobs, running the same handlers as AWS."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import threading
import dataclasses
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from adapters.dynamo.models import create_tables
from adapters.settings import ENV_DYNAMODB_ENDPOINT, ENV_LOCAL_FILES_DIR, ENV_LOCAL_FILES_URL, Settings
from adapters.wiring import build_runtime
from csms.ocpp.credentials import generate_key, hash_key
from csms_local import dynamodb, pki, tls
from csms_local.edge import LocalEdge
from csms_local.private import StateLock, private_dir, write_private
from csms_local.gateway import Gateway
from csms_local.mgmt_api import ManagementApi
from csms_local.state import REGION, SECRETS_KEY_FILE, local_settings

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 60
FIRMWARE_EVERY_S = 60  # campaigns advance on the sweeper's schedule in AWS too
SMART_EVERY_S = 900  # EventBridge runs the scheduler every 15 minutes in AWS too
SIGNALS_EVERY_S = 1800
DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass
class Job:
    name: str
    interval_s: float
    func: Callable[[], object]
    wake: threading.Event = field(default_factory=threading.Event)


class LocalPlatform:
    def __init__(
        self,
        state_dir: str | Path = ".local",
        host: str = "127.0.0.1",
        port: int = 8443,
        mgmt_port: int = 0,
        reset: bool = False,
        insecure_ws: bool = False,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        idle_timeout_s: float = 600,
        max_connection_s: float = 7200,
        smart_every_s: float | None = SMART_EVERY_S,
        api_port: int | None = 0,
        charger_ca: str | Path | None = None,
        cpo_name: str | None = None,
        firmware_every_s: float = FIRMWARE_EVERY_S,
        clock: Callable[[], datetime] | None = None,
    ):
        self.state_dir = Path(state_dir)
        self.host, self.port, self.mgmt_port = host, port, mgmt_port
        self.reset = reset
        self.insecure_ws = insecure_ws
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.idle_timeout_s, self.max_connection_s = idle_timeout_s, max_connection_s
        self.smart_every_s = smart_every_s
        self.api_port = api_port  # the HTTP API and web page; None: not served
        # Security profile 3: the trust store for client certificates (default: a charger CA made in
        # the state dir) and the O their subjects must carry (default: that CA's O)
        self.charger_ca: Path | None = Path(charger_ca) if charger_ca else None
        self.cpo_name = cpo_name
        self.firmware_every_s = firmware_every_s
        # The platform's clock seam (csms.ocpp.ports.Clock): the handlers, the jobs and the connections'
        # connectedAt read it; a test passes a simulated clock so minutes of platform time take seconds
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(timezone.utc))
        self._http = None
        self.ca_path: Path | None = None
        self.firmware_root_path: Path | None = None  # the firmware root chargers install (SignedUpdateFirmware)
        self.settings: Settings | None = None
        self.jobs: list[Job] = []
        self._dynamo: dynamodb.EmbeddedDynamo | None = None
        self._gateway: Gateway | None = None
        self._mgmt: ManagementApi | None = None
        self._stop_jobs = threading.Event()
        self._threads: list[threading.Thread] = []
        self._saved_env: dict[str, str | None] = {}
        self._recorded_signals = None
        self._state_lock: StateLock | None = None
        self._installed: list = []  # the runtimes this start installed (their frame-log writers close on stop)

    # ------------------------------------------------------------ properties
    @property
    def url(self) -> str:
        scheme = "ws" if self.insecure_ws else "wss"
        return f"{scheme}://{self.host}:{self._gateway.port if self._gateway else self.port}/ocpp"

    @property
    def api_url(self) -> str | None:
        return self._http.url if self._http is not None else None

    @property
    def web_url(self) -> str | None:
        """The web page, signed in as the local operator (the token travels in the fragment)."""
        from csms_local.http_api import operator_token

        return f"{self.api_url}/#token={operator_token(self.state_dir)}" if self._http is not None else None

    @property
    def snapshot_path(self) -> Path:
        """Where the embedded DynamoDB folds its journal (``csms_local.journal``)."""
        from csms_local.journal import SNAPSHOT

        return self.state_dir / SNAPSHOT

    @property
    def secrets_key_file(self) -> Path:
        """Seals secrets in queued calls (a rotated AuthorizationKey): adapters.file_sealer."""
        return self.state_dir / SECRETS_KEY_FILE

    @property
    def endpoint_file(self) -> Path:
        return self.state_dir / "endpoint.json"

    @property
    def dynamodb_endpoint(self) -> str:
        return self.settings.dynamodb_endpoint

    @property
    def mgmt_endpoint(self) -> str:
        return self._mgmt.endpoint

    @property
    def runtime(self):
        from handlers._runtime import runtime

        return runtime()

    # --------------------------------------------------------------- control
    def _sweep(self) -> None:
        """What the Sweeper function does every minute: send and expire calls, close aged connections."""
        from handlers.sweeper import close_aged

        self.runtime.commander.sweep()
        now = datetime.now(timezone.utc)  # close_at is stamped by $connect on real time
        close_aged(self.runtime, now)
        if self.runtime.alerts is not None:  # chargers still offline, transactions still open (issue 22)
            self.runtime.alerts.check_due(now)

    async def start(self) -> "LocalPlatform":
        """Raises ``csms_local.private.StateDirBusy`` when another platform uses the state dir."""
        self._state_lock = StateLock(self.state_dir)  # also makes the directory 0700
        # Powertools writes JSON logs and EMF metrics to stdout, as in Lambda: keep the console
        # readable unless asked (``csms local -v``).
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        external = os.environ.get(ENV_DYNAMODB_ENDPOINT)
        if external:
            endpoint = external
        else:
            if self.reset:
                dynamodb.reset_state(self.state_dir)
            # Loopback whatever --host says: it answers any credentials (issue 21)
            self._dynamo = dynamodb.EmbeddedDynamo("127.0.0.1", state_dir=self.state_dir)
            self._dynamo.start()
            endpoint = self._dynamo.endpoint
        ssl_context = gateway_context = charger_ca_dir = None
        tls_dir = self.state_dir / "tls"
        if not self.insecure_ws:
            if self.tls_cert and self.tls_key:
                cert, key = Path(self.tls_cert), Path(self.tls_key)
                self.ca_path = None
                chains = [(cert, key)]
            else:
                self.ca_path, cert, key = tls.ensure_certificates(tls_dir, (self.host, "localhost"))
                chains = [(cert, key), pki.ensure_rsa_server_certificate(tls_dir, (self.host, "localhost"))]
            ssl_context = tls.server_context(cert, key)  # the HTTP API's
            if self.charger_ca is None:
                self.charger_ca = pki.ensure_charger_ca(tls_dir, self.cpo_name or pki.DEFAULT_CPO_NAME)
                self.cpo_name = self.cpo_name or pki.charger_ca_cpo_name(tls_dir)
                charger_ca_dir = str(tls_dir)  # its key signs chargers' CSRs (SignCertificate)
            gateway_context = pki.gateway_context(chains, self.charger_ca)
        # signs firmware images for SignedUpdateFirmware; chargers install firmware-root.pem
        self.firmware_root_path = pki.ensure_firmware_signing(tls_dir, self.cpo_name or pki.DEFAULT_CPO_NAME)
        origin_secret = secrets.token_hex(32)  # what CloudFront would add; new per start
        from handlers import _runtime, authorizer, connect, default, disconnect

        self._gateway = Gateway(
            {"authorizer": _quiet(authorizer.lambda_handler), "connect": _quiet(connect.lambda_handler),
             "default": _quiet(default.lambda_handler), "disconnect": _quiet(disconnect.lambda_handler)},
            host=self.host, port=self.port, ssl_context=gateway_context,
            idle_timeout_s=self.idle_timeout_s, max_connection_s=self.max_connection_s, edge=LocalEdge(origin_secret),
            connected_at_ms=lambda: int(self.clock().timestamp() * 1000),
        )
        # Loopback whatever --host says: API Gateway's management API needs IAM; this one has no
        # authentication, so only this machine may reach it (issue 21)
        self._mgmt = ManagementApi(self._gateway, "127.0.0.1", self.mgmt_port)
        self.settings = dataclasses.replace(
            local_settings(endpoint, self._mgmt.endpoint, secrets_key_file=str(self.secrets_key_file)),
            cpo_name=self.cpo_name, origin_secret=origin_secret, charger_ca_dir=charger_ca_dir,
            firmware_signing_dir=str(tls_dir))
        # The handlers read their settings from the environment, as in Lambda; restored on stop.
        env = dict(self.settings.as_env())
        for key, value in dynamodb.FAKE_CREDENTIALS.items():
            env.setdefault(key, os.environ.get(key) or value)
        self._saved_env = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        # Plug-in, unplug and preference changes re-plan at once, as the async invoke of the
        # scheduler does in AWS (the CLI, in another process, asks through POST /@replan).
        # Whatever runs as "smart-schedule" (this platform's job, or a demo's on its simulated clock).
        replan = lambda charge_point_id: self.wake("smart-schedule")  # noqa: E731
        # The runtime is built (and the models bound) before the tables are created, so every
        # model's botocore client is made here, once: otherwise the first burst of messages made
        # one per frame thread at once (~100 ms of CPU each).
        self._installed.append(_runtime.install(build_runtime(self.settings, replan=replan,
                                                              counters=_runtime.lambda_counters(),
                                                              clock=self.clock, group_commit=True)))
        await asyncio.to_thread(create_tables)
        legacy = self.state_dir / dynamodb.LEGACY_SNAPSHOT
        if self._dynamo is not None and legacy.exists():
            restored = await asyncio.to_thread(dynamodb.restore, endpoint, REGION, legacy)
            log.info("imported %d items from %s", restored, legacy)
            if restored:
                from adapters.dynamo.backfill import backfill  # a state saved before the sparse indexes

                await asyncio.to_thread(backfill)
        self._mgmt.start()
        await self._gateway.start()
        if self.api_port is not None:
            from csms_local.http_api import LocalHttpApi, operator_token
            from handlers import api

            files = private_dir(self.state_dir / "files")  # firmware images and diagnostics: 0700 (issue 21)
            self._http = LocalHttpApi(_quiet(api.lambda_handler), self.state_dir, self.host, self.api_port, ssl_context,
                                      files_root=files)
            self._http.start()
            operator_token(self.state_dir)
            # Firmware images and diagnostics: on disk, behind signed links to this HTTPS port (as S3
            # pre-signed URLs in AWS); the handlers read where from the environment, as in Lambda.
            self.settings = replace(self.settings, local_files_dir=str(files), local_files_url=self._http.url)
            files_env = {ENV_LOCAL_FILES_DIR: str(files), ENV_LOCAL_FILES_URL: self._http.url}
            self._saved_env.update({k: os.environ.get(k) for k in files_env})
            os.environ.update(files_env)
            self._installed.append(_runtime.install(build_runtime(self.settings, replan=replan,
                                                                  counters=_runtime.lambda_counters(),
                                                                  clock=self.clock, group_commit=True)))
        write_private(self.endpoint_file, json.dumps({"dynamodb": endpoint, "management_api": self._mgmt.endpoint,
                                                  "url": self.url, "api": self.api_url, "pid": os.getpid()}))
        self.register_job("sweep", SWEEP_EVERY_S, self._sweep)
        self.register_job("firmware", self.firmware_every_s, lambda: self.runtime.firmware.advance_all())
        if self.smart_every_s:
            await asyncio.to_thread(self._refresh_signals)
            self.register_job("signals", SIGNALS_EVERY_S, self._refresh_signals)
            self.register_job("smart-schedule", self.smart_every_s, self._smart_schedule)
            self._mgmt.on_replan = lambda: self.wake("smart-schedule")
        return self

    def _refresh_signals(self) -> None:
        """The signal-refresh job. No live price or carbon feed is reachable from here, so the
        recorded GB days in ``data/`` are replayed onto today and tomorrow and stored, as the
        refresh Lambda stores the feeds in AWS."""
        from csms.charging import signals
        from csms.charging import tariff
        if self._recorded_signals is None:
            self._recorded_signals = tariff.load(DATA / "gb_agile_prices.csv", DATA / "gb_carbon_intensity.csv")
        now = self.clock()
        self.runtime.signals.put(signals.rows_from_signals(tariff.replayed(self._recorded_signals, now)), now)

    def _smart_schedule(self) -> None:
        """The periodic run on the platform clock, reading the stored signals: the same fan-out as in AWS
        (dispatch per active-index shard, shard planners, sender), in process through in-memory
        queues (``adapters.fanout.run_in_process``)."""
        from adapters.fanout import run_in_process

        report = run_in_process(self.runtime, clock=self.clock)
        log.info("smart schedule: %d tasks, %d planned, %d profiles sent, %d unchanged", report.tasks, report.planned,
                 report.sent, report.unchanged)
        if report.dead:
            log.warning("smart schedule: %d messages failed every delivery", len(report.dead))

    def register_job(self, name: str, interval_s: float, func: Callable[[], object]) -> None:
        """Run ``func`` every ``interval_s`` seconds in a thread, as an EventBridge schedule would."""
        job = Job(name, interval_s, func)
        self.jobs.append(job)

        def loop() -> None:
            while True:
                job.wake.wait(job.interval_s)  # the interval, or sooner when woken
                job.wake.clear()
                if self._stop_jobs.is_set():
                    return
                try:
                    job.func()
                except Exception:
                    log.exception("scheduled job %s failed", job.name)

        thread = threading.Thread(target=loop, name=f"job-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wake(self, name: str) -> None:
        """Run a job now (as an asynchronous invoke would)."""
        for job in self.jobs:
            if job.name == name:
                job.wake.set()

    async def stop(self) -> None:
        self._stop_jobs.set()
        for job in self.jobs:
            job.wake.set()
        if self._gateway is not None:
            await self._gateway.stop()
        from csms_local.state import close_frame_log

        for rt in self._installed:  # frames still queued (adapters.dynamo.frame_batch), before the store stops
            await asyncio.to_thread(close_frame_log, rt)
        self._installed = []
        for thread in self._threads:
            thread.join(timeout=5)
        if self._mgmt is not None:
            self._mgmt.stop()
        if self._http is not None:
            self._http.stop()
        if self._dynamo is not None:
            await asyncio.to_thread(self._dynamo.stop)  # it folds its journal into a snapshot
        if self.endpoint_file.exists():
            self.endpoint_file.unlink()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        from handlers import _runtime

        _runtime.reset()
        if self._state_lock is not None:
            self._state_lock.release()
            self._state_lock = None

    async def __aenter__(self) -> "LocalPlatform":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # ------------------------------------------------------------- chargers
    def issue_charger_certificate(self, charge_point_id: str, out_dir: str | Path, days: float = 365):
        """(certificate chain, key, certificate) from the local charger CA, O = the CPO name."""
        return pki.issue_charger_certificate(self.state_dir / "tls", charge_point_id, Path(out_dir),
                                             cpo_name=self.cpo_name, days=days)

    def add_charger(self, charge_point_id: str, password: str | None = None) -> str:
        key = password or generate_key()
        self.runtime.chargers.register(charge_point_id, hash_key(key), datetime.now(timezone.utc))
        return key


def _quiet(handler):
    """Powertools keeps metrics in memory while metrics are disabled and prints them anyway once a
    metric reaches 100 values; a Lambda container lives minutes, this process lives all day. Drop
    them after every invocation unless metrics output was asked for. Each invocation starts with no
    thread-local log keys (the correlation id, ``handlers.observability.set_correlation_id``): a frame
    thread's previous invocation, another charger's, leaves none behind."""
    import warnings

    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    from handlers.observability import logger, metrics

    warnings.filterwarnings("ignore", message="No application metrics to publish")

    def invoke(event, context):
        logger.thread_safe_clear_keys()
        try:
            return handler(event, context)
        finally:
            if is_metrics_disabled():
                metrics.clear_metrics()

    return invoke
