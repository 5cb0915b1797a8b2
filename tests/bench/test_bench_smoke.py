"""The benchmarks at a reduced size, so `make bench` cannot rot: they run and their results hold
(gap to the LP optimum, caps, every message answered). No timing is asserted here."""

from __future__ import annotations

import asyncio

from bench import bench_handler, bench_planner, bench_throughput


def test_planner_bench_small_fleet_is_optimal_and_capped():
    uncapped = bench_planner.run(300, None)
    capped = bench_planner.run(300, 0.3)
    assert uncapped["method"] == "fill" and uncapped["gap_pct"] == 0
    assert capped["method"] == "lp" and capped["gap_pct"] == 0
    assert capped["max_load_kw"] <= capped["cap_kw"] + 0.1


def test_handler_bench_runs_both_sides(capsys):
    assert bench_handler.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "| MeterValues |" in out and "| handlers.default |" in out


def test_throughput_bench_answers_every_message():
    result = asyncio.run(bench_throughput.run(3, 4))
    assert result["messages"] == 12 and result["msgs_per_s"] > 0


def test_throughput_bench_with_its_chargers_in_a_client_process_answers_and_stores_every_message():
    """The default of the command line (the chargers out of the platform's process), storm included."""
    result = asyncio.run(bench_throughput.run(3, 2, storm=True, processes=1))
    assert result["messages"] == 6 and result["storm_answered"] == 6
    assert result["readings_stored"] == result["readings_sent"] == 12 and result["chargers_missing_readings"] == 0


def test_fuzz_bench_small_run_lets_nothing_escape():
    from bench import fuzz_frames

    assert fuzz_frames.run(1500, seed=7)["escaped"] == 0


def test_fleet_bench_shard_holds_every_cap_and_matches_the_exact_lp():
    from bench import bench_fleet

    starts, cost = bench_fleet.window_and_costs()
    shard = bench_fleet.run_shard(200, 1, starts, cost, exact=True)
    assert shard["vehicles"] >= 200 and shard["sites_over_limit"] == 0 and shard["event_over_kw"] <= 1e-6
    assert shard["gap_pct"] == 0 or abs(shard["gap_pct"]) < 1e-6
    assert shard["unmet_kwh"] <= shard["exact_unmet_kwh"] + 1e-6


def test_fanout_bench_sites_and_an_event_through_both_live_stages_holds_every_cap():
    from bench import bench_fanout

    result = bench_fanout.measure_sites_and_event(300)
    assert result["units"] >= 2 and result["vehicles"] > 0 and result["orders"] >= result["vehicles"]
    assert result["event_over_kw"] == 0 and result["held_max_kw"] <= result["cap_kw"]
    assert result["sites"] > 0 and result["sites_over_limit"] == 0 and result["site_over_kw"] <= 1e-6
