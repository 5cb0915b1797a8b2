"""Firmware management as operators see it: the operations behind the HTTP API's ``/v1/firmware``
and ``/v1/chargers/{id}/diagnostics`` routes, the CLI and the web page. Operators only."""

from __future__ import annotations

from datetime import datetime

from csms.firmware import model as m
from csms.firmware.campaigns import Firmware
from csms.firmware.diagnostics import Diagnostics
from csms.firmware.model import Campaign, DiagnosticsRequest, FirmwareImage, Target, Window
from csms.operations import Forbidden, Invalid, Principal
from csms.timeutil import iso


def _ts(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def image_json(image: FirmwareImage) -> dict:
    return {"id": image.image_id, "vendor": image.vendor, "model": image.model, "version": image.version,
            "size_bytes": image.size_bytes, "sha256": image.sha256, "status": image.status,
            "created_at": _ts(image.created_at), "signed": image.signature is not None}


def summary(counts: dict[str, int]) -> dict:
    """Counts per state plus the totals an operator reads first (``installed`` = Verified: the new
    boot reported the target version)."""
    total = sum(counts.values())
    done = sum(counts[s] for s in m.DONE)
    return {"total": total, "installed": counts[m.VERIFIED],
            "failed": sum(counts[s] for s in m.FAILED if s != m.TIMED_OUT), "timed_out": counts[m.TIMED_OUT],
            "in_flight": sum(counts[s] for s in m.IN_FLIGHT), "scheduled": counts[m.SCHEDULED],
            "skipped": counts[m.SKIPPED], "done_percent": round(100 * done / total, 1) if total else 100.0,
            "by_state": {k: v for k, v in counts.items() if v}}


def target_json(t: Target) -> dict:
    return {"id": t.charge_point_id, "wave": t.wave, "state": t.state, "target_version": t.target_version,
            "from_version": t.from_version, "attempts": t.attempts, "sent_at": _ts(t.sent_at),
            "heard_at": _ts(t.heard_at), "url_expires_at": _ts(t.url_expires_at), "detail": t.detail,
            "history": list(t.history)}


def campaign_json(c: Campaign, counts: dict[str, int], targets: list[Target] | None = None) -> dict:
    out = {"id": c.campaign_id, "name": c.name, "status": c.status, "images": list(c.image_ids), "wave": c.wave,
           "wave_sizes": list(c.wave_sizes), "max_in_flight": c.max_in_flight,
           "failure_threshold_percent": c.failure_threshold_percent, "silence_timeout_s": c.silence_timeout_s,
           "url_ttl_s": c.url_ttl_s, "force": c.force, "created_at": _ts(c.created_at),
           "halted_reason": c.halted_reason,
           "window": ({"start": c.window.start.strftime("%H:%M"), "end": c.window.end.strftime("%H:%M"),
                       "timezone": c.window.timezone} if c.window else None),
           "progress": summary(counts)}
    if targets is not None:
        out["chargers"] = [target_json(t) for t in sorted(targets, key=lambda t: (t.wave, t.charge_point_id))]
    return out


def diagnostics_json(request: DiagnosticsRequest, link: str | None) -> dict:
    return {"id": request.request_id, "charger": request.charge_point_id, "status": request.status,
            "requested_at": _ts(request.requested_at), "status_at": _ts(request.status_at),
            "file_name": request.file_name, "size_bytes": request.size_bytes, "command_id": request.command_id,
            "download_url": link}


class FirmwareOperations:
    def __init__(self, firmware: Firmware, diagnostics: Diagnostics):
        self.firmware, self.diagnostics = firmware, diagnostics

    @staticmethod
    def _operator(who: Principal) -> None:
        if not who.operator:
            raise Forbidden("only operators manage firmware and diagnostics")

    # ------------------------------------------------------------ images
    def add_image(self, who: Principal, vendor: str, model: str, version: str, size_bytes: int, sha256: str,
                  signature: str | None = None, signing_certificate: str | None = None) -> dict:
        self._operator(who)
        image, upload = self.firmware.add_image(vendor, model, version, size_bytes, sha256, signature, signing_certificate)
        return {**image_json(image), "upload": {"url": upload.url, "method": upload.method, "headers": upload.headers,
                                                "expires_at": _ts(upload.expires_at)}}

    def complete_image(self, who: Principal, image_id: str) -> dict:
        self._operator(who)
        return image_json(self.firmware.complete_image(image_id))

    def list_images(self, who: Principal) -> list[dict]:
        self._operator(who)
        return [image_json(i) for i in sorted(self.firmware.store.images(), key=lambda i: i.created_at)]

    # --------------------------------------------------------- campaigns
    def create_campaign(self, who: Principal, name: str, image_ids: list[str], *, chargers: list[str] | None,
                        from_versions: list[str] | None, waves_percent: list[float] | None, max_in_flight: int,
                        failure_threshold_percent: float, silence_timeout_s: int, url_ttl_s: int,
                        window: dict | None, force: bool) -> dict:
        self._operator(who)
        parsed = None
        if window:
            try:
                parsed = Window.parse(window["start"], window["end"], window.get("timezone") or "UTC")
            except (KeyError, ValueError) as exc:
                raise Invalid(f"window: {exc}") from exc
        c = self.firmware.create_campaign(name, image_ids, chargers=chargers, from_versions=from_versions,
                                          waves_percent=waves_percent, max_in_flight=max_in_flight,
                                          failure_threshold_percent=failure_threshold_percent,
                                          silence_timeout_s=silence_timeout_s, url_ttl_s=url_ttl_s, window=parsed,
                                          force=force)
        return self.get_campaign(who, c.campaign_id)

    def get_campaign(self, who: Principal, campaign_id: str) -> dict:
        self._operator(who)
        campaign, targets, counts = self.firmware.progress(campaign_id)
        return campaign_json(campaign, counts, targets)

    def list_campaigns(self, who: Principal) -> list[dict]:
        self._operator(who)
        out = []
        for c in sorted(self.firmware.store.campaigns(), key=lambda c: c.created_at, reverse=True):
            _, _, counts = self.firmware.progress(c.campaign_id)
            out.append(campaign_json(c, counts))
        return out

    def retry(self, who: Principal, campaign_id: str) -> dict:
        self._operator(who)
        retried = self.firmware.retry(campaign_id)
        return {"retried": retried, "campaign": self.get_campaign(who, campaign_id)}

    def cancel(self, who: Principal, campaign_id: str) -> dict:
        self._operator(who)
        self.firmware.cancel(campaign_id)
        return self.get_campaign(who, campaign_id)

    # ------------------------------------------------------- diagnostics
    def request_diagnostics(self, who: Principal, charge_point_id: str, start: datetime | None,
                            stop: datetime | None) -> dict:
        self._operator(who)
        return diagnostics_json(self.diagnostics.request(charge_point_id, start, stop), None)

    def list_diagnostics(self, who: Principal, charge_point_id: str) -> list[dict]:
        self._operator(who)
        return [diagnostics_json(r, link) for r, link in self.diagnostics.list(charge_point_id)]
