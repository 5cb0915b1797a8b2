"""Firmware management through the real handlers against moto: images (unknown model, too large,
checksum), campaign waves, the halt threshold, silence timeouts, the proof by BootNotification,
transactions and the maintenance window, retries with new URLs, and diagnostics. Time is an
injected clock; files are the local platform's signed links (adapters.local_files)."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.local_files import LocalFiles, handle
from csms.firmware import model as m
from handlers import api
from tests import events
from tests.integration.conftest import ChargerClient

OPERATOR = {"sub": "op-1", "cognito:groups": "[operators]"}
IMAGE = b"\x7fELF firmware 2.0 " * 100


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self):
        return self.now


def call(method, path, body=None, who=OPERATOR):
    response = api.lambda_handler(events.http_event(method, path, body=body, claims=who), None)
    return response["statusCode"], json.loads(response.get("body") or "null")


@pytest.fixture
def fw(platform, poster, tmp_path):
    """The platform with local files, an injected clock and a poster that keeps what is sent."""
    clock = Clock()
    SEEN.clear()
    files = LocalFiles(tmp_path / "files", "https://127.0.0.1:9", clock=lambda: clock().timestamp())
    platform.firmware.files = platform.diagnostics.files = files
    # one clock for the campaign logic, the charger messages' received times and the call queue
    platform.firmware.clock = platform.diagnostics.clock = platform.central.clock = platform.commander.clock = clock
    return _Fw(platform, tmp_path, clock)


class _Fw:
    """The runtime, plus the test's files directory and clock."""

    def __init__(self, rt, tmp, clock):
        self.rt, self.tmp, self.clock = rt, tmp, clock

    def __getattr__(self, name):
        return getattr(self.rt, name)


def boot(rt, cp, model="W22", version="1.0", vendor="Acme") -> ChargerClient:
    client = ChargerClient(rt.rt, cp).register()
    client.handshake()
    client.result("BootNotification", {"chargePointVendor": vendor, "chargePointModel": model, "firmwareVersion": version})
    return client


def upload(rt, model="W22", version="2.0", data=IMAGE) -> str:
    status, created = call("POST", "/v1/firmware/images", {"vendor": "Acme", "model": model, "version": version,
                                                           "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    assert status == 201, created
    up = urlsplit(created["upload"]["url"])
    stored = handle(rt.tmp / "files", "PUT", up.path, up.query, len(data), io.BytesIO(data).read)
    assert stored.status == 201, stored
    status, ready = call("POST", f"/v1/firmware/images/{created['id']}/complete")
    assert status == 200 and ready["status"] == "ready", ready
    return created["id"]


ANSWERS = {"GetConfiguration": {}, "UpdateFirmware": {}, "GetDiagnostics": {"fileName": "cp1-logs.zip"}}
SEEN: list[tuple[str, str, dict]] = []


def drain(rt, clients) -> None:
    """Each charger answers every call the platform holds for it, in turn (as a charger does)."""
    for client in clients:
        for _ in range(20):
            held = rt.calls.outstanding(client.id)
            if held is None:
                break
            SEEN.append((client.id, held.call.action, held.call.payload))
            client.send(json.dumps([3, held.call.unique_id, ANSWERS.get(held.call.action, {"status": "Accepted"})]))


def update_firmware_calls(rt, clients) -> dict[str, list]:
    """UpdateFirmware payloads each charger received (after answering what it holds)."""
    drain(rt, clients)
    out: dict[str, list] = {}
    for cp, action, payload in SEEN:
        if action == "UpdateFirmware":
            out.setdefault(cp, []).append(payload)
    return out


def progress(campaign_id):
    status, body = call("GET", f"/v1/firmware/campaigns/{campaign_id}")
    assert status == 200, body
    return body


def test_image_errors_unknown_model_too_large_bad_checksum(fw):
    boot(fw, "CP1")
    good = {"vendor": "Acme", "model": "W22", "version": "2.0", "size_bytes": 10, "sha256": "ab" * 32}
    status, body = call("POST", "/v1/firmware/images", {**good, "model": "Nope"})
    assert status == 400 and "unknown model" in body["message"]
    status, body = call("POST", "/v1/firmware/images", {**good, "size_bytes": 10**12})
    assert status == 413 and "limit" in body["message"]
    status, created = call("POST", "/v1/firmware/images", good)
    assert status == 201
    up = urlsplit(created["upload"]["url"])
    wrong = b"0123456789"  # right length, wrong SHA-256: refused, nothing stored
    refused = handle(fw.tmp / "files", "PUT", up.path, up.query, len(wrong), io.BytesIO(wrong).read)
    assert refused.status == 400 and "SHA-256" in refused.message
    status, body = call("POST", f"/v1/firmware/images/{created['id']}/complete")
    assert status == 409 and "not been uploaded" in body["message"]
    status, body = call("GET", "/v1/firmware/images", who={"sub": "alice"})
    assert status == 403


def test_waves_proof_by_boot_and_failures(fw):
    clients = [boot(fw, f"CP{i}") for i in range(1, 4)]
    image = upload(fw)
    status, c = call("POST", "/v1/firmware/campaigns", {"name": "w22 2.0", "images": [image], "waves_percent": [1, 100],
                                                        "silence_timeout_s": 600,
                                                        "failure_threshold_percent": 100})
    assert status == 201, c
    assert c["wave_sizes"] == [1, 2] and c["progress"]["by_state"] == {"Sent": 1, "Scheduled": 2}
    sent = update_firmware_calls(fw, clients)
    assert list(sent) == ["CP1"]  # wave 1: the first charger only
    location = sent["CP1"][0]["location"]
    assert "/files/firmware/" in location and "signature=" in location
    drain(fw, clients)
    for status_name in ("Downloading", "Downloaded", "Installing", "Installed"):
        clients[0].result("FirmwareStatusNotification", {"status": status_name})
    assert progress(c["id"])["chargers"][0]["state"] == "Installed"
    assert len(update_firmware_calls(fw, clients)) == 1  # wave 2 waits for the proof
    clients[0].result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22", "firmwareVersion": "2.0"})
    body = progress(c["id"])
    assert body["chargers"][0]["state"] == "Verified" and body["wave"] == 2
    assert set(update_firmware_calls(fw, clients)) == {"CP1", "CP2", "CP3"}  # wave 2 went out at once
    drain(fw, clients)
    clients[1].result("FirmwareStatusNotification", {"status": "InstallationFailed"})
    clients[2].result("FirmwareStatusNotification", {"status": "Downloading"})
    fw.clock.now += timedelta(seconds=601)
    fw.firmware.advance_all()  # the periodic job: CP3 has been silent too long
    body = progress(c["id"])
    assert body["progress"]["installed"] == 1 and body["progress"]["failed"] == 1 and body["progress"]["timed_out"] == 1
    assert body["status"] == "completed"


def test_halt_when_wave_one_fails_then_retry_with_a_new_url(fw):
    clients = [boot(fw, f"CP{i}") for i in range(1, 4)]
    image = upload(fw)
    status, c = call("POST", "/v1/firmware/campaigns", {"name": "halt", "images": [image], "waves_percent": [1, 100],
                                                        "failure_threshold_percent": 0})
    first = update_firmware_calls(fw, clients)["CP1"][0]["location"]
    drain(fw, clients)
    clients[0].result("FirmwareStatusNotification", {"status": "DownloadFailed"})
    body = progress(c["id"])
    assert body["status"] == "halted" and "wave 1: 1 of 1" in body["halted_reason"]
    fw.firmware.advance_all()
    assert list(update_firmware_calls(fw, clients)) == ["CP1"]  # wave 2 never sent
    # The URL of the first attempt expires; a retry re-issues a fresh one
    fw.clock.now += timedelta(hours=2)
    old = urlsplit(first)
    expired = handle(fw.tmp / "files", "GET", old.path, old.query, None, lambda n: b"",
                     clock=lambda: fw.clock().timestamp())
    assert expired.status == 403 and "expired" in expired.message
    status, retried = call("POST", f"/v1/firmware/campaigns/{c['id']}/retry")
    assert status == 200 and retried["retried"] == 1 and retried["campaign"]["status"] == "running"
    second = update_firmware_calls(fw, clients)["CP1"][-1]["location"]
    assert second != first
    fresh = urlsplit(second)
    assert int(parse_qs(fresh.query)["expires"][0]) > fw.clock().timestamp()
    got = handle(fw.tmp / "files", "GET", fresh.path, fresh.query, None, lambda n: b"",
                 clock=lambda: fw.clock().timestamp())
    assert got.status == 200 and got.path.read_bytes() == IMAGE


def test_transactions_window_and_no_targets(fw):
    busy, idle = boot(fw, "CP1"), boot(fw, "CP2")
    image = upload(fw)
    busy.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-11-30T09:00:00Z"})
    # a window that is closed now (10:00 UTC = 11:00 in Paris; window 01:00-05:00 Paris)
    status, closed = call("POST", "/v1/firmware/campaigns", {"name": "night", "images": [image], "waves_percent": [100],
                                                             "window": {"start": "01:00", "end": "05:00",
                                                                        "timezone": "Europe/Paris"}})
    assert status == 201 and closed["progress"]["scheduled"] == 2 and not update_firmware_calls(fw, [busy, idle])
    call("POST", f"/v1/firmware/campaigns/{closed['id']}/cancel")
    status, c = call("POST", "/v1/firmware/campaigns", {"name": "day", "images": [image], "waves_percent": [100]})
    by_id = {t["id"]: t for t in c["chargers"]}
    assert by_id["CP1"]["state"] == "Scheduled" and by_id["CP1"]["detail"] == "transaction active"
    assert by_id["CP2"]["state"] == "Sent"
    status, forced = call("POST", "/v1/firmware/campaigns", {"name": "forced", "images": [image], "chargers": ["CP1"],
                                                             "force": True, "waves_percent": [100]})
    assert forced["chargers"][0]["state"] == "Sent"
    status, body = call("POST", "/v1/firmware/campaigns", {"name": "none", "images": [image], "from_versions": ["9.9"]})
    assert status == 400 and "no targets" in body["message"]
    boot(fw, "OTHER", model="X1")
    status, body = call("POST", "/v1/firmware/campaigns", {"name": "x", "images": [image], "chargers": ["OTHER"]})
    assert status == 400 and "unknown model" in body["message"] and "X1" in body["message"]
    status, body = call("POST", "/v1/firmware/campaigns", {"name": "x", "images": ["nope"]})
    assert status == 404


def test_diagnostics_requested_uploaded_listed_and_downloadable(fw):
    client = boot(fw, "CP1")
    status, req = call("POST", "/v1/chargers/CP1/diagnostics", {})
    assert status == 202, req
    drain(fw, [client])
    (location,) = [p["location"] for _, action, p in SEEN if action == "GetDiagnostics"]
    assert "/files/diagnostics/CP1/" in location
    client.result("DiagnosticsStatusNotification", {"status": "Uploading"})
    up = urlsplit(location)
    logs = b"log line\n" * 50
    assert handle(fw.tmp / "files", "PUT", up.path, up.query, len(logs), io.BytesIO(logs).read).status == 201
    client.result("DiagnosticsStatusNotification", {"status": "Uploaded"})
    status, listing = call("GET", "/v1/chargers/CP1/diagnostics")
    (row,) = listing
    assert row["status"] == "Uploaded" and row["size_bytes"] == len(logs) and row["file_name"] == "cp1-logs.zip"
    down = urlsplit(row["download_url"])
    got = handle(fw.tmp / "files", "GET", down.path, down.query, None, lambda n: b"", clock=lambda: fw.clock().timestamp())
    assert got.status == 200 and got.path.read_bytes() == logs
    forged = handle(fw.tmp / "files", "GET", down.path.replace("CP1", "CP2"), down.query, None, lambda n: b"")
    assert forged.status == 403


def test_the_platform_signs_an_image_and_a_campaign_sends_it_with_signed_update_firmware(fw):
    """With a firmware-signing key (csms.firmware.signing), the verified upload is signed once; the
    campaign sends SignedUpdateFirmware whose signature verifies over the image with the signing
    certificate issued by the firmware root; SignedFirmwareStatusNotification moves the campaign, and
    InvalidSignature fails the charger. A charger on profile 2 still gets UpdateFirmware."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from adapters.firmware_signer import FileFirmwareSigner
    from csms_local.pki import ensure_firmware_signing

    root = x509.load_pem_x509_certificate(ensure_firmware_signing(fw.tmp / "tls", "Example CPO").read_bytes())
    fw.firmware.signer = FileFirmwareSigner(fw.tmp / "tls")
    clients = [boot(fw, "CP1"), boot(fw, "CP2"), boot(fw, "CP3")]
    for client in clients[:2]:  # on profile 3 (they implement the security whitepaper); CP3 is a plain 1.6 charger
        fw.chargers.set_security_profile(client.id, 3)
    image = upload(fw)
    status, c = call("POST", "/v1/firmware/campaigns", {"name": "signed", "images": [image], "waves_percent": [100],
                                                        "failure_threshold_percent": 100})
    assert status == 201, c
    drain(fw, clients)
    sent = {cp: payload for cp, action, payload in SEEN if action == "SignedUpdateFirmware"}
    assert set(sent) == {"CP1", "CP2"} and set(update_firmware_calls(fw, clients)) == {"CP3"}
    firmware = sent["CP1"]["firmware"]
    assert "/files/firmware/" in firmware["location"]
    signing = x509.load_pem_x509_certificate(firmware["signingCertificate"].encode())
    signing.verify_directly_issued_by(root)
    assert x509.oid.ExtendedKeyUsageOID.CODE_SIGNING in signing.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    signing.public_key().verify(base64.b64decode(firmware["signature"]), IMAGE, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(Exception):  # not over any other bytes
        signing.public_key().verify(base64.b64decode(firmware["signature"]), IMAGE + b"!", ec.ECDSA(hashes.SHA256()))
    request = sent["CP1"]["requestId"]
    for name in ("Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"):
        assert clients[0].result("SignedFirmwareStatusNotification", {"status": name, "requestId": request}) == {}
    for name in ("Downloading", "Downloaded", "InvalidSignature"):
        clients[1].result("SignedFirmwareStatusNotification", {"status": name, "requestId": request})
    states = {t["id"]: t["state"] for t in progress(c["id"])["chargers"]}
    assert states == {"CP1": "Installed", "CP2": "InvalidSignature", "CP3": "Sent"}
    assert progress(c["id"])["progress"]["failed"] == 1
    _, images = call("GET", "/v1/firmware/images")
    assert [i["signed"] for i in images] == [True]
