"""Composition root: the domain wired to DynamoDB. Every seam is an argument of ``build_runtime``;
nothing is assigned into a runtime after it is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from adapters.dynamo.calls import DynamoCallQueue
from adapters.dynamo.lockout import DynamoFailures
from adapters.dynamo.driver_links import DynamoDriverLinks
from adapters.dynamo.rotation import DynamoPendingKeys
from adapters.dynamo.models import bind
from adapters.dynamo.chargers import DynamoChargers
from adapters.dynamo.connectors import DynamoConnectors
from adapters.dynamo.meter import DynamoMeter
from adapters.dynamo.meter_batch import GroupCommitMeter
from adapters.dynamo.review import DynamoReview
from adapters.dynamo.sessions import DynamoSessions
from adapters.dynamo.signals import DynamoSignals
from adapters.dynamo.firmware import DynamoFirmware
from adapters.dynamo.sites import DynamoGridEvents, DynamoSites
from adapters.dynamo.run_ledger import DynamoRunLedger
from adapters.dynamo.allowances import DynamoAllowances, fleet_chargers
from csms.charging.ports import AllowanceStore
from adapters.firmware_signer import firmware_signer
from adapters.dynamo.authorization import DynamoAuthorization
from csms.authorization.service import Authorization
from adapters.dynamo.frame_log import DynamoFrameLog
from adapters.dynamo.frame_batch import BatchedFrameLog
from adapters.dynamo.alerts import DynamoAlerts
from adapters.dynamo.unknown_chargers import DynamoUnknownChargers
from adapters.settings import Settings
from csms.firmware.campaigns import Firmware
from csms.firmware.diagnostics import Diagnostics
from csms.firmware.hooks import notification_hook
from csms.ocpp.answers import AnswerHandler
from csms.ocpp.commands import Commander
from csms.ocpp.frame_log import FrameLog
from csms.ocpp.ports import Clock, ConnectionPoster, SecretSealer
from csms.ocpp.setup_policy import ConnectionSetup
from csms.ocpp.v16.central import CentralSystem, NotificationHook
from csms.console.alerts import Alerts
from csms.console.ports import UnknownChargerStore
from csms.timeutil import utcnow

if TYPE_CHECKING:  # imported when first used: the OCPP handlers never need it (cold start)
    from csms.operations import Operations

Replan = Callable[[str], None]  # charge point id, or "*" for the whole fleet
Tally = Callable[[str], None]


@dataclass(frozen=True)
class Counters:
    """Metrics seams: ``frames`` counts charger frames by action, ``profiles`` charging-profile
    answers (accepted / rejected). Each must never raise."""

    frames: Tally | None = None
    profiles: Tally | None = None


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    chargers: DynamoChargers
    connectors: DynamoConnectors
    sessions: DynamoSessions
    meter: DynamoMeter
    review: DynamoReview
    calls: DynamoCallQueue
    commander: Commander
    central: CentralSystem
    signals: DynamoSignals
    events: DynamoGridEvents
    replan: Replan | None
    failures: DynamoFailures = field(default_factory=DynamoFailures)  # handshake failures (csms.ocpp.lockout)
    firmware: Firmware | None = None
    diagnostics: Diagnostics | None = None
    authorization: DynamoAuthorization = field(default_factory=DynamoAuthorization)  # idTags, policies, reservations
    sites: DynamoSites = field(default_factory=DynamoSites)  # sites and their chargers (issue 16)
    run_ledger: DynamoRunLedger = field(default_factory=DynamoRunLedger)  # the fleet run's event ledger (issue 16)
    frame_log: FrameLog | None = None  # issue 22: every frame, when on (csms.ocpp.frame_log)
    alerts: Alerts | None = None  # issue 22: offline, faulted, open too long, profiles refused, auth failures
    unknown_chargers: UnknownChargerStore | None = None  # issue 22: ids that tried to connect unregistered
    allowances: AllowanceStore = field(default_factory=DynamoAllowances)  # issue 16: sites' shares of large events


class _FromSettings:
    """Default of a seam: derived from the settings (see ``build_runtime``)."""


FROM_SETTINGS = _FromSettings()


def file_store(settings: Settings):
    """Where firmware images and diagnostics live: the local platform's disk (served by its HTTPS
    port), the stack's S3 buckets, or nowhere (None: the firmware routes answer 503)."""
    if settings.local_files_dir and settings.local_files_url:
        from adapters.local_files import LocalFiles

        return LocalFiles(settings.local_files_dir, settings.local_files_url)
    if settings.firmware_bucket or settings.diagnostics_bucket:
        from adapters.files import S3Files

        return S3Files(settings.firmware_bucket, settings.diagnostics_bucket, settings.region, settings.s3_endpoint)
    return None


def build_sealer(settings: Settings) -> SecretSealer | None:
    """What seals secrets in queued calls (``csms.ocpp.rotation``): KMS in AWS, a key file locally,
    None where neither is configured (then a key rotation is refused)."""
    if settings.secrets_kms_key_id:
        from adapters.kms_sealer import KmsSealer

        return KmsSealer(settings.secrets_kms_key_id, settings.region)
    if settings.secrets_key_file:
        from adapters.file_sealer import FileSealer

        return FileSealer(settings.secrets_key_file)
    return None


def _settings_poster(settings: Settings) -> ConnectionPoster | None:
    # Without a management endpoint nothing can be sent; calls stay queued.
    if not settings.management_api_endpoint:
        return None
    from adapters.management_api import ManagementApiPoster

    return ManagementApiPoster(settings.management_api_endpoint, settings.region)


def _settings_replan(settings: Settings) -> Replan | None:
    # In AWS an asynchronous invoke of the scheduler function (one Lambda API call per plug-in /
    # unplug); None where nothing re-plans (tests, a stack without a scheduler).
    if not settings.scheduler_function:
        return None
    from adapters.replan import lambda_replan

    return lambda_replan(settings.scheduler_function, settings.region)


def _settings_publisher(settings: Settings):
    """Where alerts go besides their table: an EventBridge bus in AWS (SNS and alarms hang off it,
    infra/alerts.py); None locally (csms local prints them)."""
    if not settings.alert_event_bus:
        return None
    from adapters.alert_events import EventBridgeAlerts

    return EventBridgeAlerts(settings.alert_event_bus, settings.region)


def _both(first: NotificationHook, second: NotificationHook) -> NotificationHook:
    def hook(charge_point_id: str, action: str, payload: dict, at: datetime) -> None:
        first(charge_point_id, action, payload, at)
        second(charge_point_id, action, payload, at)

    return hook


def build_runtime(
    settings: Settings,
    *,
    poster: ConnectionPoster | None | _FromSettings = FROM_SETTINGS,
    replan: Replan | None | _FromSettings = FROM_SETTINGS,
    counters: Counters = Counters(),
    clock: Clock = utcnow,
    group_commit: bool = False,
) -> Runtime:
    """The DynamoDB repositories, the outbound call queue and the central system.

    ``poster`` sends frames to a connection (default: the management API of the settings, or None:
    calls stay queued); ``replan`` asks for a re-plan after a plug-in / unplug or a preference change
    (default: an async invoke of the settings' scheduler function, or None); ``counters`` are the
    metrics seams; ``clock`` gives the time (UTC); ``group_commit``: one process handles every charger (``csms local``),
    so concurrent MeterValues share their writes (``adapters.dynamo.meter_batch``)."""
    bind(settings)
    chargers, connectors, sessions = DynamoChargers(), DynamoConnectors(), DynamoSessions()
    meter = GroupCommitMeter() if group_commit else DynamoMeter()
    review, calls = DynamoReview(), DynamoCallQueue()
    if isinstance(poster, _FromSettings):
        poster = _settings_poster(settings)
    if isinstance(replan, _FromSettings):
        replan = _settings_replan(settings)
    # Always on (the local platform): written in batches after the answer (adapters.dynamo.frame_batch)
    frame_log = FrameLog(BatchedFrameLog() if settings.frame_log_always else DynamoFrameLog(),
                         always=settings.frame_log_always)
    alerts = Alerts(store=DynamoAlerts(), chargers=chargers, sessions=sessions, clock=clock,
                    publish=_settings_publisher(settings), offline_after=timedelta(minutes=settings.offline_alert_minutes),
                    open_after=timedelta(hours=settings.open_transaction_alert_hours))
    commander = Commander(calls, chargers, poster, clock=clock, heartbeat_interval_s=settings.heartbeat_interval_s,
                          tally=counters.profiles, review=review, sealer=build_sealer(settings), keys=DynamoPendingKeys(),
                          frame_log=frame_log, on_profile_refused=alerts.on_profile_answer)
    files, firmware_store, authorization = file_store(settings), DynamoFirmware(), DynamoAuthorization()
    firmware = Firmware(store=firmware_store, files=files, sender=commander, fleet=chargers, transactions=sessions,
                        clock=clock, signer=firmware_signer(settings))
    diagnostics = Diagnostics(store=firmware_store, files=files, sender=commander, fleet=chargers, clock=clock,
                              file_names=lambda cp: chargers.capabilities(cp).get("diagnostics.file"))
    central = CentralSystem(
        chargers,
        connectors,
        sessions,
        meter,
        review,
        clock=clock,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        on_response=AnswerHandler(commander),
        after_call=ConnectionSetup(commander),
        replan=replan,
        tally=counters.frames,
        on_notification=_both(notification_hook(firmware, diagnostics), alerts.on_message),
        authority=Authorization(authorization),
        frame_log=frame_log,
    )
    # The OCPP 1.6 security extension's charger messages (SignCertificate, SecurityEventNotification, ...)
    from adapters.certificate_signer import certificate_signer
    from adapters.dynamo.security_events import DynamoSecurityEvents
    from csms.ocpp.v16.security_extension import SecurityExtension

    central.extensions.update(SecurityExtension(chargers=chargers, review=review, events=DynamoSecurityEvents(),
                                                send=commander.send, signer=certificate_signer(settings),
                                                cpo_name=settings.cpo_name, notify=central.on_notification).handlers())
    return Runtime(settings, chargers, connectors, sessions, meter, review, calls, commander, central,
                   DynamoSignals(), DynamoGridEvents(), replan,
                   firmware=firmware, diagnostics=diagnostics, authorization=authorization, frame_log=frame_log,
                   alerts=alerts, unknown_chargers=DynamoUnknownChargers())


def _no_replan(charge_point_id: str) -> None:
    """Nothing re-plans here (no scheduler): the request is accepted and does nothing."""


def build_operations(rt: Runtime, clock: Clock | None = None) -> Operations:
    """The operator / driver operations (HTTP API, CLI) over the same runtime."""
    from adapters.dynamo.security_events import DynamoSecurityEvents
    from csms.authorization.operations import AuthorizationOperations
    from adapters.dynamo.onboarding import DynamoOnboarding
    from csms.console.operations import ConsoleOperations
    from csms.firmware.operations import FirmwareOperations
    from csms.onboarding.operations import OnboardingOperations
    from csms.operations import Operations
    from csms.ocpp.v16.profiles import PROFILE_ID, TX_DEFAULT
    from csms.charging.site_ops import SiteOperations

    onboarding_store = DynamoOnboarding(rt.settings.heartbeat_interval_s)
    onboarding = OnboardingOperations(facts=onboarding_store, checks=onboarding_store, verdicts=onboarding_store,
                                      fleet=DynamoFirmware(), commander=rt.commander, plan_of=rt.sessions.plan_of,
                                      replan=rt.replan or _no_replan, clock=clock or rt.commander.clock)

    return Operations(chargers=rt.chargers, connectors=rt.connectors, sessions=rt.sessions, meter=rt.meter,
                      calls=rt.calls, commander=rt.commander, signals=rt.signals, events=rt.events,
                      replan=rt.replan or _no_replan, clock=clock or rt.commander.clock, review=rt.review,
                      failures=rt.failures, links=DynamoDriverLinks(),
                      firmware=FirmwareOperations(rt.firmware, rt.diagnostics), security_events=DynamoSecurityEvents(),
                      authorization=AuthorizationOperations(rt.authorization, rt.commander, rt.calls, rt.chargers,
                                                            clock or rt.commander.clock, rt.connectors),
                      onboarding=onboarding,
                      sites=SiteOperations(sites=rt.sites, events=rt.events, chargers=rt.chargers,
                                           replan=rt.replan or _no_replan, clock=clock or rt.commander.clock,
                                           fleet_size=fleet_chargers,
                                           clear_default=lambda cp: rt.commander.send(
                                               cp, "ClearChargingProfile", {"id": PROFILE_ID[TX_DEFAULT]}, origin="site")),
                      console=ConsoleOperations(frames=rt.frame_log.store, always=rt.frame_log.always,
                                                chargers=rt.chargers, clock=clock or rt.commander.clock,
                                                alerts=rt.alerts, sessions=rt.sessions, connectors=rt.connectors,
                                                meter=rt.meter, replan=rt.replan, unknown=rt.unknown_chargers)
                      if rt.frame_log is not None else None)
