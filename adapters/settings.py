"""Runtime settings, read once from the environment at cold start.

Nothing else in the code reads ``os.environ``: handlers and the local platform
build a :class:`Settings` and pass it down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from csms.charging.defaults import DEFAULT_CARBON_PRICE_GBP_PER_T

# Environment variable names: the CDK stack (infra/) sets exactly these.
ENV_CHARGERS_TABLE = "CHARGERS_TABLE"
ENV_CONNECTORS_TABLE = "CONNECTORS_TABLE"
ENV_SESSIONS_TABLE = "SESSIONS_TABLE"
ENV_METER_TABLE = "METER_TABLE"
ENV_KEYS_TABLE = "KEYS_TABLE"
ENV_REVIEW_TABLE = "REVIEW_TABLE"
ENV_CALLS_TABLE = "CALLS_TABLE"
ENV_SIGNALS_TABLE = "SIGNALS_TABLE"
ENV_EVENTS_TABLE = "EVENTS_TABLE"
ENV_FIRMWARE_TABLE = "FIRMWARE_TABLE"
ENV_AUTHORIZATION_TABLE = "AUTHORIZATION_TABLE"
ENV_CONSOLE_TABLE = "CONSOLE_TABLE"  # issue 22: frame log, alerts, offline checks, unknown chargers
ENV_FIRMWARE_BUCKET = "FIRMWARE_BUCKET"  # optional: images (the functions that hand out firmware URLs)
ENV_DIAGNOSTICS_BUCKET = "DIAGNOSTICS_BUCKET"  # optional: diagnostics uploads
ENV_S3_ENDPOINT = "S3_ENDPOINT"  # optional: an S3-compatible endpoint (tests)
ENV_LOCAL_FILES_DIR = "LOCAL_FILES_DIR"  # the local platform: files on disk ...
ENV_LOCAL_FILES_URL = "LOCAL_FILES_URL"  # ... served by its HTTPS port with signed, expiring links
ENV_SITE_CAP_KW = "SITE_CAP_KW"  # optional: aggregate power cap of the fleet the scheduler plans
ENV_CARBON_PRICE = "CARBON_PRICE_GBP_PER_T"
ENV_SCHEDULER_FUNCTION = "SCHEDULER_FUNCTION"  # optional: re-plan on plug-in / unplug (async invoke)
ENV_DYNAMODB_ENDPOINT = "DYNAMODB_ENDPOINT"  # optional: DynamoDB Local / moto server
ENV_MANAGEMENT_API_ENDPOINT = "MANAGEMENT_API_ENDPOINT"  # optional: https://{api}.execute-api.{region}.amazonaws.com/{stage}
ENV_REGION = "AWS_REGION"
ENV_HEARTBEAT_INTERVAL = "HEARTBEAT_INTERVAL_S"
ENV_SECRETS_KMS_KEY = "SECRETS_KMS_KEY_ID"  # AWS: the KMS key sealing secrets in queued calls
ENV_SECRETS_KEY_FILE = "SECRETS_KEY_FILE"  # local: the key file sealing them instead
# OCPP security profile 3 (csms.ocpp.certificates): the O every charger certificate carries, and the
# secret the edge adds to origin requests (a value locally, a Secrets Manager ARN in AWS).
ENV_CPO_NAME = "CPO_NAME"
ENV_ORIGIN_SECRET = "ORIGIN_SECRET"
ENV_ORIGIN_SECRET_ARN = "ORIGIN_SECRET_ARN"
# The CA that signs chargers' CSRs (SignCertificate): locally a directory with charger-ca.pem and its key
ENV_CHARGER_CA_DIR = "CHARGER_CA_DIR"
# ... or in AWS: the KMS key (ECC_NIST_P256, SIGN_VERIFY) and its CA certificate (PEM), adapters.kms_signer
ENV_CHARGER_CA_KMS_KEY_ID = "CHARGER_CA_KMS_KEY_ID"
ENV_CHARGER_CA_CERT = "CHARGER_CA_CERT"
# The key that signs firmware images for SignedUpdateFirmware (adapters.firmware_signer): locally a
# directory with firmware-signing.pem and its key; in AWS a KMS key and its certificate (PEM)
ENV_FIRMWARE_SIGNING_DIR = "FIRMWARE_SIGNING_DIR"
ENV_FIRMWARE_SIGNING_KMS_KEY_ID = "FIRMWARE_SIGNING_KMS_KEY_ID"
ENV_FIRMWARE_SIGNING_CERT = "FIRMWARE_SIGNING_CERT"
# Operator console (issue 22): the frame log always on (the local platform; in AWS it is switched on per
# charger for a bounded window), the EventBridge bus alerts go to, and the alert thresholds
ENV_FRAME_LOG_ALWAYS = "FRAME_LOG_ALWAYS"
ENV_ALERT_EVENT_BUS = "ALERT_EVENT_BUS"
ENV_OFFLINE_ALERT_MINUTES = "OFFLINE_ALERT_MINUTES"
ENV_OPEN_TRANSACTION_ALERT_HOURS = "OPEN_TRANSACTION_ALERT_HOURS"

TABLE_ENV = {
    "chargers": ENV_CHARGERS_TABLE,
    "connectors": ENV_CONNECTORS_TABLE,
    "sessions": ENV_SESSIONS_TABLE,
    "meter": ENV_METER_TABLE,
    "keys": ENV_KEYS_TABLE,
    "review": ENV_REVIEW_TABLE,
    "calls": ENV_CALLS_TABLE,
    "signals": ENV_SIGNALS_TABLE,
    "events": ENV_EVENTS_TABLE,
    "firmware": ENV_FIRMWARE_TABLE,
    "authorization": ENV_AUTHORIZATION_TABLE,
    "console": ENV_CONSOLE_TABLE,
}


class SettingsError(ValueError):
    """A required setting is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    chargers_table: str
    connectors_table: str
    sessions_table: str
    meter_table: str
    keys_table: str
    review_table: str
    calls_table: str
    signals_table: str
    events_table: str
    firmware_table: str
    authorization_table: str  # idTags, policies, reservations (csms.authorization)
    console_table: str
    region: str = "eu-west-2"
    dynamodb_endpoint: str | None = None
    management_api_endpoint: str | None = None
    heartbeat_interval_s: int = 300
    site_cap_kw: float | None = None
    carbon_price_gbp_per_t: float = DEFAULT_CARBON_PRICE_GBP_PER_T
    scheduler_function: str | None = None
    firmware_bucket: str | None = None
    diagnostics_bucket: str | None = None
    s3_endpoint: str | None = None
    local_files_dir: str | None = None
    local_files_url: str | None = None
    secrets_kms_key_id: str | None = None
    secrets_key_file: str | None = None
    cpo_name: str | None = None
    origin_secret: str | None = None
    origin_secret_arn: str | None = None
    charger_ca_dir: str | None = None
    charger_ca_kms_key_id: str | None = None
    charger_ca_cert: str | None = None
    firmware_signing_dir: str | None = None
    firmware_signing_kms_key_id: str | None = None
    firmware_signing_cert: str | None = None
    frame_log_always: bool = False
    alert_event_bus: str | None = None
    offline_alert_minutes: int = 15
    open_transaction_alert_hours: int = 24

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        missing = [name for name in TABLE_ENV.values() if not env.get(name)]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        try:
            heartbeat = int(env.get(ENV_HEARTBEAT_INTERVAL, "300"))
        except ValueError as exc:
            raise SettingsError(f"{ENV_HEARTBEAT_INTERVAL} must be an integer") from exc
        if not 10 <= heartbeat < 600:
            # API Gateway closes a WebSocket idle for 10 minutes.
            raise SettingsError(f"{ENV_HEARTBEAT_INTERVAL} must be in [10, 600)")
        try:
            site_cap = float(env[ENV_SITE_CAP_KW]) if env.get(ENV_SITE_CAP_KW) else None
            carbon_price = float(env.get(ENV_CARBON_PRICE) or DEFAULT_CARBON_PRICE_GBP_PER_T)
        except ValueError as exc:
            raise SettingsError(f"{ENV_SITE_CAP_KW} and {ENV_CARBON_PRICE} must be numbers") from exc
        if (site_cap is not None and site_cap <= 0) or carbon_price < 0:
            raise SettingsError(f"{ENV_SITE_CAP_KW} must be > 0 and {ENV_CARBON_PRICE} >= 0")
        return cls(
            chargers_table=env[ENV_CHARGERS_TABLE],
            connectors_table=env[ENV_CONNECTORS_TABLE],
            sessions_table=env[ENV_SESSIONS_TABLE],
            meter_table=env[ENV_METER_TABLE],
            keys_table=env[ENV_KEYS_TABLE],
            review_table=env[ENV_REVIEW_TABLE],
            calls_table=env[ENV_CALLS_TABLE],
            signals_table=env[ENV_SIGNALS_TABLE],
            events_table=env[ENV_EVENTS_TABLE],
            firmware_table=env[ENV_FIRMWARE_TABLE],
            authorization_table=env[ENV_AUTHORIZATION_TABLE],
            console_table=env[ENV_CONSOLE_TABLE],
            region=env.get(ENV_REGION) or env.get("AWS_DEFAULT_REGION") or "eu-west-2",
            dynamodb_endpoint=env.get(ENV_DYNAMODB_ENDPOINT) or None,
            management_api_endpoint=env.get(ENV_MANAGEMENT_API_ENDPOINT) or None,
            heartbeat_interval_s=heartbeat,
            site_cap_kw=site_cap,
            carbon_price_gbp_per_t=carbon_price,
            scheduler_function=env.get(ENV_SCHEDULER_FUNCTION) or None,
            firmware_bucket=env.get(ENV_FIRMWARE_BUCKET) or None,
            diagnostics_bucket=env.get(ENV_DIAGNOSTICS_BUCKET) or None,
            s3_endpoint=env.get(ENV_S3_ENDPOINT) or None,
            local_files_dir=env.get(ENV_LOCAL_FILES_DIR) or None,
            local_files_url=env.get(ENV_LOCAL_FILES_URL) or None,
            secrets_kms_key_id=env.get(ENV_SECRETS_KMS_KEY) or None,
            secrets_key_file=env.get(ENV_SECRETS_KEY_FILE) or None,
            cpo_name=env.get(ENV_CPO_NAME) or None,
            origin_secret=env.get(ENV_ORIGIN_SECRET) or None,
            origin_secret_arn=env.get(ENV_ORIGIN_SECRET_ARN) or None,
            charger_ca_dir=env.get(ENV_CHARGER_CA_DIR) or None,
            charger_ca_kms_key_id=env.get(ENV_CHARGER_CA_KMS_KEY_ID) or None,
            charger_ca_cert=env.get(ENV_CHARGER_CA_CERT) or None,
            firmware_signing_dir=env.get(ENV_FIRMWARE_SIGNING_DIR) or None,
            firmware_signing_kms_key_id=env.get(ENV_FIRMWARE_SIGNING_KMS_KEY_ID) or None,
            firmware_signing_cert=env.get(ENV_FIRMWARE_SIGNING_CERT) or None,
            frame_log_always=env.get(ENV_FRAME_LOG_ALWAYS) == "1",
            alert_event_bus=env.get(ENV_ALERT_EVENT_BUS) or None,
            offline_alert_minutes=_positive_int(env, ENV_OFFLINE_ALERT_MINUTES, 15),
            open_transaction_alert_hours=_positive_int(env, ENV_OPEN_TRANSACTION_ALERT_HOURS, 24),
        )

    @classmethod
    def with_prefix(cls, prefix: str, **kwargs) -> "Settings":
        """Settings with tables named ``<prefix>-<name>`` (tests, local platform)."""
        return cls(
            chargers_table=f"{prefix}-chargers",
            connectors_table=f"{prefix}-connectors",
            sessions_table=f"{prefix}-sessions",
            meter_table=f"{prefix}-meter",
            keys_table=f"{prefix}-keys",
            review_table=f"{prefix}-review",
            calls_table=f"{prefix}-calls",
            signals_table=f"{prefix}-signals",
            events_table=f"{prefix}-events",
            firmware_table=f"{prefix}-firmware",
            authorization_table=f"{prefix}-authorization",
            console_table=f"{prefix}-console",
            **kwargs,
        )

    def as_env(self) -> dict[str, str]:
        env = {
            ENV_CHARGERS_TABLE: self.chargers_table,
            ENV_CONNECTORS_TABLE: self.connectors_table,
            ENV_SESSIONS_TABLE: self.sessions_table,
            ENV_METER_TABLE: self.meter_table,
            ENV_KEYS_TABLE: self.keys_table,
            ENV_REVIEW_TABLE: self.review_table,
            ENV_CALLS_TABLE: self.calls_table,
            ENV_SIGNALS_TABLE: self.signals_table,
            ENV_EVENTS_TABLE: self.events_table,
            ENV_FIRMWARE_TABLE: self.firmware_table,
            ENV_AUTHORIZATION_TABLE: self.authorization_table,
            ENV_CONSOLE_TABLE: self.console_table,
            ENV_CARBON_PRICE: str(self.carbon_price_gbp_per_t),
            ENV_REGION: self.region,
            ENV_HEARTBEAT_INTERVAL: str(self.heartbeat_interval_s),
        }
        if self.dynamodb_endpoint:
            env[ENV_DYNAMODB_ENDPOINT] = self.dynamodb_endpoint
        if self.management_api_endpoint:
            env[ENV_MANAGEMENT_API_ENDPOINT] = self.management_api_endpoint
        if self.site_cap_kw is not None:
            env[ENV_SITE_CAP_KW] = str(self.site_cap_kw)
        if self.scheduler_function:
            env[ENV_SCHEDULER_FUNCTION] = self.scheduler_function
        for name, value in ((ENV_FIRMWARE_BUCKET, self.firmware_bucket), (ENV_DIAGNOSTICS_BUCKET, self.diagnostics_bucket),
                            (ENV_S3_ENDPOINT, self.s3_endpoint), (ENV_LOCAL_FILES_DIR, self.local_files_dir),
                            (ENV_LOCAL_FILES_URL, self.local_files_url)):
            if value:
                env[name] = value
        if self.secrets_kms_key_id:
            env[ENV_SECRETS_KMS_KEY] = self.secrets_kms_key_id
        if self.secrets_key_file:
            env[ENV_SECRETS_KEY_FILE] = self.secrets_key_file
        for name, value in ((ENV_CPO_NAME, self.cpo_name), (ENV_ORIGIN_SECRET, self.origin_secret),
                            (ENV_ORIGIN_SECRET_ARN, self.origin_secret_arn), (ENV_CHARGER_CA_DIR, self.charger_ca_dir),
                            (ENV_CHARGER_CA_KMS_KEY_ID, self.charger_ca_kms_key_id),
                            (ENV_CHARGER_CA_CERT, self.charger_ca_cert),
                            (ENV_FIRMWARE_SIGNING_DIR, self.firmware_signing_dir),
                            (ENV_FIRMWARE_SIGNING_KMS_KEY_ID, self.firmware_signing_kms_key_id),
                            (ENV_FIRMWARE_SIGNING_CERT, self.firmware_signing_cert)):
            if value:
                env[name] = value
        if self.frame_log_always:
            env[ENV_FRAME_LOG_ALWAYS] = "1"
        if self.alert_event_bus:
            env[ENV_ALERT_EVENT_BUS] = self.alert_event_bus
        env[ENV_OFFLINE_ALERT_MINUTES] = str(self.offline_alert_minutes)
        env[ENV_OPEN_TRANSACTION_ALERT_HOURS] = str(self.open_transaction_alert_hours)
        return env


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(env.get(name) or default)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be > 0")
    return value
