"""A charger built on the ``ocpp`` package goes from security profile 2 to 3 through the OCPP 1.6
security extension on the local platform over wss (Security Whitepaper ed. 2, 5.2 "Installing a
certificate" / 5.3 "Updating the charge point certificate"): the CSMS root installed, its CSR signed,
CertificateSigned accepted, SecurityProfile changed, and it reconnects with its certificate, trusting
only the root it was given. Then signed firmware (5.4): an image the platform signed goes through a
campaign to Installed after the charger checked the signing certificate against its installed
ManufacturerRootCertificate and the signature over the downloaded file; a tampered signature and a
tampered file end in InvalidSignature, a signing certificate from elsewhere is answered InvalidCertificate."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import urllib.request
from datetime import datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from adapters.dynamo.security_events import DynamoSecurityEvents
from csms_local.platform import LocalPlatform
from csms_local.tls import client_context
from tests.e2e.helpers import auth_header

KEY = "0123456789abcdef0123"
FIRMWARE_STATUSES = ("Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed")
REFUSED = ("Downloading", "Downloaded", "InvalidSignature")


def _signing_certificate_trusted(pem: str, roots: list[str]) -> bool:
    """What a charger checks before it downloads (whitepaper 5.4.2): the signing certificate was issued
    by one of its ManufacturerRootCertificates, is valid now and is for code signing."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    now = datetime.now(timezone.utc)
    if ExtendedKeyUsageOID.CODE_SIGNING not in usage or not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return False
    for root in roots:
        try:
            cert.verify_directly_issued_by(x509.load_pem_x509_certificate(root.encode()))
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False


def _signature_valid(image: bytes, signature: str, pem: str) -> bool:
    """ECDSA with SHA-256 over the downloaded file, with the signing certificate's key."""
    try:
        x509.load_pem_x509_certificate(pem.encode()).public_key().verify(
            base64.b64decode(signature), image, ec.ECDSA(hashes.SHA256()))
        return True
    except (ValueError, InvalidSignature):
        return False


class SecureCharger(ChargePoint):
    """Keeps what a real charger keeps: installed roots, its key, its certificate, its profile."""

    def __init__(self, charge_point_id, connection, cpo_name, state):
        super().__init__(charge_point_id, connection)
        self.cpo_name, self.state = cpo_name, state

    @on(Action.install_certificate)
    def on_install_certificate(self, certificate_type, certificate):
        x509.load_pem_x509_certificate(certificate.encode())  # a real charger rejects garbage
        kind = "roots" if certificate_type == "CentralSystemRootCertificate" else "manufacturer_roots"
        self.state[kind].append(certificate)
        return call_result.InstallCertificate(status="Accepted")

    @on(Action.extended_trigger_message)
    def on_extended_trigger(self, requested_message, **_):
        return call_result.ExtendedTriggerMessage(status="Accepted")

    @after(Action.extended_trigger_message)
    async def send_csr(self, requested_message, **_):
        if requested_message != "SignChargePointCertificate":
            return
        key = ec.generate_private_key(ec.SECP256R1())
        self.state["key"] = key
        csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, self.id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.cpo_name)])).sign(key, hashes.SHA256()))
        result = await self.call(call.SignCertificate(csr=csr.public_bytes(serialization.Encoding.PEM).decode()))
        self.state["sign_status"] = result.status

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain):
        leaf = x509.load_pem_x509_certificates(certificate_chain.encode())[0]
        ours = leaf.public_key().public_numbers() == self.state["key"].public_key().public_numbers()
        if not ours or leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value != self.id:
            return call_result.CertificateSigned(status="Rejected")
        self.state["chain"] = certificate_chain
        self.state["signed"].set()
        return call_result.CertificateSigned(status="Accepted")

    @on(Action.change_configuration)
    def on_change_configuration(self, key, value):
        if key == "SecurityProfile":
            if int(value) < self.state["profile"] or (int(value) == 3 and "chain" not in self.state):
                return call_result.ChangeConfiguration(status="Rejected")
            self.state["profile"] = int(value)
            self.state["reconnect"].set()
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.signed_update_firmware)
    def on_signed_update_firmware(self, request_id, firmware, **_):
        if not _signing_certificate_trusted(firmware["signing_certificate"], self.state["manufacturer_roots"]):
            return call_result.SignedUpdateFirmware(status="InvalidCertificate")
        return call_result.SignedUpdateFirmware(status="Accepted")

    @after(Action.signed_update_firmware)
    async def run_firmware_update(self, request_id, firmware, **_):
        if not _signing_certificate_trusted(firmware["signing_certificate"], self.state["manufacturer_roots"]):
            await self.call(call.SecurityEventNotification(type="InvalidFirmwareSigningCertificate",
                                                           timestamp=datetime.now(timezone.utc).isoformat(),
                                                           tech_info=f"SignedUpdateFirmware {request_id}"))
            self.state["firmware"].put_nowait((request_id, ["InvalidCertificate"]))
            return
        sent = []

        async def status(value):
            sent.append(value)
            await self.call(call.SignedFirmwareStatusNotification(status=value, request_id=request_id))

        await status("Downloading")
        context = ssl.create_default_context(cadata=self.state["roots"][0])  # the platform's files: its root
        image = await asyncio.to_thread(
            lambda: urllib.request.urlopen(firmware["location"], context=context, timeout=20).read())
        await status("Downloaded")
        if not _signature_valid(image, firmware["signature"], firmware["signing_certificate"]):
            await status("InvalidSignature")
            await self.call(call.SecurityEventNotification(type="InvalidFirmwareSignature",
                                                           timestamp=datetime.now(timezone.utc).isoformat(),
                                                           tech_info=f"SignedUpdateFirmware {request_id}"))
        else:
            for value in FIRMWARE_STATUSES[2:]:
                await status(value)
        self.state["firmware"].put_nowait((request_id, sent))


async def _run_charger(platform, state, context, headers):
    connection = await connect(f"{platform.url}/CP001", ssl=context, subprotocols=["ocpp1.6"],
                               additional_headers=headers, open_timeout=20)
    charger = SecureCharger("CP001", connection, platform.cpo_name, state)
    task = asyncio.create_task(charger.start())
    boot = await charger.call(call.BootNotification(charge_point_model="W", charge_point_vendor="Acme"))
    assert boot.status == "Accepted"
    return charger, connection, task


def _upload(platform, data: bytes, version: str):
    """An image of the charger's model uploaded as an operator does (register, PUT, complete): the
    platform verifies the stored file's SHA-256 and signs it."""
    rt = platform.runtime
    image, target = rt.firmware.add_image("Acme", "W", version, len(data), hashlib.sha256(data).hexdigest())
    request = urllib.request.Request(target.url, data=data, method=target.method, headers=target.headers)
    urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(platform.ca_path)), timeout=20).read()
    return rt.firmware.complete_image(image.image_id)


def _signed_update(request_id: int, location: str, signing_certificate: str, signature: str) -> dict:
    return {"requestId": request_id, "firmware": {
        "location": location, "retrieveDateTime": datetime.now(timezone.utc).isoformat(),
        "signingCertificate": signing_certificate, "signature": signature}}


async def _wait(event: asyncio.Event, what: str):
    try:
        await asyncio.wait_for(event.wait(), timeout=30)
    except asyncio.TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


def test_profile_2_to_3_through_the_security_extension_then_a_signed_firmware_update(tmp_path):
    async def body():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, smart_every_s=None)
        await platform.start()
        rt = platform.runtime  # commands from a thread, as an operator's would come (the gateway runs on this loop)
        state = {"roots": [], "manufacturer_roots": [], "profile": 2, "signed": asyncio.Event(),
                 "reconnect": asyncio.Event(), "firmware": asyncio.Queue()}

        async def firmware_run(what: str) -> tuple[int, list[str]]:
            try:
                return await asyncio.wait_for(state["firmware"].get(), timeout=30)
            except asyncio.TimeoutError:
                pytest.fail(f"timed out waiting for {what}")
        try:
            platform.add_charger("CP001", KEY)
            charger, connection, task = await _run_charger(platform, state, client_context(platform.ca_path),
                                                           auth_header("CP001", KEY))
            # 1. the CSMS root (the CA of the platform's server certificate) goes onto the charger
            root = platform.ca_path.read_text()
            await asyncio.to_thread(rt.commander.send, "CP001", "InstallCertificate",
                              {"certificateType": "CentralSystemRootCertificate", "certificate": root})
            # 2. the charger is asked for a CSR; the platform signs it and sends CertificateSigned
            await asyncio.to_thread(rt.commander.send, "CP001", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
            await _wait(state["signed"], "CertificateSigned")
            # 3. SecurityProfile 3; the charger drops the connection and comes back with its certificate
            await asyncio.to_thread(rt.commander.send, "CP001", "ChangeConfiguration", {"key": "SecurityProfile", "value": "3"})
            await _wait(state["reconnect"], "the SecurityProfile change")
            await asyncio.sleep(0.2)  # let the charger's answer go out before it closes
            await connection.close()
            task.cancel()
            chain, key = tmp_path / "cp001.pem", tmp_path / "cp001-key.pem"
            chain.write_text(state["chain"])
            key.write_bytes(state["key"].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
            # trusts only the root InstallCertificate gave it: no system store, no pre-shared CA file
            context = ssl.create_default_context(cadata=state["roots"][0])
            context.load_cert_chain(chain, key)
            trusted = [x509.load_der_x509_certificate(der) for der in context.get_ca_certs(binary_form=True)]
            # ... and it is that root that anchors the connection: another one installed instead fails TLS
            elsewhere = ssl.create_default_context(cadata=platform.charger_ca.read_text())
            elsewhere.load_cert_chain(chain, key)
            with pytest.raises(ssl.SSLCertVerificationError):
                await _run_charger(platform, state, elsewhere, {})
            charger, connection, task = await _run_charger(platform, state, context, {})  # no password
            await charger.call(call.SecurityEventNotification(
                type="ReconfigurationOfSecurityParameters", timestamp=datetime.now(timezone.utc).isoformat(),
                tech_info="SecurityProfile 2 -> 3"))
            after_upgrade = await asyncio.to_thread(rt.chargers.get, "CP001")
            # 4. signed firmware: the platform's firmware root becomes the ManufacturerRootCertificate,
            # an uploaded image is signed by the platform and a campaign sends it with SignedUpdateFirmware
            await asyncio.to_thread(rt.commander.send, "CP001", "InstallCertificate", {
                "certificateType": "ManufacturerRootCertificate", "certificate": platform.firmware_root_path.read_text()})
            data = b"SIMFW 2.0\n" + bytes(4000)
            image = await asyncio.to_thread(_upload, platform, data, "2.0")
            campaign = await asyncio.to_thread(rt.firmware.create_campaign, "signed", [image.image_id],
                                               chargers=["CP001"], waves_percent=[100])
            runs = {"good": await firmware_run("the signed update")}
            await asyncio.sleep(0.3)  # the last status reaches the campaign
            _, targets, _ = await asyncio.to_thread(rt.firmware.progress, campaign.campaign_id)
            history = await asyncio.to_thread(rt.chargers.firmware_history, "CP001")
            url = await asyncio.to_thread(rt.firmware.files.firmware_url, image.key, 600)
            # a tampered signature (one bit of it)
            tampered = bytearray(base64.b64decode(image.signature))
            tampered[-1] ^= 1
            await asyncio.to_thread(rt.commander.send, "CP001", "SignedUpdateFirmware", _signed_update(
                8, url, image.signing_certificate, base64.b64encode(bytes(tampered)).decode()))
            runs["tampered signature"] = await firmware_run("the tampered signature")
            # a tampered file: the stored image changed after it was signed
            stored = platform.state_dir / "files" / "firmware" / image.key
            stored.write_bytes(data.replace(b"2.0", b"6.6"))
            await asyncio.to_thread(rt.commander.send, "CP001", "SignedUpdateFirmware", _signed_update(
                9, url, image.signing_certificate, image.signature))
            runs["tampered file"] = await firmware_run("the tampered file")
            # a signing certificate that does not chain to the installed root (the CSMS root itself)
            await asyncio.to_thread(rt.commander.send, "CP001", "SignedUpdateFirmware", _signed_update(
                10, url, root, image.signature))
            runs["other certificate"] = await firmware_run("the foreign signing certificate")
            await asyncio.sleep(0.3)
            events = [i.detail for i in await asyncio.to_thread(DynamoSecurityEvents().latest, "CP001", 20)]
            await connection.close()
            task.cancel()
            # 5. Basic auth with the right key no longer gets in
            with pytest.raises(InvalidStatus) as refused:
                await _run_charger(platform, state, client_context(platform.ca_path), auth_header("CP001", KEY))
            return (state, after_upgrade, history, events, refused.value.response.status_code, trusted, image,
                    targets, runs)
        finally:
            await platform.stop()

    state, view, history, events, basic_status, trusted, image, targets, runs = asyncio.run(asyncio.wait_for(body(), timeout=120))
    assert state["sign_status"] == "Accepted"
    leaf = x509.load_pem_x509_certificates(state["chain"].encode())[0]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP001"
    assert view.security_profile == 3 and view.security["method"] == "certificate"
    assert view.certificate["serial"] == f"{leaf.serial_number:x}"
    assert trusted == [x509.load_pem_x509_certificate(state["roots"][0].encode())]
    assert basic_status == 401
    # signed firmware
    assert image.signature and "BEGIN CERTIFICATE" in image.signing_certificate  # signed by the platform
    assert runs["good"][1] == list(FIRMWARE_STATUSES)
    assert [entry.split(" ", 1)[1] for entry in history][-len(FIRMWARE_STATUSES):] == list(FIRMWARE_STATUSES)
    assert [t.state for t in targets] == ["Installed"]  # the campaign followed SignedFirmwareStatusNotification
    assert runs["tampered signature"] == (8, list(REFUSED))
    assert runs["tampered file"] == (9, list(REFUSED))
    assert runs["other certificate"] == (10, ["InvalidCertificate"])
    assert events[-1] == "ReconfigurationOfSecurityParameters: SecurityProfile 2 -> 3"  # the security event log
    assert events[:3] == ["InvalidFirmwareSigningCertificate: SignedUpdateFirmware 10",
                          "InvalidFirmwareSignature: SignedUpdateFirmware 9", "InvalidFirmwareSignature: SignedUpdateFirmware 8"]
