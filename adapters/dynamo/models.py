"""pynamodb models: the DynamoDB tables of the platform.

Table names, region and endpoint are bound at start-up by :func:`bind` from
:class:`adapters.settings.Settings`; nothing here hard-codes a table name.
The CDK stack (``infra/``) declares the same key schemas: keep them in step
(``tests/infra`` checks it).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection, Projection
from pynamodb.models import Model

from adapters.settings import Settings


# Sparse global secondary indexes (issue 15: no Scan on a per-message, per-request or periodic path).
# An item is in an index only while it has the index's hash key attribute. Where one key would be hot
# (every charger connecting, every call queued), the hash key is a shard "0".."SHARDS-1" of the charge
# point id (adapters.dynamo.indexes.shard_of); a reader queries every shard.
def _index(doc: str, index_name: str, projection: Projection, hash_key: str, range_key: str,
           range_type: type[Attribute] = UnicodeAttribute) -> GlobalSecondaryIndex[Any]:
    """A model's global secondary index, as the declarative ``class X(GlobalSecondaryIndex)`` with its
    ``Meta`` (``index_name``, ``projection``), a string hash key ``hash_key`` and a ``range_type`` range
    key ``range_key``. The stack builds the table's indexes from it (``infra.tables.indexes_of``)."""
    meta = type("Meta", (), {"index_name": index_name, "projection": projection})
    name = "".join(part.title() for part in index_name.split("-"))
    index = type(name, (GlobalSecondaryIndex,), {"__doc__": doc, "Meta": meta, hash_key: UnicodeAttribute(hash_key=True),
                                                 range_key: range_type(range_key=True)})
    return index()


class ChargerModel(Model):
    """One item per charger: credentials, current connection, boot data."""

    class Meta:
        table_name = "unbound-chargers"

    charge_point_id = UnicodeAttribute(hash_key=True)
    password_hash = UnicodeAttribute()
    enabled = BooleanAttribute(default=True)
    created_at = UTCDateTimeAttribute()
    connection_id = UnicodeAttribute(null=True)
    online = BooleanAttribute(default=False)
    connected_at = UTCDateTimeAttribute(null=True)
    disconnected_at = UTCDateTimeAttribute(null=True)
    last_seen = UTCDateTimeAttribute(null=True)
    boot = MapAttribute(null=True)  # vendor, model, serials, firmware, ...
    boot_at = UTCDateTimeAttribute(null=True)
    firmware_status = UnicodeAttribute(null=True)
    firmware_status_at = UTCDateTimeAttribute(null=True)
    firmware_history = ListAttribute(of=UnicodeAttribute, null=True)  # "<time> <status>", oldest first
    diagnostics_status = UnicodeAttribute(null=True)
    diagnostics_status_at = UTCDateTimeAttribute(null=True)
    setup_connection_id = UnicodeAttribute(null=True)  # the connection the platform has configured
    preference = MapAttribute(null=True)  # the driver's: departure (ISO), energy_kwh, charge_now
    capabilities = MapAttribute(default=dict)  # learnt from the charger's answers: config values, accepted profiles
    driver = UnicodeAttribute(null=True)  # the driver account (Cognito subject) linked to this charger
    legacy_handshake = BooleanAttribute(null=True)  # admitted as OCPP 1.6 without / with a variant subprotocol
    pending_password_hash = UnicodeAttribute(null=True)  # key rotation: the new key's hash (csms.ocpp.rotation)
    pending_key_call = UnicodeAttribute(null=True)  # the ChangeConfiguration that carries it
    driver_since = UTCDateTimeAttribute(null=True)  # when the current driver was linked (csms.views.driver_links)
    driver_links = ListAttribute(of=UnicodeAttribute, null=True)  # closed links: "<driver>|<from>|<to>"
    online_shard = UnicodeAttribute(null=True)  # online-index: present while connected
    close_at = UnicodeAttribute(null=True)  # ISO: the platform closes this connection then (storm spreading)
    fleet = UnicodeAttribute(null=True)  # fleet-index: "charger" for every registered charger
    setup_version = UnicodeAttribute(null=True)  # the set-up configuration last queued to this charger
    setup_pump = UnicodeAttribute(null=True)  # connection whose BootNotification queued set-up calls to send
    online_index = _index("Connected chargers: ``online_shard`` (set at $connect, removed at $disconnect), sorted by "
                          "``close_at`` (when the platform closes the connection, before API Gateway's 2-hour cut).",
                          "online-index", IncludeProjection(["connection_id"]), "online_shard", "close_at")
    driver_index = _index("A driver's chargers (``driver`` set when linked).",
                          "driver-index", KeysOnlyProjection(), "driver", "charge_point_id")
    fleet_index = _index("Every charger by id, for the operator listing's pages. Keys only, written at registration "
                         "(an update of other attributes writes nothing to a keys-only index).",
                         "fleet-index", KeysOnlyProjection(), "fleet", "charge_point_id")
    # OCPP security profile 3 (csms.ocpp.certificates): the profile floor (absent = 2), the revocation list
    # read by the authorizer with the same GetItem, and what the latest connection presented
    security_profile = NumberAttribute(null=True)
    revoked_certs = UnicodeSetAttribute(null=True)  # "serial:<hex>", "sha256:<hex>"
    security = MapAttribute(null=True)  # method, profile, tls_version, tls_cipher, at
    certificate = MapAttribute(null=True)  # subject, issuer, serial, sha256, not_before, not_after
    frame_log_until = UTCDateTimeAttribute(null=True)  # issue 22: the frame log is on until then (AWS opt-in)


class ConnectorModel(Model):
    """Latest status per connector (connector 0 = the charger as a whole)."""

    class Meta:
        table_name = "unbound-connectors"

    charge_point_id = UnicodeAttribute(hash_key=True)
    connector_id = NumberAttribute(range_key=True)
    status = UnicodeAttribute()
    error_code = UnicodeAttribute()
    status_at = UTCDateTimeAttribute()
    received_at = UTCDateTimeAttribute()
    info = UnicodeAttribute(null=True)
    vendor_id = UnicodeAttribute(null=True)
    vendor_error_code = UnicodeAttribute(null=True)


class SessionModel(Model):
    """One item per transaction, keyed by charger so a charger only reaches its own."""

    class Meta:
        table_name = "unbound-sessions"

    charge_point_id = UnicodeAttribute(hash_key=True)
    transaction_id = NumberAttribute(range_key=True)
    connector_id = NumberAttribute()
    id_tag = UnicodeAttribute()
    meter_start_wh = NumberAttribute()
    started_at = UTCDateTimeAttribute()
    start_received_at = UTCDateTimeAttribute()
    reservation_id = NumberAttribute(null=True)
    active = BooleanAttribute(default=True)
    stopped_at = UTCDateTimeAttribute(null=True)
    stop_received_at = UTCDateTimeAttribute(null=True)
    meter_stop_wh = NumberAttribute(null=True)
    stop_reason = UnicodeAttribute(null=True)
    stop_id_tag = UnicodeAttribute(null=True)
    energy_wh = NumberAttribute(null=True)
    max_power_w = NumberAttribute(null=True)
    flags = ListAttribute(of=UnicodeAttribute, null=True)
    plan = UnicodeAttribute(null=True)  # JSON: the last plan sent to the charger
    plan_hash = UnicodeAttribute(null=True)
    active_shard = UnicodeAttribute(null=True)  # active-index: present while the session is active
    active_index = _index("Active sessions (``active_shard`` set at StartTransaction, removed at StopTransaction).",
                          "active-index", AllProjection(), "active_shard", "transaction_id", NumberAttribute)


class MeterSampleModel(Model):
    """One item per meterValue element: stream = "<charger>#<connector>",
    sample_key = "<ISO timestamp>#<source>" (a resent message overwrites itself)."""

    class Meta:
        table_name = "unbound-meter"

    stream = UnicodeAttribute(hash_key=True)
    sample_key = UnicodeAttribute(range_key=True)
    transaction_id = NumberAttribute(null=True)
    power_w = NumberAttribute(null=True)
    energy_wh = NumberAttribute(null=True)
    readings = UnicodeAttribute()  # compact JSON list of normalised readings
    received_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # retention (Settings.meter_retention_days); archived to S3 first


class KeyModel(Model):
    """Counters (``counter#...``), idempotency keys (``txstart#...``) and handshake failure
    counters (``authfail#...``, ``adapters.dynamo.lockout``)."""

    class Meta:
        table_name = "unbound-keys"

    pk = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    first_at = UTCDateTimeAttribute(null=True)  # authfail#: the first failure counted
    last_at = UTCDateTimeAttribute(null=True)  # authfail#: the latest
    source = UnicodeAttribute(null=True)  # authfail#: the latest failure's source IP


class ReviewModel(Model):
    """Messages kept for review: data problems acknowledged to the charger."""

    class Meta:
        table_name = "unbound-review"

    charge_point_id = UnicodeAttribute(hash_key=True)
    review_key = UnicodeAttribute(range_key=True)  # "<ISO time>#<uuid>"
    kind = UnicodeAttribute()
    detail = UnicodeAttribute()
    action = UnicodeAttribute(null=True)
    transaction_id = NumberAttribute(null=True)
    raw = UnicodeAttribute(null=True)
    unique_id = UnicodeAttribute(null=True)  # the OCPP message id of the frame kept
    expires_at = TTLAttribute(null=True)


class CallModel(Model):
    """Platform-initiated calls per charger. Sort keys: ``q#<time>#<id>`` queued calls
    (oldest first), ``slot`` the single outstanding call, ``r#<time>#<id>`` outcomes."""

    class Meta:
        table_name = "unbound-calls"

    charge_point_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    unique_id = UnicodeAttribute()
    action = UnicodeAttribute()
    payload = UnicodeAttribute()  # JSON
    created_at = UTCDateTimeAttribute()
    origin = UnicodeAttribute(default="platform")
    connection_id = UnicodeAttribute(null=True)  # slot: where it was sent
    deadline = UTCDateTimeAttribute(null=True)  # slot: answer due by
    outcome = UnicodeAttribute(null=True)  # outcome records
    result = UnicodeAttribute(null=True)  # JSON
    error_code = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)  # due-index: queued calls and the slot
    due_at = UnicodeAttribute(null=True)  # ISO: when the sweeper should send or expire it
    due_index = _index("Queued calls and outstanding slots by when the sweeper should look at them (``due_at``); "
                       "outcome records carry no ``due_shard`` and are not in the index.",
                       "due-index", KeysOnlyProjection(), "due_shard", "due_at")


class SignalModel(Model):
    """One item per half-hour slot and area: price and carbon intensity (feeds or CSV upload)."""

    class Meta:
        table_name = "unbound-signals"

    area = UnicodeAttribute(hash_key=True)  # "GB" (or a DNO region / tariff region)
    start = UnicodeAttribute(range_key=True)  # ISO 8601 UTC, sorts in time order
    price = NumberAttribute(null=True)  # p/kWh inc. VAT
    carbon_forecast = NumberAttribute(null=True)  # gCO2/kWh
    carbon_actual = NumberAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)


class GridEventModel(Model):
    """Grid-demand events: aggregate power at most cap_kw in a window."""

    class Meta:
        table_name = "unbound-events"

    area = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()
    cap_kw = NumberAttribute()
    cancelled = BooleanAttribute(default=False)
    expires_at = TTLAttribute(null=True)


class FirmwareModel(Model):
    """Firmware management (``adapters.dynamo.firmware`` documents the keys): images, the fleet by
    model, campaigns, their targets, wave queues and silence deadlines, diagnostics requests."""

    class Meta:
        table_name = "unbound-firmware"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    data = UnicodeAttribute(null=True)  # JSON of the domain object
    version = NumberAttribute(null=True)  # optimistic locking of targets
    tally = NumberAttribute(null=True)  # failure counters


MODELS: dict[str, type[Model]] = {
    "chargers": ChargerModel,
    "connectors": ConnectorModel,
    "sessions": SessionModel,
    "meter": MeterSampleModel,
    "keys": KeyModel,
    "review": ReviewModel,
    "calls": CallModel,
    "signals": SignalModel,
    "events": GridEventModel,
    "firmware": FirmwareModel,
}  # + "console": ConsoleModel (issue 22), added at the end of this module

# Attributes with DynamoDB TTL enabled, per table.
TTL_ATTRIBUTES = {"keys": "expires_at", "calls": "expires_at", "signals": "expires_at", "events": "expires_at",
                  "meter": "expires_at", "review": "expires_at"}


POOL_CONNECTIONS = 32  # keep-alive connections per table client (see bind)


def bind(settings: Settings) -> None:
    """Point every model at the tables, region and endpoint of ``settings``."""
    names = {
        "chargers": settings.chargers_table,
        "connectors": settings.connectors_table,
        "sessions": settings.sessions_table,
        "meter": settings.meter_table,
        "keys": settings.keys_table,
        "review": settings.review_table,
        "calls": settings.calls_table,
        "signals": settings.signals_table,
        "events": settings.events_table,
        "firmware": settings.firmware_table,
        "authorization": settings.authorization_table,
        "console": settings.console_table,
    }
    for key, model in MODELS.items():
        if (model.Meta.table_name, getattr(model.Meta, "region", None), getattr(model.Meta, "host", None)) == (
                names[key], settings.region, settings.dynamodb_endpoint):
            continue  # bound to these already: keep its connection (a botocore session and client per table)
        model.Meta.table_name = names[key]
        model.Meta.region = settings.region
        model.Meta.host = settings.dynamodb_endpoint
        # Keep-alive connections per table client: the local platform calls one model from up to 20
        # handler threads at once, and past pynamodb's default of 10 urllib3 dropped each extra
        # connection after one request (a new TCP connection per request). Opened lazily: a Lambda
        # invocation, one request at a time, still opens one.
        model.Meta.max_pool_connections = POOL_CONNECTIONS
        model._connection = None  # drop a connection bound to earlier settings
    for model, key in SHARED_TABLE_MODELS.items():  # models that live in another's table
        model.Meta.table_name, model.Meta.region, model.Meta.host = names[key], settings.region, settings.dynamodb_endpoint
        model._connection = None


def create_tables(wait: bool = True) -> None:
    """Create any missing table (tests and the local platform; CDK creates them in AWS)."""
    for key, model in MODELS.items():
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=wait)
            ttl = TTL_ATTRIBUTES.get(key)
            if ttl:
                model._get_connection().connection.client.update_time_to_live(
                    TableName=model.Meta.table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl},
                )


class AuthorizationModel(Model):
    """Authorization (``adapters.dynamo.authorization`` documents the keys): idTags, each charger's
    policy and its reservations."""

    class Meta:
        table_name = "unbound-authorization"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    data = UnicodeAttribute(null=True)  # JSON of the domain object
    counter = NumberAttribute(null=True)  # the reservationId counter


MODELS["authorization"] = AuthorizationModel


class GridItemModel(Model):
    """Sites, their chargers, targeted grid-demand events and re-plan claims, in the events table
    (same keys as ``GridEventModel``; ``adapters.dynamo.sites`` documents the items)."""

    class Meta:
        table_name = "unbound-events"

    area = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)
    start = UTCDateTimeAttribute(null=True)
    end = UTCDateTimeAttribute(null=True)
    cap_kw = NumberAttribute(null=True)
    cancelled = BooleanAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    reduction_kw = NumberAttribute(null=True)
    target_kind = UnicodeAttribute(null=True)
    targets = ListAttribute(of=UnicodeAttribute, null=True)
    data = UnicodeAttribute(null=True)  # a site's JSON; a charger's site id
    until = UTCDateTimeAttribute(null=True)  # a re-plan claim: pending until then


# Models bound to another model's table (``bind``): not in MODELS, which lists the tables.
SHARED_TABLE_MODELS: dict[type[Model], str] = {GridItemModel: "events"}


# ------------------------------------------------------------------ operator console (issue 22)
class ConsoleModel(Model):
    """The operator console's items (``adapters.dynamo.frame_log``, ``alerts``, ``unknown_chargers``
    document the keys): frames per charger, alerts per day, offline checks, unknown chargers per day.
    Every item expires (TTL ``expires_at``)."""

    class Meta:
        table_name = "unbound-console"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    data = UnicodeAttribute(null=True)  # JSON of the record
    text = UnicodeAttribute(null=True)  # a logged frame (searchable with contains())
    count = NumberAttribute(null=True)  # unknown chargers: attempts; caps: items made
    last_at = UnicodeAttribute(null=True)  # unknown chargers: the latest attempt (ISO)
    expires_at = TTLAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    due_index = _index("Checks due at a time (a charger offline since a disconnect: alert when still offline then), "
                       "sharded by charger (``adapters.dynamo.indexes.shard_of``); only check items carry ``due_shard``.",
                       "due-index", AllProjection(), "due_shard", "due_at")


MODELS["console"] = ConsoleModel
TTL_ATTRIBUTES["console"] = "expires_at"


# ------------------------------------------------------------------ fleet-run ledger (issue 16)
class RunLedgerModel(Model):
    """The periodic run's ledger of grid-demand events, in the events table (same keys as
    ``GridEventModel``; ``adapters.dynamo.run_ledger`` documents the items)."""

    class Meta:
        table_name = "unbound-events"

    area = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)
    data = UnicodeAttribute(null=True)  # JSON: a task's stage-1 record, or a unit's members
    expected = NumberAttribute(null=True)  # the run's counter: tasks expected ...
    done = NumberAttribute(null=True)  # ... and counted
    stage2 = BooleanAttribute(null=True)  # stage 2 queued
    expires_at = TTLAttribute(null=True)


SHARED_TABLE_MODELS[RunLedgerModel] = "events"
