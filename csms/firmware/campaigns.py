"""Firmware images and staged campaigns: upload, waves, maintenance window, halt, tracking, retry.

How a campaign advances (docs/firmware.md):
- ``advance(campaign_id)`` runs on the periodic job (the sweeper in AWS, a timer locally) for each
  *active* campaign, and at once after a charger of that campaign finishes (FirmwareStatusNotification
  failure, or the BootNotification that proves the new version). Its cost is the work due: one
  query of the chargers whose silence deadline passed, one count of the chargers in flight (at
  most ``max_in_flight``), one query of the wave's due chargers limited to the free slots.
- A charger is sent UpdateFirmware (SignedUpdateFirmware when the image is signed and the charger is
  on security profile 3: ``csms.firmware.signing``) with a freshly pre-signed URL (``url_ttl_s``) only
  inside the maintenance window, only while online, and never while a transaction is active unless the
  campaign is forced; otherwise it is re-queued a few minutes later.
- The next wave starts when every charger of the current one has finished. When a wave's failures
  exceed ``failure_threshold_percent`` of the wave, the campaign halts: nothing more is sent until
  an operator retries the failed chargers (each gets a new URL).
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable

from csms.firmware import model as m
from csms.firmware.model import Campaign, FirmwareImage, Target, UploadTarget, Window
from csms.firmware.ports import FileStore, FirmwareSigner, FirmwareStore, Fleet, Sender, Transactions
from csms.operations import Conflict, Invalid, NotFound
from csms.timeutil import iso, utcnow

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 256 * 1024 * 1024  # charger images are tens of MB; Linux-based ones up to ~200 MB
UPLOAD_URL_TTL_S = 3600
DEFAULT_URL_TTL_S = 3600  # "short-lived": a charger downloads right after UpdateFirmware (retrieveDate = now)
MAX_URL_TTL_S = 6 * 3600  # the stack's bucket policy refuses older signatures (infra/storage.py)
DEFAULT_SILENCE_S = 2 * 3600  # a download and install that reports nothing for two hours has failed
BUSY_RETRY = timedelta(minutes=5)  # a charger in a transaction or offline is asked again this much later
MAX_WAVES = 10
UPDATE_RETRIES, UPDATE_RETRY_INTERVAL_S = 2, 120  # UpdateFirmware retries/retryInterval (the URL's life bounds them)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
TEXT = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,49}$")  # OCPP CiString50 (vendor, model, version), printable


class TooLarge(Invalid):
    """An image over the size limit (HTTP 413)."""


class Unavailable(Exception):
    """No file store is configured (HTTP 503)."""


def _check_text(name: str, value: str) -> str:
    if not isinstance(value, str) or not TEXT.match(value):
        raise Invalid(f"{name} must be 1-50 printable characters")
    return value


def wave_sizes(total: int, percents: list[float]) -> tuple[int, ...]:
    """Charger counts per wave: wave i gets ceil(percents[i] % of ``total``) (at least 1), the last
    wave the rest; waves that would be empty are dropped. E.g. 200 chargers, [1, 10, 100] -> (2, 20, 178)."""
    sizes, left = [], total
    for i, p in enumerate(percents):
        if left <= 0:
            break
        n = left if i == len(percents) - 1 else min(left, max(1, math.ceil(total * p / 100)))
        sizes.append(n)
        left -= n
    return tuple(sizes)


class Firmware:
    """Images and campaigns. Seams: ``store`` (FirmwareStore), ``files`` (FileStore or None when
    nothing can hold files), ``sender`` (UpdateFirmware / GetDiagnostics), ``fleet`` (charger
    views), ``transactions`` (active sessions), ``clock`` (UTC now; tests pass their own), ``signer``
    (the firmware-signing key, ``csms.firmware.signing``; None: images the operator did not sign are
    sent with UpdateFirmware)."""

    def __init__(self, *, store: FirmwareStore, files: FileStore | None, sender: Sender, fleet: Fleet,
                 transactions: Transactions, clock: Callable[[], datetime] = utcnow,
                 max_image_bytes: int = MAX_IMAGE_BYTES, signer: FirmwareSigner | None = None):
        self.store, self.files, self.sender, self.fleet = store, files, sender, fleet
        self.transactions, self.clock, self.max_image_bytes = transactions, clock, max_image_bytes
        self.signer = signer

    def _files(self) -> FileStore:
        if self.files is None:
            raise Unavailable("no firmware store is configured (FIRMWARE_BUCKET in AWS; locally: start `csms local`)")
        return self.files

    # ------------------------------------------------------------------ images
    def add_image(self, vendor: str, model: str, version: str, size_bytes: int, sha256: str,
                  signature: str | None = None, signing_certificate: str | None = None) -> tuple[FirmwareImage, UploadTarget]:
        """Register an image and return it with where to upload it (an UploadTarget).

        Raises TooLarge over ``max_image_bytes``; Invalid for a bad checksum or text, or a model no
        charger of the fleet has booted as ("unknown model")."""
        _check_text("vendor", vendor), _check_text("model", model), _check_text("version", version)
        sha256 = (sha256 or "").lower()
        if not SHA256.match(sha256):
            raise Invalid("sha256 must be the image's SHA-256 as 64 hex characters")
        if size_bytes <= 0:
            raise Invalid("size_bytes must be > 0")
        if size_bytes > self.max_image_bytes:
            raise TooLarge(f"the image is {size_bytes:,} bytes; the limit is {self.max_image_bytes:,} bytes")
        if signature is not None and (signing_certificate is None or "BEGIN CERTIFICATE" not in signing_certificate):
            raise Invalid("a signature needs its signing certificate (PEM)")
        if not self.store.chargers_of(vendor, model):
            raise Invalid(f"unknown model: no charger has booted as vendor {vendor!r} model {model!r}")
        image_id = uuid.uuid4().hex[:12]
        key = f"{vendor}/{model}/{version}/{image_id}.bin".replace(" ", "_")
        image = FirmwareImage(image_id, vendor, model, version, size_bytes, sha256, key, self.clock(),
                              signature=signature, signing_certificate=signing_certificate)
        upload = self._files().image_upload(key, size_bytes, sha256, UPLOAD_URL_TTL_S)
        self.store.put_image(image)
        return image, upload

    def complete_image(self, image_id: str) -> FirmwareImage:
        """Mark an image ready once the stored object has the declared size and SHA-256, and sign
        that verified digest with the platform's firmware-signing key (when one is configured and the
        operator gave no signature): campaigns then send it with SignedUpdateFirmware.
        Raises NotFound, or Conflict when it is missing or differs."""
        image = self.get_image(image_id)
        if image.status == m.READY:
            return image
        stored = self._files().image_info(image.key)
        if stored is None:
            raise Conflict(f"image {image_id} has not been uploaded yet")
        if stored.size_bytes != image.size_bytes or (stored.sha256 or "") != image.sha256:
            raise Conflict(f"image {image_id}: the upload is {stored.size_bytes} bytes with SHA-256 "
                           f"{stored.sha256 or 'unknown'}; expected {image.size_bytes} bytes, {image.sha256}")
        ready = replace(image, status=m.READY)
        if ready.signature is None and self.signer is not None:
            signature, certificate = self.signer.sign(bytes.fromhex(image.sha256))
            ready = replace(ready, signature=signature, signing_certificate=certificate)
        self.store.put_image(ready)
        return ready

    def get_image(self, image_id: str) -> FirmwareImage:
        image = self.store.get_image(image_id)
        if image is None:
            raise NotFound(f"no firmware image {image_id}")
        return image

    # --------------------------------------------------------------- campaigns
    def create_campaign(self, name: str, image_ids: list[str], *, chargers: list[str] | None = None,
                        from_versions: list[str] | None = None, waves_percent: list[float] | None = None,
                        max_in_flight: int = 50, failure_threshold_percent: float = 10.0,
                        silence_timeout_s: int = DEFAULT_SILENCE_S, url_ttl_s: int = DEFAULT_URL_TTL_S,
                        window: Window | None = None, force: bool = False) -> Campaign:
        """Target every charger of the images' models (one ready image per vendor/model), narrowed to
        ``chargers`` and/or chargers now on one of ``from_versions``; chargers already on the target
        version are left out. Targets are ordered by charge point id and split into waves. Sends the
        first wave's chargers at once when the window is open.

        Raises NotFound (image), Invalid (no targets, unknown model of a listed charger, bad waves,
        limits)."""
        if not image_ids:
            raise Invalid("a campaign needs at least one image")
        waves_percent = list(waves_percent or [1, 10, 100])
        if not 1 <= len(waves_percent) <= MAX_WAVES or any(not 0 < p <= 100 for p in waves_percent):
            raise Invalid(f"waves are 1-{MAX_WAVES} percentages in (0, 100]; the last wave is the rest")
        if max_in_flight < 1 or not 0 <= failure_threshold_percent <= 100:
            raise Invalid("max_in_flight must be >= 1 and failure_threshold_percent in [0, 100]")
        if not 1 <= silence_timeout_s <= 7 * 24 * 3600 or not 1 <= url_ttl_s <= MAX_URL_TTL_S:
            raise Invalid(f"silence_timeout_s must be in [1, 604800] and url_ttl_s in [1, {MAX_URL_TTL_S}]")
        images: dict[tuple[str, str], FirmwareImage] = {}
        for image_id in dict.fromkeys(image_ids):
            image = self.get_image(image_id)
            if image.status != m.READY:
                raise Invalid(f"image {image_id} is not ready (upload it, then complete it)")
            if (image.vendor, image.model) in images:
                raise Invalid(f"two images for {image.vendor} {image.model}: one image per model")
            images[(image.vendor, image.model)] = image
        found: dict[str, tuple[FirmwareImage, str | None]] = {}
        if chargers:
            for cp in dict.fromkeys(chargers):
                view = self.fleet.get(cp)
                if view is None:
                    raise NotFound(f"no charger {cp}")
                if view.boot is None:
                    raise Invalid(f"unknown model: charger {cp} has not booted yet")
                matched = images.get((view.boot.vendor, view.boot.model))
                if matched is None:
                    raise Invalid(f"unknown model: charger {cp} is a {view.boot.vendor} {view.boot.model}; "
                                  f"this campaign has images for " + ", ".join(f"{v} {mo}" for v, mo in images))
                found[cp] = (matched, view.boot.firmware_version)
        else:
            for (vendor, model_name), image in images.items():
                for cp, version in self.store.chargers_of(vendor, model_name):
                    found[cp] = (image, version)
        if from_versions:
            found = {cp: v for cp, v in found.items() if v[1] in from_versions}
        found = {cp: v for cp, v in found.items() if v[1] != v[0].version}
        if not found:
            raise Invalid("the campaign has no targets: no charger of these models"
                          + (" on those versions" if from_versions else "") + " needs this firmware")
        ordered = sorted(found)
        sizes = wave_sizes(len(ordered), waves_percent)
        now = self.clock()
        campaign = Campaign(uuid.uuid4().hex[:12], name.strip()[:100] or "campaign", tuple(i.image_id for i in images.values()),
                            sizes, max_in_flight, float(failure_threshold_percent), int(silence_timeout_s),
                            int(url_ttl_s), now, window=window, force=force)
        targets, start = [], 0
        for wave, size in enumerate(sizes, start=1):
            for cp in ordered[start:start + size]:
                image, version = found[cp]
                targets.append(Target(campaign.campaign_id, cp, wave, image.image_id, image.version, from_version=version,
                                      history=(f"{iso(now)} {m.SCHEDULED}",)))
            start += size
        self.store.create_campaign(campaign, targets)
        self.advance(campaign.campaign_id)
        return self.get_campaign(campaign.campaign_id)

    def get_campaign(self, campaign_id: str) -> Campaign:
        campaign = self.store.get_campaign(campaign_id)
        if campaign is None:
            raise NotFound(f"no campaign {campaign_id}")
        return campaign

    def progress(self, campaign_id: str) -> tuple[Campaign, list[Target], dict[str, int]]:
        """The campaign, its targets and the count of chargers per state (one query on its key)."""
        campaign = self.get_campaign(campaign_id)
        targets = self.store.targets(campaign_id)
        counts = Counter(t.state for t in targets)
        return campaign, targets, {s: counts.get(s, 0) for s in m.STATES}

    def retry(self, campaign_id: str) -> int:
        """Queue every failed charger again (in the current wave, or the last one when the
        campaign had finished) and resume a halted campaign. Each gets a new pre-signed URL when
        it is sent. Returns how many; raises Invalid when none failed."""
        campaign = self.get_campaign(campaign_id)
        if campaign.status == m.CANCELLED:
            raise Invalid("the campaign was cancelled")
        wave = min(campaign.wave, len(campaign.wave_sizes))
        failed = [t for t in self.store.targets(campaign_id) if t.state in m.FAILED]
        if not failed:
            raise Invalid("no failed chargers to retry")
        now = self.clock()
        for t in failed:
            self.store.save_target(t.moved(m.SCHEDULED, now, wave=wave, detail=f"retry after {t.state}",
                                           deadline=None))
            self.store.schedule(campaign_id, wave, t.charge_point_id, None)
        self.store.reset_failures(campaign_id, wave)
        for _ in range(5):  # the periodic job may have written it meanwhile (e.g. completed): again
            current = self.get_campaign(campaign_id)
            if self.store.save_campaign(current.with_(status=m.RUNNING, wave=wave, halted_reason=None)):
                break
        else:
            raise Conflict("the campaign changed meanwhile; retry again")
        self.store.set_active(campaign_id, True)
        self.advance(campaign_id)
        return len(failed)

    def cancel(self, campaign_id: str) -> Campaign:
        """Send nothing more; chargers already updating finish and are still tracked."""
        campaign = self.get_campaign(campaign_id)
        cancelled = campaign.with_(status=m.CANCELLED)
        if not self.store.save_campaign(cancelled):
            raise Conflict("the campaign changed meanwhile; cancel again")
        return cancelled

    # ------------------------------------------------------------ advancing
    def advance_all(self) -> int:
        """The periodic job: advance every active campaign. Returns UpdateFirmware calls sent."""
        sent = 0
        for campaign_id in self.store.active_campaigns():
            try:
                sent += self.advance(campaign_id)
            except Exception:  # one campaign's failure must not stop the others
                log.exception("advancing campaign %s failed", campaign_id)
        return sent

    def advance(self, campaign_id: str) -> int:
        """Time out silent chargers, then fill the free slots from the current wave's due chargers,
        moving to the next wave when this one is finished. Returns calls sent."""
        now = self.clock()
        campaign = self.store.get_campaign(campaign_id)
        if campaign is None:
            return 0
        for deadline, cp in self.store.expired(campaign_id, now):
            self._check_silence(campaign, cp, deadline, now)
        campaign = self.get_campaign(campaign_id)
        in_flight = self.store.in_flight(campaign_id)
        if campaign.status != m.RUNNING:
            if in_flight == 0:  # halted or cancelled, nothing left to watch: off the periodic job (retry: back on)
                self.store.set_active(campaign_id, False)
            return 0
        if campaign.window is not None and not campaign.window.is_open(now):
            return 0
        sent, wave = 0, campaign.wave
        while wave <= len(campaign.wave_sizes):
            slots = campaign.max_in_flight - in_flight
            if slots > 0:
                for due, cp in self.store.due(campaign_id, wave, now, slots):
                    if self._send(campaign, wave, cp, due, now):
                        sent += 1
                        in_flight += 1
                campaign = self.get_campaign(campaign_id)
                if campaign.status != m.RUNNING:
                    return sent
            if in_flight > 0 or self.store.waiting(campaign_id, wave):
                break
            in_flight = self.store.in_flight(campaign_id)  # again: another invocation may have sent meanwhile
            if in_flight > 0:
                break
            wave += 1
            # Conditional on the campaign as read: a halt, retry or cancel written meanwhile wins
            if not self.store.save_campaign(campaign.with_(wave=wave)):
                return sent
            campaign = self.get_campaign(campaign_id)
        if wave > len(campaign.wave_sizes) and in_flight == 0:
            if self.store.save_campaign(campaign.with_(status=m.COMPLETED, wave=len(campaign.wave_sizes))):
                self.store.set_active(campaign_id, False)
        return sent

    def _send(self, campaign: Campaign, wave: int, cp: str, due: datetime | None, now: datetime) -> bool:
        target = self.store.get_target(campaign.campaign_id, cp)
        if target is None or target.state != m.SCHEDULED:
            self.store.unschedule(campaign.campaign_id, wave, cp, due)
            return False
        view = self.fleet.get(cp)
        image = self.store.get_image(target.image_id)
        if view is None or image is None or view.boot is None or (view.boot.vendor, view.boot.model) != (image.vendor, image.model):
            self._finish(campaign, target.moved(m.SKIPPED, now, detail="deleted, or no longer this image's model"), now)
            self.store.unschedule(campaign.campaign_id, wave, cp, due)
            return False
        if view.boot.firmware_version == target.target_version:
            self._finish(campaign, target.moved(m.VERIFIED, now, detail="already on the target version"), now)
            self.store.unschedule(campaign.campaign_id, wave, cp, due)
            return False
        wait = None
        if not view.online:
            wait = "offline"
        elif not campaign.force and self.transactions.active(cp):
            wait = "transaction active"
        if wait is not None:
            self.store.unschedule(campaign.campaign_id, wave, cp, due)
            self.store.schedule(campaign.campaign_id, wave, cp, now + BUSY_RETRY)
            if target.detail != wait:
                self.store.save_target(replace(target, detail=wait))
            return False
        url = self._files().firmware_url(image.key, campaign.url_ttl_s)
        deadline = now + timedelta(seconds=campaign.silence_timeout_s)
        sent = target.moved(m.SENT, now, sent_at=now, heard_at=None, deadline=deadline, attempts=target.attempts + 1,
                            url_expires_at=now + timedelta(seconds=campaign.url_ttl_s), detail=None)
        # Armed first: from here the charger counts as in flight, so a concurrent advance cannot
        # take its wave for finished while the send is under way.
        self.store.arm(campaign.campaign_id, cp, deadline)
        if not self.store.save_target(sent):
            self.store.disarm(campaign.campaign_id, cp, deadline)
            return False  # another invocation got there first
        self.store.set_current(cp, "campaign", campaign.campaign_id)
        # Signed (OCPP 1.6 Security Whitepaper ed. 2, 5.4) to a charger on security profile 3: one that
        # implements the whitepaper; a plain 1.6 charger knows only UpdateFirmware
        if image.signature and image.signing_certificate and view.security_profile >= 3:
            self.sender.signed_update_firmware(cp, url, now, image.signing_certificate, image.signature,
                                               retries=UPDATE_RETRIES, retry_interval_s=UPDATE_RETRY_INTERVAL_S,
                                               campaign=campaign.campaign_id)
        else:
            self.sender.update_firmware(cp, url, now, retries=UPDATE_RETRIES, retry_interval_s=UPDATE_RETRY_INTERVAL_S,
                                        campaign=campaign.campaign_id)
        self.store.unschedule(campaign.campaign_id, wave, cp, due)
        return True

    def _check_silence(self, campaign: Campaign, cp: str, deadline: datetime, now: datetime) -> None:
        target = self.store.get_target(campaign.campaign_id, cp)
        if target is None or target.state not in m.IN_FLIGHT or target.deadline != deadline:
            self.store.disarm(campaign.campaign_id, cp, deadline)
            return
        heard = target.heard_at or target.sent_at or now
        again = heard + timedelta(seconds=campaign.silence_timeout_s)
        if again > now:  # it spoke since: wait a full silence timeout from then
            if self.store.save_target(replace(target, deadline=again)):
                self.store.arm(campaign.campaign_id, cp, again)
                self.store.disarm(campaign.campaign_id, cp, deadline)
            return
        self._finish(campaign, target.moved(m.TIMED_OUT, now, detail=f"silent since {iso(heard)} (last: {target.state})"), now)

    def _finish(self, campaign: Campaign, target: Target, now: datetime) -> bool:
        """Store a final state, free the slot, count a failure and halt the campaign past its threshold."""
        previous_deadline = target.deadline
        if not self.store.save_target(replace(target, deadline=None)):
            return False
        if target.state in m.FAILED:
            # Decided before the slot is freed: until then the charger counts as in flight, so no
            # concurrent advance can start the next wave ahead of the halt.
            failures = self.store.count_failure(campaign.campaign_id, target.wave)
            size = campaign.wave_sizes[min(target.wave, len(campaign.wave_sizes)) - 1]
            if failures * 100 > campaign.failure_threshold_percent * size:
                reason = (f"wave {target.wave}: {failures} of {size} chargers failed "
                          f"(threshold {campaign.failure_threshold_percent:g} %)")
                for _ in range(5):
                    current = self.get_campaign(campaign.campaign_id)
                    if current.status != m.RUNNING:
                        break
                    if self.store.save_campaign(current.with_(status=m.HALTED, halted_reason=reason)):
                        log.warning("campaign %s halted: %s", campaign.campaign_id, reason)
                        break
        if previous_deadline is not None:
            self.store.disarm(campaign.campaign_id, target.charge_point_id, previous_deadline)
        return True

    # ------------------------------------------------------ charger messages
    def on_firmware_status(self, charge_point_id: str, status: str, at: datetime) -> None:
        """A FirmwareStatusNotification (after it was stored on the charger): move the charger's
        target; a failure frees its slot and advances the campaign at once. Costs one read when
        the charger is in no campaign."""
        campaign_id = self.store.current(charge_point_id, "campaign")
        if campaign_id is None:
            return
        for _ in range(3):  # optimistic locking: re-read when the sweeper changed it meanwhile
            target = self.store.get_target(campaign_id, charge_point_id)
            if target is None or target.state not in m.IN_FLIGHT:
                return
            state = m.REPORTED.get(status)
            if state is None:  # Idle: alive, nothing new
                if self.store.save_target(replace(target, heard_at=at)):
                    return
                continue
            moved = target.moved(state, at, heard_at=at)
            if state in m.FAILED:
                if self._finish(self.get_campaign(campaign_id), moved, at):
                    self.advance(campaign_id)
                    return
            elif self.store.save_target(moved):
                return

    def on_boot(self, charge_point_id: str, vendor: str, model: str, firmware_version: str | None,
                at: datetime) -> None:
        """A BootNotification: index the charger by model (one write) and, when it is updating in a
        campaign (one read), take the proof: firmwareVersion equal to the target is Verified; a
        different version after Installed is VersionMismatch; otherwise it rebooted mid-update."""
        self.store.index_charger(vendor, model, charge_point_id, firmware_version, at)
        campaign_id = self.store.current(charge_point_id, "campaign")
        if campaign_id is None:
            return
        for _ in range(3):
            target = self.store.get_target(campaign_id, charge_point_id)
            if target is None or target.state not in m.IN_FLIGHT:
                return
            if firmware_version == target.target_version:
                done = target.moved(m.VERIFIED, at, heard_at=at, detail=f"booted with {firmware_version}")
            elif target.state == m.INSTALLED:
                done = target.moved(m.VERSION_MISMATCH, at, heard_at=at,
                                    detail=f"booted with {firmware_version}, expected {target.target_version}")
            else:
                if self.store.save_target(replace(target, heard_at=at)):
                    return
                continue
            if self._finish(self.get_campaign(campaign_id), done, at):
                self.advance(campaign_id)
                return
