"""A charger's life through the real handlers: boot, status, a transaction, a
boot-less reconnect mid-session, and the stored session."""

from __future__ import annotations

import pytest

from csms.views.state import ConnectorState, connector_state


def _mv(connector, tx, ts, sampled):
    payload = {"connectorId": connector, "meterValue": [{"timestamp": ts, "sampledValue": sampled}]}
    if tx is not None:
        payload["transactionId"] = tx
    return payload


def _w(energy_wh, power_w):
    return [
        {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
    ]


def _three_phase(energy_kwh, amps, volts=230.0):
    values = [{"value": f"{energy_kwh:.3f}", "measurand": "Energy.Active.Import.Register", "unit": "kWh"}]
    for phase in ("L1", "L2", "L3"):
        values.append({"value": str(amps), "measurand": "Current.Import", "unit": "A", "phase": phase})
        values.append({"value": str(volts), "measurand": "Voltage", "unit": "V", "phase": f"{phase}-N"})
    return values


def test_full_session_is_stored_with_energy_power_and_state(charger):
    rt = charger.rt
    # Given a charger that connects and boots
    charger.handshake()
    boot = charger.result("BootNotification", {
        "chargePointVendor": "Acme", "chargePointModel": "Wallbox-22", "chargePointSerialNumber": "SN-1",
        "firmwareVersion": "1.2.3",
    })
    assert boot["status"] == "Accepted" and 0 < boot["interval"] < 600
    assert charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                                                 "timestamp": "2024-06-12T17:55:00Z"}) == {}
    # When an EV plugs in and charges: MeterValues in W, then in A x V over three phases
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing",
                                          "timestamp": "2024-06-12T18:00:00Z"})
    start = charger.result("StartTransaction", {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000,
                                                "timestamp": "2024-06-12T18:00:00Z"})
    tx = start["transactionId"]
    assert isinstance(tx, int) and tx > 0 and start["idTagInfo"]["status"] == "Accepted"
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                                          "timestamp": "2024-06-12T18:00:05Z"})
    charger.result("MeterValues", _mv(1, tx, "2024-06-12T18:00:00Z", _w(1000, 7200)))
    charger.result("MeterValues", _mv(1, tx, "2024-06-12T18:30:00Z", _w(4600, 7200)))
    # ... the charger reconnects (API Gateway's 2 h limit) without a BootNotification
    old = charger.connection_id
    charger.handshake()
    charger.disconnect(old)
    assert rt.chargers.get("CP001").online
    # ... and now reports three-phase current and voltage, energy in kWh
    charger.result("MeterValues", _mv(1, tx, "2024-06-12T19:00:00Z", _three_phase(8.2, 10.435)))
    latest = rt.meter.latest("CP001", 1)
    assert latest.power_w == pytest.approx(3 * 10.435 * 230.0)
    statuses = {s.connector_id: s for s in rt.connectors.list("CP001")}
    assert connector_state(True, statuses[1].status, latest.power_w) is ConnectorState.CHARGING
    charger.result("MeterValues", _mv(1, tx, "2024-06-12T19:30:00Z", _three_phase(11.8, 0)))
    # ... the EV is full: plugged in, not charging
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "SuspendedEV",
                                          "timestamp": "2024-06-12T19:30:00Z"})
    statuses = {s.connector_id: s for s in rt.connectors.list("CP001")}
    assert connector_state(True, statuses[1].status, rt.meter.latest("CP001", 1).power_w) is ConnectorState.PLUGGED_IN
    stop = charger.result("StopTransaction", {"transactionId": tx, "meterStop": 11800, "idTag": "TAG1",
                                              "timestamp": "2024-06-12T20:00:00Z", "reason": "EVDisconnected"})
    assert stop == {"idTagInfo": {"status": "Accepted"}}
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                                          "timestamp": "2024-06-12T20:00:10Z"})
    # Then the stored session has the right energy, power samples and state
    session = rt.sessions.get("CP001", tx)
    assert not session.active
    assert session.energy_wh == pytest.approx(10800)
    assert session.max_power_w == pytest.approx(3 * 10.435 * 230.0)  # the A x V sample
    assert session.stop_reason == "EVDisconnected"
    assert session.flags == []
    samples = rt.meter.between("CP001", 1, session.started_at, session.stopped_at)
    assert [round(s.energy_wh) for s in samples] == [1000, 4600, 8200, 11800]
    view = rt.chargers.get("CP001")
    assert view.boot.vendor == "Acme" and view.boot.firmware_version == "1.2.3"
    statuses = {s.connector_id: s for s in rt.connectors.list("CP001")}
    assert connector_state(view.online, statuses[1].status, 0.0) is ConnectorState.UNPLUGGED
    assert rt.review.list("CP001") == []


def test_retried_start_transaction_gets_the_same_id(charger):
    charger.handshake()
    payload = {"connectorId": 1, "idTag": "TAG1", "meterStart": 500, "timestamp": "2024-06-12T18:00:00Z"}
    first = charger.result("StartTransaction", payload, unique_id="a1")["transactionId"]
    again = charger.result("StartTransaction", payload, unique_id="a1")["transactionId"]
    new_id = charger.result("StartTransaction", payload, unique_id="b2")["transactionId"]
    other = charger.result("StartTransaction", {**payload, "connectorId": 2})["transactionId"]
    assert first == again == new_id
    assert other != first and other > 0
    assert len(charger.rt.sessions.list("CP001")) == 2


def test_transaction_ids_are_unique_across_chargers(platform):
    from tests.integration.conftest import ChargerClient

    ids = set()
    for n in range(3):
        client = ChargerClient(platform, f"CP{n}").register()
        client.handshake()
        ids.add(client.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                   "timestamp": "2024-06-12T18:00:00Z"})["transactionId"])
    assert len(ids) == 3


def test_older_status_never_overwrites_newer(charger):
    charger.handshake()
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                                          "timestamp": "2024-06-12T18:10:00Z"})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing",
                                          "timestamp": "2024-06-12T18:00:00Z"})
    assert charger.rt.connectors.list("CP001")[0].status == "Charging"


def test_faulted_connector_keeps_its_error_code(charger):
    charger.handshake()
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted",
                                          "vendorErrorCode": "E42", "timestamp": "2024-06-12T18:10:00Z"})
    status = charger.rt.connectors.list("CP001")[0]
    assert (status.status, status.error_code, status.vendor_error_code) == ("Faulted", "GroundFailure", "E42")
    assert connector_state(True, status.status, None) is ConnectorState.FAULTED


def test_transaction_anomalies_are_acknowledged_stored_and_flagged(charger):
    rt = charger.rt
    charger.handshake()
    # Unknown transaction: acknowledged, kept for review
    assert charger.result("StopTransaction", {"transactionId": 4242, "meterStop": 10,
                                              "timestamp": "2024-06-12T20:00:00Z"}) == {"idTagInfo": {"status": "Accepted"}}
    assert [r.kind for r in rt.review.list("CP001")] == ["stop_for_unknown_transaction"]
    # A start before the clock was set (1970) and a stop below the start
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 5000,
                                             "timestamp": "1970-01-01T00:00:10Z"})["transactionId"]
    session = rt.sessions.get("CP001", tx)
    assert "clock_not_set" in session.flags
    # Stopped with transactionId -1 (started offline): matched to the only open session
    charger.result("StopTransaction", {"transactionId": -1, "meterStop": 4000, "timestamp": "2099-01-01T00:00:00Z"})
    session = rt.sessions.get("CP001", tx)
    assert not session.active and session.meter_stop_wh == 4000
    assert "meter_stop_below_start" in session.flags
    assert any(f.startswith("stop_matched_from_transaction_id_") for f in session.flags)
    # The same StopTransaction resent after a reboot: acknowledged, nothing changes
    charger.result("StopTransaction", {"transactionId": tx, "meterStop": 4000, "timestamp": "2099-01-01T00:00:00Z"})
    assert rt.sessions.get("CP001", tx).stopped_at == session.stopped_at


def test_schema_invalid_meter_values_are_acknowledged_and_kept(charger):
    charger.handshake()
    reply = charger.call("MeterValues", {"connectorId": "1", "meterValue": [
        {"timestamp": "2024-06-12T18:00:00Z", "sampledValue": [{"value": "123", "unit": "Wh"}]}]})
    assert reply[0] == 3 and reply[2] == {}
    kept = charger.rt.review.list("CP001")
    assert kept and kept[0].kind == "schema_violation" and '"connectorId": "1"' in kept[0].raw
    # what could be read is stored
    assert charger.rt.meter.latest("CP001", 1).energy_wh == 123


def test_another_chargers_transaction_id_is_not_touched(platform):
    from tests.integration.conftest import ChargerClient

    a = ChargerClient(platform, "CPA").register()
    b = ChargerClient(platform, "CPB").register()
    a.handshake()
    b.handshake()
    tx = a.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                       "timestamp": "2024-06-12T18:00:00Z"})["transactionId"]
    b.result("StopTransaction", {"transactionId": tx, "meterStop": 99999, "timestamp": "2024-06-12T19:00:00Z"})
    assert platform.sessions.get("CPA", tx).active
    assert [r.kind for r in platform.review.list("CPB")] == ["stop_for_unknown_transaction"]


def test_firmware_and_diagnostics_status_are_recorded(charger):
    charger.handshake()
    charger.result("FirmwareStatusNotification", {"status": "Downloading"})
    charger.result("DiagnosticsStatusNotification", {"status": "Uploaded"})
    view = charger.rt.chargers.get("CP001")
    assert (view.firmware_status, view.diagnostics_status) == ("Downloading", "Uploaded")


def test_authorize_heartbeat_and_data_transfer(charger):
    charger.handshake()
    assert charger.result("Authorize", {"idTag": "ABC"}) == {"idTagInfo": {"status": "Accepted"}}
    assert "currentTime" in charger.result("Heartbeat", {})
    assert charger.rt.chargers.get("CP001").last_seen is not None
    assert charger.result("DataTransfer", {"vendorId": "com.acme"}) == {"status": "UnknownVendorId"}


def test_fleet_overview_shows_what_the_app_needs(charger):
    from csms.views.fleet import charger_overview

    rt = charger.rt

    def fleet_overview(chargers, connectors, meter):  # every charger, as GET /v1/chargers reads them
        return [charger_overview(v.charge_point_id, chargers, connectors, meter) for v in chargers.list()]

    charger.handshake()
    charger.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22"})
    charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                                          "timestamp": "2024-06-12T18:00:00Z"})
    charger.result("MeterValues", _mv(1, None, "2024-06-12T18:01:00Z", _w(10, 6900)))
    (row,) = fleet_overview(rt.chargers, rt.connectors, rt.meter)
    assert (row.charge_point_id, row.online, row.vendor, row.power_w) == ("CP001", True, "Acme", 6900)
    assert row.connectors[0].state is ConnectorState.CHARGING
    assert rt.review.list("CP001") == []
    charger.disconnect()
    (row,) = fleet_overview(rt.chargers, rt.connectors, rt.meter)
    assert row.connectors[0].state is ConnectorState.OFFLINE and row.power_w == 0


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z"])
def test_a_time_out_of_range_is_a_bad_timestamp_not_an_unanswered_message(charger, stamp):
    # Given a charger whose clock gives a time at datetime's ends (its shift to UTC, or the meter's
    # retention added to it, overflowed: the platform answered InternalError "retry", so the
    # charger resent its StartTransaction or MeterValues for ever)
    charger.handshake()
    tx = charger.result("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                             "timestamp": stamp})["transactionId"]
    assert "bad_timestamp" in charger.rt.sessions.get("CP001", tx).flags  # started at its receipt
    assert charger.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
        {"timestamp": stamp, "sampledValue": [{"value": "1"}]},
        {"timestamp": "2024-06-12T18:00:00Z", "sampledValue": [{"value": "123"}]}]}) == {}
    assert charger.rt.meter.latest("CP001", 1).energy_wh == 123  # the readable element is stored
    assert charger.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                                                 "timestamp": stamp}) == {}
