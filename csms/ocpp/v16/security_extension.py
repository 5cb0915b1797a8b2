"""The OCPP 1.6 security extension ("Improved security for OCPP 1.6-J", OCPP 1.6 Security Whitepaper
ed. 2, section 5): the charger-initiated messages, the CSR check and the charge point certificate.

- ``SignCertificate`` (charger -> platform): the CSR's signature must verify, its subject CN must be
  the charge point id and its O the CPO name (whitepaper 4.1); then the platform's CA signs it
  (``csms.ocpp.ports.CertificateSigner``, a port: the local charger CA, or in AWS a KMS key, docs/certificates.md)
  and the chain goes back as a queued ``CertificateSigned`` call. Anything else: ``Rejected``.
- ``SecurityEventNotification``: kept per charger with its raw frame (``csms.ocpp.ports.SecurityEventLog``:
  one write per event, nothing on the charger's item); the whitepaper's critical events are logged at
  WARNING so a log-metric alarm can page.
- ``SignedFirmwareStatusNotification`` / ``LogStatusNotification``: the charger's firmware and log
  upload statuses, recorded like FirmwareStatusNotification / DiagnosticsStatusNotification.

The platform-initiated messages (``CertificateSigned``, ``InstallCertificate``,
``GetInstalledCertificateIds``, ``DeleteCertificate``, ``ExtendedTriggerMessage``, ``GetLog``,
``SignedUpdateFirmware``) go through the command queue like any other call.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from csms.model import ReviewItem
from csms.ocpp.ports import CertificateSigner, ReviewLog, SecurityEventChargers, SecurityEventLog
from csms.ocpp.v16.routing import Context
from csms.timeutil import BadTimestamp, parse_ts

log = logging.getLogger(__name__)

SECURITY_EVENT = "security_event"
LATEST_EVENTS = 20  # the security events an operator's view shows (csms.ocpp.security_operations)
# Whitepaper ed. 2, appendix 1 "Security events": the ones marked critical
CRITICAL_EVENTS = frozenset({
    "FirmwareUpdated", "FailedToAuthenticateAtCentralSystem", "CentralSystemFailedToAuthenticate",
    "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot", "SecurityLogWasCleared", "ReconfigurationOfSecurityParameters",
    "MemoryExhaustion", "InvalidMessages", "AttemptedReplayAttacks", "TamperDetectionActivated",
    "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate", "InvalidCentralSystemCertificate",
    "InvalidChargePointCertificate", "InvalidTLSVersion", "InvalidTLSCipherSuite",
})
MIN_RSA_BITS = 2048  # whitepaper 4.1: RSA >= 2048 bits or ECC >= 224 bits
MIN_EC_BITS = 224


class CsrRejected(ValueError):
    """The CSR cannot be signed for this charger (the message says why)."""


# cryptography is imported where a CSR or certificate is handled, not at import: every function's
# cold start builds the runtime that registers these handlers.


def check_csr(csr_pem: str, charge_point_id: str, cpo_name: str | None):
    """The parsed CSR (``x509.CertificateSigningRequest``) when it may be signed for ``charge_point_id``;
    raises CsrRejected otherwise."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise CsrRejected("not a PEM certificate signing request") from exc
    if not csr.is_signature_valid:
        raise CsrRejected("the CSR's signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != charge_point_id:
        raise CsrRejected("subject CN is not the charge point id")
    orgs = csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if cpo_name is not None and (len(orgs) != 1 or orgs[0].value != cpo_name):
        raise CsrRejected("subject O is not the CPO name")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise CsrRejected(f"RSA key shorter than {MIN_RSA_BITS} bits")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
        raise CsrRejected(f"EC key shorter than {MIN_EC_BITS} bits")
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise CsrRejected("only RSA and EC keys are accepted")
    return csr


def _key_usage(**on: bool):
    from cryptography import x509

    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: on.get(name, False) for name in names})


def charge_point_certificate(ca, ca_key, public_key, charge_point_id: str, cpo_name: str, *,
                             days: float = 365, not_before: datetime | None = None):
    """A charge point certificate: subject ``CN=<id>, O=<CPO name>``, clientAuth, signed by ``ca_key``
    (whitepaper 4.1). ``days`` with an earlier ``not_before`` makes an expired one (tests).
    ``ca_key`` may be a stand-in of the same algorithm when the real key signs the TBS elsewhere
    (KMS): the authority key identifier is taken from ``ca``'s own public key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    start = not_before or datetime.now(timezone.utc) - timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, charge_point_id),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, cpo_name)])
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject).public_key(public_key)
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_agreement=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


class SecurityExtension:
    """Handlers for the charger-initiated security-extension messages, ``handlers()`` by action.

    Ports: ``chargers`` (``record_firmware_status``, ``record_diagnostics_status``), ``review``
    (``add``: rejected CSRs), ``events`` (the security event log), ``send`` (queue a platform call:
    ``Commander.send``), ``signer`` (None: every CSR is rejected, e.g. no CA key configured) and the
    CPO name the CSR's O must carry; ``notify`` (the central system's notification hook: firmware
    campaigns follow SignedFirmwareStatusNotification as they follow FirmwareStatusNotification)."""

    def __init__(self, *, chargers: SecurityEventChargers, review: ReviewLog, events: SecurityEventLog,
                 send: Callable[..., Any], signer: CertificateSigner | None, cpo_name: str | None,
                 notify: Callable[[str, str, dict, datetime], None] | None = None):
        self.chargers, self.review, self.events, self.send = chargers, review, events, send
        self.signer, self.cpo_name, self.notify = signer, cpo_name, notify

    def handlers(self) -> dict[str, Callable[[Context, dict[str, Any]], dict[str, Any]]]:
        return {"SignCertificate": self.sign_certificate, "SecurityEventNotification": self.security_event,
                "SignedFirmwareStatusNotification": self.signed_firmware_status,
                "LogStatusNotification": self.log_status}

    def sign_certificate(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        if self.signer is None:
            log.warning("SignCertificate from %s: no CA key configured; rejected", ctx.charge_point_id)
            return {"status": "Rejected"}
        try:
            csr = check_csr(p["csr"], ctx.charge_point_id, self.cpo_name)
        except CsrRejected as exc:
            self.review.add(ReviewItem(ctx.charge_point_id, "csr_rejected", str(exc), ctx.received_at,
                                       action="SignCertificate", raw=ctx.raw))
            return {"status": "Rejected"}
        chain = self.signer.sign(csr, ctx.charge_point_id)
        # queued: sent when no other platform call is outstanding (one per direction, OCPP-J 4.1.1)
        self.send(ctx.charge_point_id, "CertificateSigned", {"certificateChain": chain}, origin="platform")
        return {"status": "Accepted"}

    def security_event(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        try:
            at = parse_ts(p["timestamp"])
        except (BadTimestamp, KeyError, TypeError):
            at = ctx.received_at
        event_type = str(p.get("type", ""))
        detail = event_type + (f": {p['techInfo']}" if p.get("techInfo") else "")
        self.events.add(ReviewItem(ctx.charge_point_id, SECURITY_EVENT, detail, at,
                                   action="SecurityEventNotification", raw=ctx.raw, unique_id=ctx.unique_id))
        if event_type in CRITICAL_EVENTS:
            log.warning("critical security event from %s: %s", ctx.charge_point_id, detail)
        return {}

    def signed_firmware_status(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        self.chargers.record_firmware_status(ctx.charge_point_id, p["status"], ctx.received_at)
        if self.notify is not None:
            try:  # the charger's answer never depends on it (the campaign's job catches up)
                self.notify(ctx.charge_point_id, "SignedFirmwareStatusNotification", p, ctx.received_at)
            except Exception:
                log.exception("notification hook failed for SignedFirmwareStatusNotification from %s",
                              ctx.charge_point_id)
        return {}

    def log_status(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        self.chargers.record_diagnostics_status(ctx.charge_point_id, f"Log{p['status']}", ctx.received_at)
        return {}
