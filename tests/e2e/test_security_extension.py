"""A charger built on the ``ocpp`` package goes from security profile 2 to 3 through the OCPP 1.6
security extension on the local platform over wss (Security Whitepaper ed. 2, 5.2 "Installing a
certificate" / 5.3 "Updating the charge point certificate"): the CSMS root installed, its CSR signed,
CertificateSigned accepted, SecurityProfile changed, and it reconnects with its certificate. Then a
signed firmware update runs through its statuses."""

from __future__ import annotations

import asyncio
import ssl
from datetime import datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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


class SecureCharger(ChargePoint):
    """Keeps what a real charger keeps: installed roots, its key, its certificate, its profile."""

    def __init__(self, charge_point_id, connection, cpo_name, state):
        super().__init__(charge_point_id, connection)
        self.cpo_name, self.state = cpo_name, state

    @on(Action.install_certificate)
    def on_install_certificate(self, certificate_type, certificate):
        x509.load_pem_x509_certificate(certificate.encode())  # a real charger rejects garbage
        self.state["roots"].append(certificate)
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
        return call_result.SignedUpdateFirmware(status="Accepted")

    @after(Action.signed_update_firmware)
    async def run_firmware_update(self, request_id, firmware, **_):
        for status in FIRMWARE_STATUSES:
            await self.call(call.SignedFirmwareStatusNotification(status=status, request_id=request_id))
        self.state["firmware_done"].set()


async def _run_charger(platform, state, context, headers):
    connection = await connect(f"{platform.url}/CP001", ssl=context, subprotocols=["ocpp1.6"],
                               additional_headers=headers, open_timeout=20)
    charger = SecureCharger("CP001", connection, platform.cpo_name, state)
    task = asyncio.create_task(charger.start())
    boot = await charger.call(call.BootNotification(charge_point_model="W", charge_point_vendor="Acme"))
    assert boot.status == "Accepted"
    return charger, connection, task


async def _wait(event: asyncio.Event, what: str):
    try:
        await asyncio.wait_for(event.wait(), timeout=30)
    except asyncio.TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


def test_profile_2_to_3_through_the_security_extension_then_a_signed_firmware_update(tmp_path):
    async def body():
        platform = LocalPlatform(state_dir=tmp_path / "state", port=0, api_port=None, smart_every_s=None)
        await platform.start()
        rt = platform.runtime  # commands from a thread, as an operator's would come (the gateway runs on this loop)
        state = {"roots": [], "profile": 2, "signed": asyncio.Event(), "reconnect": asyncio.Event(),
                 "firmware_done": asyncio.Event()}
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
            context = ssl.create_default_context(cadata=state["roots"][0])  # trusts only the installed root
            context.load_cert_chain(chain, key)
            charger, connection, task = await _run_charger(platform, state, context, {})  # no password
            await charger.call(call.SecurityEventNotification(
                type="ReconfigurationOfSecurityParameters", timestamp=datetime.now(timezone.utc).isoformat(),
                tech_info="SecurityProfile 2 -> 3"))
            after_upgrade = await asyncio.to_thread(rt.chargers.get, "CP001")
            # 4. a signed firmware update through its statuses
            await asyncio.to_thread(rt.commander.send, "CP001", "SignedUpdateFirmware", {
                "requestId": 7, "firmware": {"location": "https://firmware.example/cp.bin",
                                             "retrieveDateTime": datetime.now(timezone.utc).isoformat(),
                                             "signingCertificate": root, "signature": "c2lnbmF0dXJl"}})
            await _wait(state["firmware_done"], "the firmware statuses")
            await asyncio.sleep(0.2)
            history = await asyncio.to_thread(rt.chargers.firmware_history, "CP001")
            events = [i.detail for i in await asyncio.to_thread(DynamoSecurityEvents().latest, "CP001", 20)]
            await connection.close()
            task.cancel()
            # 5. Basic auth with the right key no longer gets in
            with pytest.raises(InvalidStatus) as refused:
                await _run_charger(platform, state, client_context(platform.ca_path), auth_header("CP001", KEY))
            return state, after_upgrade, history, events, refused.value.response.status_code
        finally:
            await platform.stop()

    state, view, history, events, basic_status = asyncio.run(asyncio.wait_for(body(), timeout=120))
    assert state["sign_status"] == "Accepted"
    leaf = x509.load_pem_x509_certificates(state["chain"].encode())[0]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP001"
    assert view.security_profile == 3 and view.security["method"] == "certificate"
    assert view.certificate["serial"] == f"{leaf.serial_number:x}"
    assert [entry.split(" ", 1)[1] for entry in history][-len(FIRMWARE_STATUSES):] == list(FIRMWARE_STATUSES)
    assert events == ["ReconfigurationOfSecurityParameters: SecurityProfile 2 -> 3"]  # the security event log
    assert basic_status == 401
