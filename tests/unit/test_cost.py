"""The cost model: the API Gateway floor as AWS prices it, and this platform against it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csms.tooling import cost
from csms_local.cli import main
from csms_local.cmd_cost import HANDLER_CPU_US

COUNTS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "requests.json").read_text())


def test_floor_at_60_s_sampling_is_the_published_figure():
    # 43,200 messages a minute apart, each answered, plus 43,200 connection minutes: $0.097
    assert cost.floor(cost.Profile()) == pytest.approx(0.097, abs=0.001)


def test_platform_is_within_1_3_times_the_floor_at_60_s_with_reconnects_and_jobs():
    profile = cost.Profile()
    bill = cost.charger_month(profile, COUNTS, HANDLER_CPU_US)
    assert bill.total / cost.floor(profile) <= 1.3
    assert {line.item for line in bill.lines} >= {"API Gateway messages", "Lambda requests", "DynamoDB writes",
                                                  "Periodic jobs (share of fixed cost)", "WebSocket access logs",
                                                  "Meter archive (stream -> S3 Deep Archive)"}
    # reconnects are in it: without them the bill is lower
    assert cost.charger_month(cost.Profile(reconnects_per_day=0), COUNTS, HANDLER_CPU_US).total < bill.total - 0.002


def test_the_modelled_set_up_window_is_the_set_up_policys():
    from csms.ocpp.setup_policy import SETUP_WINDOW

    assert cost.SETUP_WINDOW_S == SETUP_WINDOW.total_seconds()


def test_a_read_on_the_hot_path_would_show_in_the_bill():
    profile = cost.Profile()
    worse = {**COUNTS, "MeterValues": {**COUNTS["MeterValues"], "reads": 1, "read_units": 1, "writes": 2, "write_units": 2}}
    assert cost.charger_month(profile, worse, HANDLER_CPU_US).total > cost.charger_month(profile, COUNTS, HANDLER_CPU_US).total + 0.01


def test_cli_prints_a_bill_and_rejects_bad_profiles(capsys):
    assert main(["cost", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ratio_to_floor"] == pytest.approx(result["total_usd"] / result["apigw_floor_usd"], rel=0.01)
    assert main(["cost", "--metering-hours", "30"]) == 2
    assert "hours per day" in capsys.readouterr().err


def test_the_security_extensions_writes_have_their_lines_priced_from_the_measured_counts():
    lines = lambda profile: {line.item: line for line in cost.charger_month(profile, COUNTS, HANDLER_CPU_US).lines}  # noqa: E731
    basic = lines(cost.Profile(security_events_per_month=10))
    event = COUNTS["SecurityEventNotification"]
    assert event["requests"] == {"PutItem": 1}  # one write, nothing on the charger's item
    assert basic["Security events"].per_month == pytest.approx(
        10 * (event["write_units"] * cost.PRICES["dynamodb_write_unit"] + 2 * cost.PRICES["apigw_ws_message"]
              + cost.PRICES["lambda_request"]))
    assert "Revocations (operator)" in basic and "Certificate renewals" not in basic
    certificates = lines(cost.Profile(security_profile=3))
    issue = COUNTS["Certificate issuance (ExtendedTriggerMessage, SignCertificate, CertificateSigned, answers)"]
    assert issue["management_posts"] == 2  # ExtendedTriggerMessage and CertificateSigned
    assert certificates["Certificate renewals"].per_month > 0
    # the recorded certificate makes every write to the charger's item dearer: more than the renewals
    assert certificates["Recorded certificate (charger item +0.5 KB)"].per_month > 10 * certificates["Certificate renewals"].per_month
    total = lambda profile: cost.charger_month(profile, COUNTS, HANDLER_CPU_US).total  # noqa: E731
    assert total(cost.Profile(security_profile=3)) > total(cost.Profile())
    with pytest.raises(ValueError):
        cost.Profile(security_profile=1)


def test_the_fleet_runs_queues_and_sender_are_priced_with_the_stacks_numbers():
    from adapters.fanout import READ_WORKERS
    from infra import constants

    assert cost.PLANNER_READ_WORKERS == READ_WORKERS and cost.SENDER_BATCH == constants.SENDER_BATCH
    assert cost.PLANNER_MEMORY_GB * 1024 == constants.FUNCTION_SIZES["ShardPlanner"][0]
    assert cost.SENDER_MEMORY_GB * 1024 == constants.FUNCTION_SIZES["ProfileSender"][0]
    profile = cost.Profile()
    lines = {line.item: line.per_month for line in cost.charger_month(profile, COUNTS, HANDLER_CPU_US).lines}
    assert lines["Fleet run: queues (SQS)"] > 0 and lines["Fleet run: profile sender (Lambda)"] > 0
    # more profiles sent, more sender and queue cost
    busier = {line.item: line.per_month for line in cost.charger_month(
        cost.Profile(profiles_per_session=40), COUNTS, HANDLER_CPU_US).lines}
    assert busier["Fleet run: queues (SQS)"] > lines["Fleet run: queues (SQS)"]
    assert busier["Fleet run: profile sender (Lambda)"] > 5 * lines["Fleet run: profile sender (Lambda)"]


def test_the_fleet_runs_site_tasks_and_event_ledger_are_priced():
    line = {l.item: l for l in cost.charger_month(cost.Profile(), COUNTS, HANDLER_CPU_US).lines}
    on_site = line["Fleet run: site look-ups and site tasks"].per_month
    off_site = {l.item: l for l in cost.charger_month(cost.Profile(site_chargers=0), COUNTS, HANDLER_CPU_US).lines}[
        "Fleet run: site look-ups and site tasks"].per_month
    assert on_site > off_site > 0  # every plugged-in vehicle's site look-up; more on a limited site (its site task)
    slow = cost.event_vehicle_run(cost.Profile(ddb_latency_ms=20))
    assert 0 < cost.event_vehicle_run(cost.Profile()) < slow  # stage 2's reads are in it
