"""Requests per message: DynamoDB requests and request units, and management API posts, for every
OCPP message in both directions, counted at the AWS clients while the real handlers run against
moto. Writes ``docs/requests.json`` (what ``csms cost`` prices) and prints a table.

    .venv/bin/python -m bench.bench_requests [--out docs/requests.json]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from unittest import mock

READS = {"GetItem": 1, "Query": 1, "Scan": 1}
WRITES = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1}
ROOT = Path(__file__).resolve().parent.parent


def _units(operation: str, params: dict) -> tuple[int, int, float, int]:
    """(reads, writes, read units, write units) for one request with items of at most 1 KB (a Query
    reads at most 4 KB here). A strongly consistent read of up to 4 KB is 1 read unit, an eventually
    consistent one 0.5 (DynamoDB developer guide, "Read request units"); a write of up to 1 KB is 1
    write unit, a transactional one 2."""
    if operation in READS:
        return 1, 0, 1 if params.get("ConsistentRead") else 0.5, 0
    if operation in WRITES:
        return 0, 1, 0, 1
    if operation == "TransactWriteItems":
        return 0, 1, 0, 2 * len(params.get("TransactItems", []))
    if operation == "TransactGetItems":
        return 1, 0, 2 * len(params.get("TransactItems", [])), 0
    if operation == "BatchWriteItem":
        return 0, 1, 0, sum(len(v) for v in params.get("RequestItems", {}).values())
    if operation == "BatchGetItem":
        return 1, 0, sum(len(v["Keys"]) * (1 if v.get("ConsistentRead") else 0.5)
                         for v in params.get("RequestItems", {}).values()), 0
    return 0, 0, 0, 0  # DescribeTable etc.: not per message


def measure() -> dict[str, dict]:
    import botocore.client
    from moto import mock_aws

    from adapters.dynamo.models import create_tables
    from adapters.settings import Settings
    from adapters.wiring import build_runtime
    from csms.charging import signals
    from csms.charging import tariff
    from tests.fakes import MemoryPoster
    from csms.timeutil import iso, utcnow
    from handlers import _runtime
    from tests.integration.conftest import ChargerClient

    calls: list[tuple[str, dict]] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            calls.append((operation_name, api_params))
        return original(self, operation_name, api_params)

    import tempfile

    from csms_local.pki import ensure_charger_ca

    env = Settings.with_prefix("bench", region="eu-west-2").as_env()
    ca_dir = Path(tempfile.mkdtemp(prefix="bench-ca-"))  # the charger CA that signs CSRs (locally: the state dir's)
    ensure_charger_ca(ca_dir, "Bench CPO")
    env.update({"CHARGER_CA_DIR": str(ca_dir), "CPO_NAME": "Bench CPO"})
    env.update({"POWERTOOLS_LOG_LEVEL": "INFO", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-2"})
    table: dict[str, dict] = {}
    with mock.patch.dict(os.environ, env), mock_aws(), \
            mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting), contextlib.ExitStack() as stack:
        _runtime.reset()
        poster = MemoryPoster()  # keeps what is sent to chargers
        rt = _runtime.install(build_runtime(Settings.from_env(), poster=poster, counters=_runtime.lambda_counters()))
        create_tables()
        charger = ChargerClient(rt, "CP001").register()

        from handlers.observability import logger, message_counts, profile_counts

        # The frame and profile counters publish their EMF records at most once a minute, on whichever
        # message crosses the minute (a container-wide cost, priced per minute in csms cost, not per
        # message): hold their clocks still so a slow run or an earlier test in the same process cannot
        # move that flush into one message's log bytes.
        for counts in (message_counts, profile_counts):
            frozen = counts.clock()
            stack.enter_context(mock.patch.object(counts, "clock", lambda frozen=frozen: frozen))
            stack.enter_context(mock.patch.object(counts, "last", frozen))

        def record(name, fn):
            calls.clear()
            sent_before = len(poster.sent)
            captured = io.StringIO()
            stream, logger.registered_handler.stream = logger.registered_handler.stream, captured
            try:
                with contextlib.redirect_stdout(captured):  # EMF metrics are printed
                    result = fn()
            finally:
                logger.registered_handler.stream = stream
            r = w = ru = wu = 0
            ops = collections.Counter()
            for op, params in calls:
                a, b, c, d = _units(op, params)
                r, w, ru, wu = r + a, w + b, ru + c, wu + d
                ops[op] += 1
            table[name] = {"reads": r, "writes": w, "read_units": ru, "write_units": wu,
                           "management_posts": len(poster.sent) - sent_before, "requests": dict(ops),
                           "log_bytes": len(captured.getvalue().encode())}
            return result

        record("$connect", charger.handshake)
        record("first message on a new connection (set-up check)", lambda: charger.result("Heartbeat", {}))
        charger.connected_at_ms = 1_700_000_000_000  # older than the set-up window from here on
        record("BootNotification", lambda: charger.result("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}))
        # answer the set-up calls so the queue is empty
        while poster.sent:
            frame = json.loads(poster.sent.pop(0)[1])
            reply = charger.send(json.dumps([3, frame[1], {"status": "Accepted"} if frame[2] != "GetConfiguration" else {}]))
            if reply:
                poster.sent.append(("c", reply))
        # a boot-less reconnect of this configured charger (API Gateway's or the platform's close)
        charger.handshake()
        record("reconnect: first message (set-up check)", lambda: charger.result("Heartbeat", {}))
        trigger = json.loads(poster.sent[-1][1])
        record("reconnect: TriggerMessage answer", lambda: charger.send(json.dumps([3, trigger[1], {"status": "Accepted"}])))
        charger.connected_at_ms = 1_700_000_000_000
        record("Heartbeat", lambda: charger.result("Heartbeat", {}))
        record("StatusNotification", lambda: charger.result("StatusNotification", {
            "connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": iso(utcnow())}))
        record("Authorize", lambda: charger.result("Authorize", {"idTag": "T"}))
        start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": iso(utcnow())}
        tx = record("StartTransaction", lambda: charger.result("StartTransaction", start))["transactionId"]
        record("StartTransaction (retry)", lambda: charger.result("StartTransaction", start))
        mv = {"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": iso(utcnow()), "sampledValue": [
            {"value": "100", "measurand": "Energy.Active.Import.Register"},
            {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"}]}]}
        record("MeterValues", lambda: charger.result("MeterValues", mv))
        record("DataTransfer", lambda: charger.call("DataTransfer", {"vendorId": "x"}))
        record("FirmwareStatusNotification", lambda: charger.result("FirmwareStatusNotification", {"status": "Idle"}))
        record("DiagnosticsStatusNotification", lambda: charger.result("DiagnosticsStatusNotification", {"status": "Idle"}))
        _security(rt, charger, poster, record)
        _firmware_update(rt, charger, poster, record)
        # platform-initiated: a profile queued and sent, then its answer
        recorded = tariff.load(ROOT / "data" / "gb_agile_prices.csv", ROOT / "data" / "gb_carbon_intensity.csv")
        rt.signals.put(signals.rows_from_signals(tariff.replayed(recorded, utcnow())), utcnow())
        rt.chargers.set_preference("CP001", utcnow() + timedelta(hours=8), 20)
        from adapters.smart_charging import run_scheduler

        record("Scheduler run (per plugged-in vehicle)", lambda: run_scheduler(rt))
        table["SetChargingProfile (queued and sent)"] = table["Scheduler run (per plugged-in vehicle)"]
        frame = json.loads(poster.sent[-1][1])
        record("CALLRESULT", lambda: charger.send(json.dumps([3, frame[1], {"status": "Accepted"}])))
        record("StopTransaction", lambda: charger.result("StopTransaction", {"transactionId": tx, "meterStop": 500,
                                                                             "timestamp": iso(utcnow())}))
        record("$disconnect", charger.disconnect)
        _runtime.reset()
    # the scheduler's own reads are shared by the run; split into the per-vehicle share
    run = table["Scheduler run (per plugged-in vehicle)"]
    sched = {k: v for k, v in run.items()}
    # the active-index shard Queries are the run's, not the vehicle's (csms cost shares them over the fleet);
    # a global secondary index is read eventually consistent only: 0.5 unit a Query
    from adapters.dynamo.indexes import SHARDS

    table["Scheduler run (per plugged-in vehicle)"] = {**sched, "writes": 0, "write_units": 0, "management_posts": 0,
                                                        "reads": sched["reads"] - SHARDS,
                                                        "read_units": sched["read_units"] - SHARDS * 0.5}
    table["SetChargingProfile (queued and sent)"] = {**sched, "reads": 0, "read_units": 0}
    return table


def _firmware_update(rt, charger, poster, record) -> None:
    """One charger's firmware update, from the campaign's creation to the proof by its next boot
    (a campaign of one: its creation, queue and wave bookkeeping are all this charger's), and a run
    of the periodic job over an active campaign with nothing due."""
    import tempfile

    from adapters.local_files import LocalFiles
    from csms.firmware.model import READY, FirmwareImage
    from csms.timeutil import utcnow

    rt.firmware.files = LocalFiles(tempfile.mkdtemp(prefix="bench-fw-"), "https://127.0.0.1:8444")
    rt.firmware.store.put_image(FirmwareImage("img1", "V", "M", "2.0", 1000, "ab" * 32, "V/M/2.0/img1.bin", utcnow(),
                                              status=READY))

    def update():
        # forced: this charger is in the transaction started above
        campaign = rt.firmware.create_campaign("bench", ["img1"], waves_percent=[100], silence_timeout_s=3600,
                                               force=True)
        frame = json.loads(poster.sent[-1][1])
        assert frame[2] == "UpdateFirmware", frame
        charger.send(json.dumps([3, frame[1], {}]))
        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            charger.result("FirmwareStatusNotification", {"status": status})
        charger.result("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "2.0"})
        return campaign

    record("Firmware update (one charger: campaign, UpdateFirmware, 4 statuses, proof by boot)", update)
    # A running campaign whose only charger is in a transaction: queued again 5 minutes later, so the
    # job's next run finds nothing due (the common case between sends)
    rt.firmware.store.put_image(FirmwareImage("img2", "V", "M", "3.0", 1000, "cd" * 32, "V/M/3.0/img2.bin", utcnow(),
                                              status=READY))
    waiting = rt.firmware.create_campaign("bench-wait", ["img2"], waves_percent=[100])
    record("Firmware job run (per active campaign, nothing due)", rt.firmware.advance_all)
    rt.firmware.cancel(waiting.campaign_id)


def _security(rt, charger, poster, record) -> None:
    """The security extension's writes (issue 17, docs/certificates.md): a SecurityEventNotification;
    one certificate issuance (renewal or the profile 2 -> 3 upgrade: ExtendedTriggerMessage queued and
    sent, its answer, SignCertificate with the CSR, CertificateSigned queued and sent, its answer); an
    operator's revocation and profile raise."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from csms.timeutil import iso, utcnow

    record("SecurityEventNotification", lambda: charger.result("SecurityEventNotification", {
        "type": "StartupOfTheDevice", "timestamp": iso(utcnow()), "techInfo": "cold boot"}))
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "CP001"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bench CPO")]))
        .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())

    def answer(action: str, payload: dict) -> None:
        frame = json.loads(poster.sent[-1][1])
        assert frame[2] == action, frame
        reply = charger.send(json.dumps([3, frame[1], payload]))
        assert reply is None, reply  # nothing else queued

    def issue():
        rt.commander.send("CP001", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
        answer("ExtendedTriggerMessage", {"status": "Accepted"})
        assert charger.result("SignCertificate", {"csr": csr})["status"] == "Accepted"
        answer("CertificateSigned", {"status": "Accepted"})

    record("Certificate issuance (ExtendedTriggerMessage, SignCertificate, CertificateSigned, answers)", issue)
    record("Revocation (operator)", lambda: rt.chargers.revoke("CP001", ["serial:01ab"]))
    record("Security profile raised (operator)", lambda: rt.chargers.set_security_profile("CP001", 3))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "requests.json"))
    args = parser.parse_args(argv)
    table = measure()
    Path(args.out).write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print("| message | DynamoDB reads | writes | read units | write units | management API posts | log bytes | requests |")
    print("|---|---|---|---|---|---|---|---|")
    for name, c in table.items():
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(c["requests"].items())) or "-"
        print(f"| {name} | {c['reads']} | {c['writes']} | {c['read_units']} | {c['write_units']} | "
              f"{c['management_posts']} | {c['log_bytes']} | {ops} |")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
