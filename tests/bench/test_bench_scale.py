"""The scale model at a reduced size (the full run: ``python -m bench.bench_scale``): every
per-event cost is flat in fleet size, and a boot-less reconnect of a configured charger costs at
most one CALL and three DynamoDB requests. Counts, not timings."""

from __future__ import annotations

import json

from bench import bench_scale


def test_scale_model_small_sizes_is_flat_and_prints_one_json_object(capsys):
    assert bench_scale.main(["--sizes", "10,50"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["fleet_sizes"] == [10, 50]
    assert set(bench_scale.EVENTS) <= set(result["costs"])
    assert bench_scale.flat(result["costs"], [10, 50]) == []
    fields = {"read_requests", "write_requests", "read_units", "write_units", "management_posts", "apigw_messages"}
    assert all(set(c) == fields for by_size in result["costs"].values() for c in by_size.values())
    for size in ("10", "50"):
        reconnect = result["costs"]["reconnect_without_boot"][size]
        assert reconnect["management_posts"] <= 1
        assert reconnect["read_requests"] + reconnect["write_requests"] <= 3
        meter = result["costs"]["meter_values"][size]
        assert (meter["read_requests"], meter["write_requests"]) == (0, 1)
