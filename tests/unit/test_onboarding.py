"""Issue 18's rules and active check with the in-memory fakes (no moto): a simulated charger
(``csms_local.sim.EvCharger``'s physics) talks to the real central system and call queue, and
the report must judge what a person reading the frames would."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from csms.model import BootInfo
from csms.ocpp.answers import AnswerHandler
from csms.ocpp.commands import Commander
from csms.ocpp.v16.central import CentralSystem
from csms.onboarding import report as reports
from csms.onboarding.operations import OnboardingOperations
from csms.onboarding.requirements import TableError, load, parse
from csms.operations import Forbidden, Principal
from csms_local.sim import EvCharger, EvVisit, _periods_w
from tests.fakes import (MemoryCallQueue, MemoryChargers, MemoryConnectors, MemoryMeter, MemoryOnboarding,
                         MemoryPoster, MemoryReview, MemorySessions)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
OPERATOR = Principal("ops", operator=True)
TLS = {"method": "basic", "profile": 2, "tls_version": "TLSv1.2", "tls_cipher": "ECDHE-RSA-AES128-GCM-SHA256"}


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Charger:
    """A charger driven through the real central system: sends CALLs, answers the platform's calls
    (posted frames and route responses) the way its ``behaviour`` says."""

    def __init__(self, behaviour: str = "compliant", *, sample_s: int = 60, clock_offset_s: float = 0.0,
                 tls: dict | None = None):
        self.behaviour, self.sample_s, self.clock_offset = behaviour, sample_s, timedelta(seconds=clock_offset_s)
        self.now = T0
        clock = lambda: self.now  # noqa: E731
        self.chargers, self.connectors, self.sessions = MemoryChargers(), MemoryConnectors(), MemorySessions()
        self.meter, self.calls, self.review, self.poster = MemoryMeter(), MemoryCallQueue(), MemoryReview(), MemoryPoster()
        self.commander = Commander(self.calls, self.chargers, self.poster, clock=clock)
        self.central = CentralSystem(self.chargers, self.connectors, self.sessions, self.meter, self.review, clock=clock,
                                     on_response=AnswerHandler(self.commander))
        self.store = MemoryOnboarding(self.chargers, self.connectors, self.sessions, self.meter, self.calls, self.review)
        self.replans: list[str] = []
        self.ops = OnboardingOperations(facts=self.store, checks=self.store, verdicts=self.store,
                                        commander=self.commander, plan_of=self.sessions.plan_of,
                                        replan=self.replans.append, clock=clock)
        self.chargers.register("CP1", "hash", T0)
        self.chargers.connect("CP1", "conn-1", T0)
        self.chargers.record_capabilities("CP1", {"ChargingScheduleAllowedChargingRateUnit": "Current,Power"})
        if tls is not None:
            self.chargers.items["CP1"]["security"] = {**tls, "at": T0.isoformat()}
        self.ev = EvCharger(max_power_w=11_000, register_wh=50_000)
        self.config: dict[str, str] = {"MeterValueSampleInterval": "300"}
        self.tx: int | None = None
        self.status_sent = "Available"
        self.last_sample = T0
        self.answered = 0
        self.received: list[tuple[str, dict]] = []

    # ------------------------------------------------------------ charger -> platform
    def call(self, action: str, payload: dict) -> dict:
        reply = json.loads(self.central.handle_frame("CP1", "conn-1", json.dumps([2, f"m{self.now.timestamp()}{action}",
                                                                                  action, payload])))
        assert reply[0] == 3, reply
        self.pump()
        return reply[2]

    def stamp(self) -> str:
        return iso(self.now + self.clock_offset)

    def boot(self) -> None:
        self.call("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22",
                                       "firmwareVersion": "2.1"})

    def status(self, status: str) -> None:
        self.status_sent = status
        self.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status,
                                         "timestamp": self.stamp()})

    def plug_in(self) -> int:
        self.ev.visit, self.ev.drawn_wh = EvVisit("v", self.now, self.now + timedelta(hours=8), 60_000), 0.0
        self.status("Preparing")
        self.tx = self.call("StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": round(self.ev.register_wh),
                                                 "timestamp": self.stamp()})["transactionId"]
        return self.tx

    def sample(self) -> None:
        power = self.ev.power_w(self.now)
        values = [{"value": f"{self.ev.register_wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
        if self.behaviour == "current_only":
            values += [{"value": f"{power / 690:.1f}", "measurand": "Current.Import", "unit": "A", "phase": p}
                       for p in ("L1", "L2", "L3")]
        else:
            values.append({"value": f"{power:.0f}", "measurand": "Power.Active.Import", "unit": "W"})
        self.call("MeterValues", {"connectorId": 1, "transactionId": self.tx,
                                  "meterValue": [{"timestamp": self.stamp(), "sampledValue": values}]})

    def run(self, seconds: int, step: int = 10, check: OnboardingOperations | None = None) -> None:
        """Let ``seconds`` pass: draw energy, report status changes and samples, answer calls (and
        advance a running check on each step, as a poller would)."""
        for _ in range(seconds // step):
            self.ev.advance(self.now, step)
            self.now += timedelta(seconds=step)
            if self.ev.visit is not None:
                status = self.ev.status(self.now)
                if status != self.status_sent:
                    self.status(status)
                if (self.now - self.last_sample).total_seconds() >= self.sample_s:
                    self.sample()
                    self.last_sample = self.now
            self.pump()
            if check is not None:
                check.check(OPERATOR, "CP1")

    # ------------------------------------------------------------ platform -> charger
    def pump(self) -> None:
        while self.answered < len(self.poster.sent):
            _, frame = self.poster.sent[self.answered]
            self.answered += 1
            self._answer(json.loads(frame))

    def _answer(self, message: list) -> None:
        _, unique_id, action, payload = message
        self.received.append((action, payload))
        after = None
        if action == "ChangeConfiguration":
            self.config[payload["key"]] = payload["value"]
            result = {"status": "Accepted"}
        elif action == "GetConfiguration":
            result = {"configurationKey": [{"key": k, "readonly": False, "value": v} for k, v in self.config.items()
                                           if not payload.get("key") or k in payload["key"]]}
        elif action == "TriggerMessage":
            result = {"status": "Accepted"}
            if self.behaviour != "silent_trigger":
                after = payload["requestedMessage"]
        elif action == "SetChargingProfile":
            result = {"status": "Accepted"}
            if self.behaviour != "ignores":
                profile = payload["csChargingProfiles"]
                schedule = profile["chargingSchedule"]
                self.ev.set_profile(profile["chargingProfilePurpose"],
                                    datetime.fromisoformat(schedule["startSchedule"].replace("Z", "+00:00")),
                                    _periods_w(schedule, 3, 230.0), schedule.get("duration"))
        elif action == "ClearChargingProfile":
            self.ev.clear_profiles()
            result = {"status": "Accepted"}
        else:
            result = {"status": "Rejected"}
        following = self.central.handle_frame("CP1", "conn-1", json.dumps([3, unique_id, result]))
        if after == "BootNotification":
            self.boot()
        elif after == "StatusNotification":
            self.status(self.ev.status(self.now) if self.ev.visit else "Available")
        if following:
            self.poster.sent.append(("conn-1", following))
        self.pump()

    def configure(self) -> None:
        for key, value in (("MeterValuesSampledData", "Energy.Active.Import.Register,Power.Active.Import"),
                           ("MeterValueSampleInterval", "60")):
            self.commander.send("CP1", "ChangeConfiguration", {"key": key, "value": value}, origin="setup")
            self.pump()


def _states(ops: OnboardingOperations) -> dict[str, str]:
    return {r["id"]: r["state"] for r in ops.report(OPERATOR, "CP1")["requirements"]}


def _session(behaviour: str, sample_s: int = 60, minutes: int = 10, **kwargs) -> Charger:
    c = Charger(behaviour, sample_s=sample_s, **kwargs)
    c.boot()
    c.status("Available")
    c.configure()
    c.plug_in()
    c.run(minutes * 60)
    return c


def test_the_shipped_table_loads_and_every_entry_names_a_known_rule():
    table = load()
    assert len(table) >= 14 and len({r.id for r in table}) == len(table)
    assert {r.id for r in table if r.needs_active_check} >= {"trigger-boot", "trigger-status", "profile-effective"}


def test_a_table_entry_with_an_unknown_rule_or_a_missing_field_is_refused_with_its_name():
    with pytest.raises(TableError, match="x1: unknown rule 'nope'"):
        parse({"requirements": [{"id": "x1", "title": "t", "guide": "g", "rule": "nope"}]})
    with pytest.raises(TableError, match="lacks 'guide'"):
        parse({"requirements": [{"id": "x1", "title": "t", "rule": "tls"}]})


def test_an_operator_relaxes_a_requirement_in_the_table_alone():
    # Given a charger sampling every 300 s
    c = _session("compliant", sample_s=300, minutes=20)
    assert _states(c.ops)["sample-interval"] == "fail"
    # When the operator's table accepts 300 s (data only, no code)
    relaxed = parse({"requirements": [dict(r.__dict__, params={**r.params, "expected_s": 300})
                                      if r.id == "sample-interval" else dict(r.__dict__) for r in load()]})
    c.ops.table = relaxed
    assert _states(c.ops)["sample-interval"] == "pass"


def test_a_compliant_charger_passes_what_passive_evidence_can_show():
    c = _session("compliant", tls=TLS)
    report = c.ops.report(OPERATOR, "CP1")
    states = {r["id"]: r["state"] for r in report["requirements"]}
    assert states["wss-tls"] == states["auth"] == states["clock"] == "pass"
    assert states["measurands"] == states["config-measurands"] == states["config-interval"] == "pass"
    assert states["sample-interval"] == states["statuses"] == states["meter-consistency"] == "pass"
    assert states["trigger-boot"] == "not_seen" and states["firmware"] == "not_seen"
    interval = next(r for r in report["requirements"] if r["id"] == "sample-interval")
    assert interval["facts"]["interval_s"] == 60 and interval["evidence"][0]["frame"]["sampledValue"]


def test_a_slow_current_only_charger_fails_sampling_and_measurands_with_the_frames_that_show_it():
    c = _session("current_only", sample_s=300, minutes=20)
    report = c.ops.report(OPERATOR, "CP1")
    by_id = {r["id"]: r for r in report["requirements"]}
    assert by_id["config-interval"]["state"] == "pass"  # it accepted 60 ...
    assert by_id["sample-interval"]["state"] == "fail"  # ... and samples every 300 s
    assert by_id["sample-interval"]["facts"]["interval_s"] == 300
    assert by_id["measurands"]["state"] == "fail" and "Voltage" in by_id["measurands"]["detail"]
    assert {"measurand": "Current.Import"}.items() <= by_id["measurands"]["evidence"][0]["frame"]["sampledValue"][1].items()


def test_a_charger_clock_ten_minutes_slow_fails_the_clock_requirement():
    c = _session("compliant", clock_offset_s=-600)
    clock = next(r for r in c.ops.report(OPERATOR, "CP1")["requirements"] if r["id"] == "clock")
    assert clock["state"] == "fail" and clock["facts"]["offset_s"] == -600


def test_a_charger_that_ignores_a_pause_fails_effectiveness_passively():
    c = _session("ignores")
    tx = c.tx
    c.commander.set_limit("CP1", [(0, 0.0)], transaction_id=tx, start=c.now)
    c.pump()
    c.run(300)
    by_id = {r["id"]: r for r in c.ops.report(OPERATOR, "CP1")["requirements"]}
    assert by_id["profile-accepted"]["state"] == "pass"
    assert by_id["profile-effective"]["state"] == "fail"
    assert "power still 11000 W" in by_id["profile-effective"]["evidence"][1]["what"]


def test_only_operators_see_reports():
    c = _session("compliant", minutes=2)
    with pytest.raises(Forbidden):
        c.ops.report(Principal("dana"), "CP1")


def _run_check(c: Charger) -> dict:
    c.sessions.save_plan("CP1", c.tx, json.dumps([[iso(c.now - timedelta(minutes=5)), iso(c.now + timedelta(hours=3)),
                                                   7000]]), "plan-1")
    started = c.now
    c.ops.start_check(OPERATOR, "CP1")
    c.pump()
    for _ in range(60):
        check = c.ops.check(OPERATOR, "CP1")
        if check["state"] == "done":
            break
        c.run(10, check=c.ops)
    check = c.ops.check(OPERATOR, "CP1")
    check["elapsed_s"] = (c.now - started).total_seconds()
    return check


def test_the_active_check_passes_a_compliant_charger_and_leaves_the_drivers_plan_in_force():
    c = _session("compliant", minutes=3)
    check = _run_check(c)
    assert check["state"] == "done" and check["elapsed_s"] <= 300
    states = {k: v["state"] for k, v in check["steps"].items()}
    assert states == {"trigger_boot": "pass", "trigger_status": "pass", "configuration": "pass",
                      "config:MeterValuesSampledData": "pass", "config:MeterValueSampleInterval": "pass",
                      "pause:answer": "pass", "pause": "pass", "resume": "pass", "restore": "pass"}
    assert check["restored"] == "plan" and c.replans == ["CP1"]
    # The charger's TxProfile is the driver's 7 kW again, and it charges at it
    assert c.ev.limit_w(c.now) == 7000 and c.ev.power_w(c.now) == 7000
    by_id = {r["id"]: r for r in c.ops.report(OPERATOR, "CP1")["requirements"]}
    assert by_id["profile-effective"]["state"] == "pass" and by_id["profile-effective"]["source"] == "active check"
    assert by_id["trigger-boot"]["state"] == "pass"
    assert any("check started" in line for line in check["progress"])


def test_the_active_check_fails_a_charger_that_ignores_the_pause_and_still_restores():
    c = _session("ignores", minutes=3)
    check = _run_check(c)
    assert check["state"] == "done" and check["elapsed_s"] <= 300
    assert check["steps"]["pause"]["state"] == "fail" and check["steps"]["resume"]["state"] == "not_seen"
    assert check["steps"]["restore"]["state"] == "pass"
    by_id = {r["id"]: r for r in c.ops.report(OPERATOR, "CP1")["requirements"]}
    assert by_id["profile-accepted"]["state"] == "pass" and by_id["profile-effective"]["state"] == "fail"
    assert "SetChargingProfile" == c.received[-1][0]  # the plan went out again
    model = c.ops.models_report(OPERATOR)
    (row,) = model
    assert (row["vendor"], row["model"], row["firmware"]) == ("Acme", "W22", "2.1")
    assert "Smart Charging: the limit is effective: fails on 1 of 1 chargers" in row["failing"]


def test_a_trigger_accepted_but_never_sent_fails_and_the_check_never_leaves_a_pause():
    c = _session("silent_trigger", minutes=3)
    check = _run_check(c)
    assert check["steps"]["trigger_boot"]["state"] == "fail"
    assert "no BootNotification" in check["steps"]["trigger_boot"]["detail"]
    assert check["steps"]["pause"]["state"] == "pass"  # the rest of the check still runs
    assert c.ev.power_w(c.now) > 0


def test_an_aborted_check_restores_the_plan_at_once():
    c = _session("compliant", minutes=3)
    c.sessions.save_plan("CP1", c.tx, json.dumps([[iso(c.now), iso(c.now + timedelta(hours=3)), 5000]]), "p")
    c.ops.start_check(OPERATOR, "CP1")
    c.pump()
    for _ in range(12):
        c.run(10, check=c.ops)
        if c.ops.check(OPERATOR, "CP1")["step"] == "resume":
            break
    c.ops.abort_check(OPERATOR, "CP1")
    c.pump()
    c.run(20, check=c.ops)
    check = c.ops.check(OPERATOR, "CP1")
    assert check["state"] == "done" and check["steps"]["restore"]["state"] == "pass"
    assert c.ev.limit_w(c.now) == 5000


def test_markdown_and_html_one_pagers_name_every_requirement():
    c = _session("current_only", sample_s=300, minutes=20)
    report = c.ops.evaluate("CP1")
    text = c.ops.report(OPERATOR, "CP1", "markdown")
    assert text.startswith("# Integration report: CP1") and "Acme W22, firmware 2.1" in text
    assert all(line.requirement.title.replace("|", "\\|") in text for line in report.lines)
    assert "| Actually samples every ~60 s | required | **FAIL** | observed every 300 s" in text
    page = reports.html_page(reports.report_json(report))
    assert "<table>" in page and page.count("<tr class=") == len(report.lines)


def test_a_register_that_disagrees_with_the_power_fails_consistency():
    # Given a charger whose Power.Active.Import reads 30 % high (its register is right)
    c = _session("compliant", minutes=2)
    physics = c.ev.power_w
    honest_sample = c.sample

    def inflated() -> None:
        c.ev.power_w = lambda at: physics(at) * 1.3  # type: ignore[method-assign]
        try:
            honest_sample()
        finally:
            c.ev.power_w = physics  # type: ignore[method-assign]

    c.sample = inflated  # type: ignore[method-assign]
    c.run(600)
    line = next(r for r in c.ops.report(OPERATOR, "CP1")["requirements"] if r["id"] == "meter-consistency")
    assert line["state"] == "fail" and "∫power dt" in line["detail"]


def test_docs_list_every_requirement_of_the_table():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "onboarding.md").read_text()
    assert all(f"| `{r.id}` | {r.title} |" in text for r in load())


def test_a_check_nobody_looks_at_is_finished_and_restored_by_the_next_start():
    # Given a check whose poller went away during the pause
    c = _session("compliant", minutes=3)
    c.sessions.save_plan("CP1", c.tx, json.dumps([[iso(c.now), iso(c.now + timedelta(hours=3)), 6000]]), "p")
    first = c.ops.start_check(OPERATOR, "CP1")
    c.pump()
    while c.ops.check(OPERATOR, "CP1")["step"] != "pause":
        c.run(10, check=c.ops)
    c.run(10, check=c.ops)
    assert c.ev.limit_w(c.now) == 0  # paused ...
    c.run(400)  # ... and nobody looks for 400 s: the pause's duration has lifted it on the charger
    assert c.ev.limit_w(c.now) != 0
    # When an operator starts a new check, the old one is finished first: the plan goes out again
    with pytest.raises(Exception, match="already running"):
        c.ops.start_check(OPERATOR, "CP1")
    c.pump()
    c.run(10)
    assert c.ops.check(OPERATOR, "CP1")["id"] == first["id"]
    assert c.ops.check(OPERATOR, "CP1")["state"] == "done" and c.ev.limit_w(c.now) == 6000
    assert c.ops.start_check(OPERATOR, "CP1")["id"] != first["id"]
