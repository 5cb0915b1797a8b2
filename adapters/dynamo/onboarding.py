"""Onboarding's storage (``csms.onboarding.ports``) over the existing tables: no new table.

| table | keys | what |
|---|---|---|
| calls | ``<charge point id>``, ``check`` | the charger's latest active check (JSON in ``payload``; ``outcome`` holds its version for the conditional write; TTL 90 days) |
| firmware | ``onboarding#model#<len>:<vendor>#<model>``, charge point id | the charger's latest verdicts (JSON: firmware, summary, at) |
| firmware | ``onboarding#models``, ``<len>:<vendor>#<model>`` | the models with a recorded charger |

A report reads a fixed number of items whatever the charger's age: the charger item, its
connectors, its 5 newest sessions, the newest ``SAMPLES`` meter samples per connector, the newest
``OUTCOMES`` call outcomes, the newest ``REVIEWS`` review items and the check: 6 + one Query per
connector. The active check's looks read only what came since it started (and no review items).
Nothing here scans."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError

from adapters.dynamo.calls import OUTCOME
from adapters.dynamo.models import CallModel, ChargerModel, ConnectorModel, FirmwareModel, MeterSampleModel, ReviewModel
from adapters.dynamo.charger_reads import _boot_from, _map
from adapters.dynamo.connectors import _status_from
from adapters.dynamo.items import conditional_failed as _conditional_failed
from adapters.dynamo.meter import _sample_from
from adapters.dynamo.sessions import DynamoSessions
from csms.model import ReviewItem
from csms.ocpp.commands import CallOutcome
from csms.onboarding.facts import ChargerFacts
from csms.timeutil import iso

CHECK = "check"
CHECK_TTL = timedelta(days=90)
MODELS = "onboarding#models"
SAMPLES, OUTCOMES, REVIEWS, SESSIONS = 240, 200, 50, 5


def _model_key(vendor: str, model: str) -> str:
    return f"{len(vendor)}:{vendor}#{model}"


class DynamoOnboarding:
    """``FactSource``, ``CheckStore`` and ``ModelVerdicts`` in one adapter."""

    def __init__(self, heartbeat_interval_s: int = 300):
        self.heartbeat_interval_s = heartbeat_interval_s

    # ------------------------------------------------------------- facts
    def facts(self, charge_point_id: str, now: datetime, since: datetime | None = None) -> ChargerFacts | None:
        try:
            item = ChargerModel.get(charge_point_id, consistent_read=True)
        except DoesNotExist:
            return None
        connectors = tuple(_status_from(i) for i in ConnectorModel.query(charge_point_id, consistent_read=True))
        samples = []
        for connector_id in sorted({c.connector_id for c in connectors if c.connector_id > 0} or {1}):
            newest = MeterSampleModel.query(f"{charge_point_id}#{connector_id}",
                                            MeterSampleModel.sample_key >= iso(since) if since else None,
                                            scan_index_forward=False, limit=SAMPLES, consistent_read=True)
            samples.extend(_sample_from(i) for i in newest)
        samples.sort(key=lambda s: (s.timestamp, s.source))
        outcomes = [CallOutcome(i.charge_point_id, i.unique_id, i.action, json.loads(i.payload), i.outcome, i.created_at,
                                json.loads(i.result) if i.result else None, i.error_code, i.origin or "platform")
                    for i in CallModel.query(charge_point_id, CallModel.key.between(OUTCOME + iso(since), OUTCOME + "~")
                                             if since else CallModel.key.startswith(OUTCOME),
                                             scan_index_forward=False, limit=OUTCOMES, consistent_read=True)]
        outcomes.reverse()
        review = []
        kept = ReviewModel.query(charge_point_id, scan_index_forward=False, limit=REVIEWS) if since is None else ()
        for i in kept:
            stamp = i.review_key.partition("#")[0]
            review.append(ReviewItem(i.charge_point_id, i.kind, i.detail,
                                     datetime.fromisoformat(stamp.replace("Z", "+00:00")), i.action,
                                     int(i.transaction_id) if i.transaction_id is not None else None, i.raw, i.unique_id))
        review.reverse()
        caps = item.capabilities
        return ChargerFacts(
            charge_point_id=charge_point_id, now=now, online=bool(item.online), last_seen=item.last_seen,
            connected_at=item.connected_at, disconnected_at=item.disconnected_at, boot=_boot_from(item),
            boot_at=item.boot_at, security=_map(item.security), security_profile=int(item.security_profile or 2),
            capabilities={k: str(v) for k, v in dict(caps.as_dict() if hasattr(caps, "as_dict") else caps or {}).items()},
            firmware_status=item.firmware_status, firmware_history=tuple(item.firmware_history or ()),
            heartbeat_interval_s=self.heartbeat_interval_s, connectors=connectors,
            sessions=tuple(DynamoSessions().recent(charge_point_id, SESSIONS)), samples=tuple(samples),
            outcomes=tuple(outcomes), review=tuple(review), check=self.load_check(charge_point_id))

    # ------------------------------------------------------------- checks
    def load_check(self, charge_point_id: str) -> dict | None:
        try:
            return json.loads(CallModel.get(charge_point_id, CHECK, consistent_read=True).payload)
        except DoesNotExist:
            return None

    def save_check(self, charge_point_id: str, check: dict, expected_version: int | None) -> bool:
        """One conditional PutItem: the stored version (``outcome`` = "v<n>") must be the expected one."""
        condition = (CallModel.key.does_not_exist() if expected_version is None
                     else CallModel.outcome == f"v{expected_version}")
        item = CallModel(charge_point_id, CHECK, unique_id=check["id"], action="OnboardingCheck",
                         payload=json.dumps(check), created_at=datetime.fromisoformat(check["started_at"].replace("Z", "+00:00")),
                         origin="onboarding", outcome=f"v{check['version']}", expires_at=CHECK_TTL)
        try:
            item.save(condition=condition)
            return True
        except PutError as exc:
            if _conditional_failed(exc):
                return False
            raise

    # ------------------------------------------------------------- per model
    def record(self, vendor: str, model: str, firmware: str | None, charge_point_id: str,
               summary: dict[str, str], at: datetime) -> None:
        key = _model_key(vendor, model)
        FirmwareModel(f"onboarding#model#{key}", charge_point_id,
                      data=json.dumps({"firmware": firmware, "summary": summary, "at": at.isoformat()})).save()
        FirmwareModel(MODELS, key, data=json.dumps({"vendor": vendor, "model": model})).save()

    def models(self) -> list[tuple[str, str]]:
        out = []
        for i in FirmwareModel.query(MODELS):
            data = json.loads(i.data)
            out.append((data["vendor"], data["model"]))
        return out

    def chargers(self, vendor: str, model: str) -> list[dict]:
        return [{"charger": i.sk, **json.loads(i.data)}
                for i in FirmwareModel.query(f"onboarding#model#{_model_key(vendor, model)}")]
