"""``csms event add``'s target flags: an empty value is a mistake to refuse, never the whole fleet
(``--sites "$SITES"`` with SITES unset made a fleet-wide cap)."""

from __future__ import annotations

import argparse

import pytest

from csms_local import cmd_signals


def _add(monkeypatch, **target) -> dict:
    sent: dict = {}

    def fake_request(args, method, path, body, flags=None):
        sent.update(body)
        return {"id": "E1"}

    monkeypatch.setattr(cmd_signals, "request", fake_request)
    args = argparse.Namespace(start="2030-01-01T17:00:00Z", end="2030-01-01T19:00:00Z", cap_kw=5.0, reduction_kw=None,
                              region=None, sites=None, chargers=None)
    for key, value in target.items():
        setattr(args, key, value)
    assert cmd_signals.add_event(args) == 0
    return sent["target"]


@pytest.mark.parametrize("flag,kind", [("sites", "sites"), ("chargers", "chargers"), ("region", "region")])
def test_an_empty_target_flag_keeps_its_kind_so_the_api_refuses_it(monkeypatch, flag, kind):
    target = _add(monkeypatch, **{flag: ""})
    assert target["kind"] == kind  # the API answers "a sites event needs at least one id" / 422 on the region


def test_no_target_flag_is_the_fleet(monkeypatch):
    assert _add(monkeypatch) == {"kind": "fleet", "ids": []}
    assert _add(monkeypatch, sites="a, b,") == {"kind": "sites", "ids": ["a", "b"]}
