"""The firmware table (``csms.firmware.ports.FirmwareStore``): one table, keys by kind.

| pk | sk | what |
|---|---|---|
| ``images`` | image id | an image (JSON) |
| ``model#<len>:<vendor>#<model>`` | charge point id | the fleet by model: version at its last boot |
| ``campaigns`` | campaign id | a campaign (JSON) |
| ``active`` | campaign id | campaigns the periodic job advances |
| ``campaign#<id>`` | ``t#<charge point id>`` | a target (JSON, ``version`` for optimistic locking) |
| ``campaign#<id>`` | ``w#<wave>#<due or 0>#<cp>`` | the wave queue, ordered by when each is due |
| ``campaign#<id>`` | ``d#<deadline>#<cp>`` | silence deadlines of chargers in flight |
| ``campaign#<id>`` | ``fail#<wave>`` | failures per wave (atomic counter) |
| ``charger#<cp>`` | ``campaign`` / ``diagnostics`` | the charger's current campaign / request |
| ``diagnostics#<cp>`` | request id | a diagnostics request (JSON) |

Every read is a GetItem or a Query on one partition key: no scans. Costs per operation are in
docs/firmware.md and ``csms cost``.
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from datetime import datetime, time

from pynamodb.exceptions import DoesNotExist, PutError

from adapters.dynamo.models import FirmwareModel
from csms.firmware.model import Campaign, DiagnosticsRequest, FirmwareImage, Target, Window
from csms.timeutil import iso, parse_ts

IMAGES, CAMPAIGNS, ACTIVE = "images", "campaigns", "active"
HIGH = "\uffff"


def _campaign_pk(campaign_id: str) -> str:
    return f"campaign#{campaign_id}"


def _model_pk(vendor: str, model: str) -> str:
    return f"model#{len(vendor)}:{vendor}#{model}"


def _wave(wave: int) -> str:
    return f"w#{wave:03d}#"


def _encode(value):
    if is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return {"$t": iso(value)}
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value):
    if isinstance(value, dict) and set(value) == {"$t"}:
        return parse_ts(value["$t"])
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def _dump(obj) -> str:
    return json.dumps({f.name: _encode(getattr(obj, f.name)) for f in fields(obj)}, separators=(",", ":"))


def _load(cls, text: str, **extra):
    data = {k: _decode(v) for k, v in json.loads(text).items()}
    known = {f.name for f in fields(cls)}
    return cls(**{**{k: v for k, v in data.items() if k in known}, **extra})


def _campaign(text: str) -> Campaign:
    data = json.loads(text)
    window = data.pop("window", None)
    campaign = _load(Campaign, json.dumps(data))
    kw = {"image_ids": tuple(campaign.image_ids), "wave_sizes": tuple(campaign.wave_sizes)}
    if window:
        kw["window"] = Window.parse(window["start"], window["end"], window["timezone"])
    return campaign.with_(**kw)


def _failed_condition(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


class DynamoFirmware:
    """``csms.firmware.ports.FirmwareStore`` on the firmware table."""

    # ------------------------------------------------------------ images
    def put_image(self, image: FirmwareImage) -> None:
        FirmwareModel(IMAGES, image.image_id, data=_dump(image)).save()

    def get_image(self, image_id: str) -> FirmwareImage | None:
        try:
            return _load(FirmwareImage, FirmwareModel.get(IMAGES, image_id, consistent_read=True).data)
        except DoesNotExist:
            return None

    def images(self) -> list[FirmwareImage]:
        return [_load(FirmwareImage, i.data) for i in FirmwareModel.query(IMAGES)]

    # ------------------------------------------------------------- fleet
    def index_charger(self, vendor: str, model: str, charge_point_id: str, firmware_version: str | None,
                      at: datetime) -> None:
        FirmwareModel(_model_pk(vendor, model), charge_point_id,
                      data=json.dumps({"version": firmware_version, "at": iso(at)})).save()

    def chargers_of(self, vendor: str, model: str) -> list[tuple[str, str | None]]:
        return [(i.sk, json.loads(i.data).get("version")) for i in FirmwareModel.query(_model_pk(vendor, model))]

    # ---------------------------------------------------------- campaigns
    def create_campaign(self, campaign: Campaign, targets: list[Target]) -> None:
        pk = _campaign_pk(campaign.campaign_id)
        with FirmwareModel.batch_write() as batch:
            for target in targets:
                batch.save(FirmwareModel(pk, "t#" + target.charge_point_id, data=_dump(target), version=0))
                batch.save(FirmwareModel(pk, f"{_wave(target.wave)}0#{target.charge_point_id}"))
        FirmwareModel(CAMPAIGNS, campaign.campaign_id, data=_dump(campaign), version=0).save()
        self.set_active(campaign.campaign_id, True)

    def get_campaign(self, campaign_id: str) -> Campaign | None:
        try:
            item = FirmwareModel.get(CAMPAIGNS, campaign_id, consistent_read=True)
        except DoesNotExist:
            return None
        return _campaign(item.data).with_(version=int(item.version or 0))

    def campaigns(self) -> list[Campaign]:
        return [_campaign(i.data).with_(version=int(i.version or 0)) for i in FirmwareModel.query(CAMPAIGNS)]

    def save_campaign(self, campaign: Campaign) -> bool:
        return self._save_versioned(FirmwareModel(CAMPAIGNS, campaign.campaign_id, data=_dump(campaign),
                                                  version=campaign.version + 1), campaign.version)

    @staticmethod
    def _save_versioned(item: FirmwareModel, expected: int) -> bool:
        unchanged = FirmwareModel.version == expected
        if expected == 0:
            unchanged = unchanged | FirmwareModel.version.does_not_exist()
        try:
            item.save(condition=unchanged)
            return True
        except PutError as exc:
            if _failed_condition(exc):
                return False
            raise

    def count_failure(self, campaign_id: str, wave: int) -> int:
        item = FirmwareModel(_campaign_pk(campaign_id), f"fail#{wave:03d}")
        item.update(actions=[FirmwareModel.tally.add(1)])
        return int(item.tally)

    def reset_failures(self, campaign_id: str, wave: int) -> None:
        FirmwareModel(_campaign_pk(campaign_id), f"fail#{wave:03d}", tally=0).save()

    def active_campaigns(self) -> list[str]:
        return [i.sk for i in FirmwareModel.query(ACTIVE, consistent_read=True)]

    def set_active(self, campaign_id: str, active: bool) -> None:
        if active:
            FirmwareModel(ACTIVE, campaign_id).save()
        else:
            FirmwareModel(ACTIVE, campaign_id).delete()

    # ------------------------------------------------------------ targets
    def get_target(self, campaign_id: str, charge_point_id: str) -> Target | None:
        try:
            item = FirmwareModel.get(_campaign_pk(campaign_id), "t#" + charge_point_id, consistent_read=True)
        except DoesNotExist:
            return None
        return _load(Target, item.data, version=int(item.version or 0))

    def save_target(self, target: Target) -> bool:
        return self._save_versioned(FirmwareModel(_campaign_pk(target.campaign_id), "t#" + target.charge_point_id,
                                                  data=_dump(target), version=target.version + 1), target.version)

    def targets(self, campaign_id: str) -> list[Target]:
        return [_load(Target, i.data, version=int(i.version or 0))
                for i in FirmwareModel.query(_campaign_pk(campaign_id), FirmwareModel.sk.startswith("t#"),
                                             consistent_read=True)]

    # ---------------------------------------------------------- the queue
    @staticmethod
    def _queue_sk(wave: int, charge_point_id: str, due: datetime | None) -> str:
        return f"{_wave(wave)}{iso(due) if due is not None else '0'}#{charge_point_id}"

    def schedule(self, campaign_id: str, wave: int, charge_point_id: str, due: datetime | None) -> None:
        FirmwareModel(_campaign_pk(campaign_id), self._queue_sk(wave, charge_point_id, due)).save()

    def unschedule(self, campaign_id: str, wave: int, charge_point_id: str, due: datetime | None) -> None:
        FirmwareModel(_campaign_pk(campaign_id), self._queue_sk(wave, charge_point_id, due)).delete()

    def due(self, campaign_id: str, wave: int, now: datetime, limit: int) -> list[tuple[datetime | None, str]]:
        out = []
        condition = FirmwareModel.sk.between(_wave(wave), f"{_wave(wave)}{iso(now)}#{HIGH}")
        for item in FirmwareModel.query(_campaign_pk(campaign_id), condition, limit=limit, consistent_read=True):
            _, _, due, cp = item.sk.split("#", 3)
            out.append((None if due == "0" else parse_ts(due), cp))
        return out

    def waiting(self, campaign_id: str, wave: int) -> bool:
        for _ in FirmwareModel.query(_campaign_pk(campaign_id), FirmwareModel.sk.startswith(_wave(wave)), limit=1,
                                     consistent_read=True):
            return True
        return False

    # ---------------------------------------------------------- deadlines
    def arm(self, campaign_id: str, charge_point_id: str, deadline: datetime) -> None:
        FirmwareModel(_campaign_pk(campaign_id), f"d#{iso(deadline)}#{charge_point_id}").save()

    def disarm(self, campaign_id: str, charge_point_id: str, deadline: datetime) -> None:
        FirmwareModel(_campaign_pk(campaign_id), f"d#{iso(deadline)}#{charge_point_id}").delete()

    def expired(self, campaign_id: str, now: datetime) -> list[tuple[datetime, str]]:
        condition = FirmwareModel.sk.between("d#", f"d#{iso(now)}#{HIGH}")
        out = []
        for item in FirmwareModel.query(_campaign_pk(campaign_id), condition, consistent_read=True):
            _, at, cp = item.sk.split("#", 2)
            out.append((parse_ts(at), cp))
        return out

    def in_flight(self, campaign_id: str) -> int:
        return FirmwareModel.count(_campaign_pk(campaign_id), FirmwareModel.sk.startswith("d#"), consistent_read=True)

    # ----------------------------------------------------------- pointers
    def set_current(self, charge_point_id: str, kind: str, value: str) -> None:
        FirmwareModel(f"charger#{charge_point_id}", kind, data=value).save()

    def current(self, charge_point_id: str, kind: str) -> str | None:
        try:
            return FirmwareModel.get(f"charger#{charge_point_id}", kind, consistent_read=True).data
        except DoesNotExist:
            return None

    # -------------------------------------------------------- diagnostics
    def put_diagnostics(self, request: DiagnosticsRequest) -> None:
        FirmwareModel(f"diagnostics#{request.charge_point_id}", request.request_id, data=_dump(request)).save()

    def get_diagnostics(self, charge_point_id: str, request_id: str) -> DiagnosticsRequest | None:
        try:
            return _load(DiagnosticsRequest, FirmwareModel.get(f"diagnostics#{charge_point_id}", request_id,
                                                               consistent_read=True).data)
        except DoesNotExist:
            return None

    def diagnostics(self, charge_point_id: str) -> list[DiagnosticsRequest]:
        return [_load(DiagnosticsRequest, i.data) for i in FirmwareModel.query(f"diagnostics#{charge_point_id}")]
