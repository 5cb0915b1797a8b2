"""Sites and targeted grid-demand events through the HTTP API's Lambda handler against moto (issue
16): a site created, changed and listed, chargers assigned and moved between sites (the site's
chargers are one Query, never a Scan), events on a region / sites / chargers with a cap or a
reduction, bad input answered 4xx with a message, and drivers refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.settings import Settings
from adapters.wiring import build_runtime
from csms.timeutil import iso, utcnow
from handlers import _runtime
from tests.integration.test_http_api import ALICE, call


@pytest.fixture
def fleet(platform):
    asked: list[str] = []
    rt = _runtime.install(build_runtime(Settings.from_env(), replan=asked.append, counters=_runtime.lambda_counters()))
    for cp in ("A1", "A2", "B1"):
        assert call("POST", "/v1/chargers", body={"id": cp})[0] == 201
    yield rt, asked


def test_an_operator_sets_sites_and_moves_chargers_between_them(fleet):
    rt, asked = fleet
    status, site = call("PUT", "/v1/sites/depot", body={"name": "Depot", "region": "north", "limit_kw": 22})
    assert status == 201 and site["connection_kw"] == 22 and site["chargers"] == []
    status, site = call("PUT", "/v1/sites/house", body={"phase_limit_a": 60, "phases": 1, "region": "north"})
    assert status == 201 and site["connection_kw"] == pytest.approx(13.8)  # 60 A x 230 V on one phase
    for cp in ("A1", "A2"):
        assert call("PUT", f"/v1/sites/depot/chargers/{cp}")[0] == 200
    status, moved = call("PUT", "/v1/sites/house/chargers/A2")
    assert status == 200 and moved["previous_site"] == "depot"
    assert call("GET", "/v1/sites/depot")[1]["chargers"] == ["A1"]
    assert call("GET", "/v1/sites/house")[1]["chargers"] == ["A2"]
    assert rt.sites.site_of("A2").site_id == "house"
    assert sorted(s.site_id for s in rt.sites.in_region("north")) == ["depot", "house"]
    status, changed = call("PUT", "/v1/sites/depot", body={"region": "south", "limit_kw": 11})
    assert status == 200 and changed["chargers"] == ["A1"]  # its chargers stay
    assert [s.site_id for s in rt.sites.in_region("north")] == ["house"]  # the region moved with it
    assert [s["id"] for s in call("GET", "/v1/sites")[1]] == ["depot", "house"]
    assert "A1" in asked and "A2" in asked  # each change re-plans what it touched
    assert call("DELETE", "/v1/sites/house/chargers/A2")[0] == 204
    assert rt.sites.site_of("A2") is None
    assert call("DELETE", "/v1/sites/depot")[0] == 204
    assert rt.sites.site_of("A1") is None and call("GET", "/v1/sites/depot")[0] == 404
    assert rt.sites.sites_of(["A1", "A2", "B1"]) == {"A1": None, "A2": None, "B1": None}


@pytest.mark.parametrize("method,path,body,status,words", [
    ("PUT", "/v1/sites/depot", {"limit_kw": 0}, 422, "limit_kw"),
    ("PUT", "/v1/sites/depot", {"limit_kw": 5e6}, 422, "limit_kw"),
    ("PUT", "/v1/sites/depot", {"phases": 2, "phase_limit_a": 32}, 422, "phases"),
    # a JSON true or "5" is not a power: read as 1 kW / 5 kW it capped a site or the whole fleet
    ("PUT", "/v1/sites/depot", {"limit_kw": True}, 422, "limit_kw"),
    ("PUT", "/v1/sites/depot", {"phase_limit_a": "32"}, 422, "phase_limit_a"),
    ("POST", "/v1/events", {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z", "cap_kw": True}, 422,
     "cap_kw"),
    ("POST", "/v1/events", {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z", "reduction_kw": "5"},
     422, "reduction_kw"),
    ("PUT", "/v1/sites/bad%20id", {"limit_kw": 5}, 400, "site id"),
    ("PUT", "/v1/sites/depot/chargers/A1", None, 404, "no site"),
    ("PUT", "/v1/sites/depot/chargers/NOPE", None, 404, "no charger"),
    ("POST", "/v1/events", {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z"}, 400, "cap_kw or reduction_kw"),
    ("POST", "/v1/events", {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z", "cap_kw": 5,
                            "target": {"kind": "region", "ids": ["a", "b"]}}, 400, "one region"),
    ("POST", "/v1/events", {"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z", "cap_kw": 5,
                            "target": {"kind": "postcode", "ids": ["x"]}}, 422, "kind"),
])
def test_bad_site_and_event_input_is_a_4xx_with_a_message_and_changes_nothing(fleet, method, path, body, status, words):
    rt, _ = fleet
    got, answer = call(method, path, body=body)
    assert got == status and words in str(answer), answer
    assert rt.sites.listed() == [] and rt.events.grid_events(utcnow()) == []


def test_events_target_a_region_sites_or_chargers_with_a_cap_or_a_reduction(fleet):
    rt, asked = fleet
    call("PUT", "/v1/sites/depot", body={"region": "north", "limit_kw": 22})
    call("PUT", "/v1/sites/depot/chargers/A1")
    start, end = utcnow() + timedelta(hours=1), utcnow() + timedelta(hours=3)
    made = []
    for body in ({"cap_kw": 10, "target": {"kind": "region", "ids": ["north"]}},
                 {"reduction_kw": 5, "target": {"kind": "sites", "ids": ["depot"]}},
                 {"cap_kw": 3, "target": {"kind": "chargers", "ids": ["B1"]}},
                 {"cap_kw": 100}):
        status, event = call("POST", "/v1/events", body={"start": iso(start), "end": iso(end), **body})
        assert status == 201, event
        made.append(event)
    listed = call("GET", "/v1/events")[1]
    assert sorted((e["target"]["kind"], e["cap_kw"], e["reduction_kw"]) for e in listed) == [  # same start: any order
        ("chargers", 3, None), ("fleet", 100, None), ("region", 10, None), ("sites", None, 5)]
    assert [e.cap_kw for e in rt.events.active(utcnow())] == [100]  # only the fleet-wide one caps the fleet run
    assert "B1" in asked and "A1" in asked and "*" in asked  # chargers, the site's first charger, the fleet
    assert call("DELETE", f"/v1/events/{made[1]['id']}")[0] == 204
    assert {e["id"]: e["cancelled"] for e in call("GET", "/v1/events")[1]} == {e["id"]: e is made[1] for e in made}


def test_drivers_cannot_touch_sites(fleet):
    assert call("GET", "/v1/sites", who=ALICE)[0] == 403
    assert call("PUT", "/v1/sites/depot", who=ALICE, body={"limit_kw": 5})[0] == 403
    rt, _ = fleet
    assert rt.sites.listed() == []


def test_creating_a_site_that_exists_is_a_409_and_leaves_it_as_it_was(fleet):
    # new-user probe: csms site add silently overwrote an existing site
    rt, _ = fleet
    status, site = call("POST", "/v1/sites", body={"id": "depot", "region": "north", "limit_kw": 22})
    assert status == 201 and site["id"] == "depot" and site["connection_kw"] == 22
    status, refused = call("POST", "/v1/sites", body={"id": "depot", "limit_kw": 5})
    assert status == 409 and "site depot already exists" in refused["message"] and "--replace" in refused["message"]
    assert rt.sites.get("depot").limit_kw == 22 and [s.site_id for s in rt.sites.in_region("north")] == ["depot"]
    assert call("PUT", "/v1/sites/depot", body={"limit_kw": 5})[0] == 200  # PUT replaces, as documented
    assert rt.sites.get("depot").limit_kw == 5
    assert call("POST", "/v1/sites", body={"id": "bad id", "limit_kw": 5})[0] == 400


def test_a_site_an_event_targets_is_not_removed_until_the_event_is_cancelled(fleet):
    """New-user probe: removing a site left its event stored, to cap a new site made later with the
    same id. The removal is refused in one line that names the event and how to cancel it."""
    rt, _ = fleet
    assert call("PUT", "/v1/sites/depot", body={"limit_kw": 22})[0] == 201
    assert call("PUT", "/v1/sites/yard", body={"limit_kw": 11})[0] == 201
    assert call("PUT", "/v1/sites/depot/chargers/A1")[0] == 200
    start = utcnow() + timedelta(hours=1)
    status, event = call("POST", "/v1/events", body={"start": iso(start), "end": iso(start + timedelta(hours=2)),
                                                     "cap_kw": 5, "target": {"kind": "sites", "ids": ["yard", "depot"]}})
    assert status == 201
    status, answer = call("DELETE", "/v1/sites/depot")
    assert status == 409 and answer["message"] == (
        f"site depot is targeted by grid-demand event {event['id']}: cancel it first "
        f"(csms event cancel {event['id']}), or remove the site after it ends")
    assert rt.sites.get("depot") is not None and rt.sites.site_of("A1").site_id == "depot"  # nothing changed
    assert call("DELETE", f"/v1/events/{event['id']}")[0] == 204
    assert call("DELETE", "/v1/sites/depot")[0] == 204
    assert rt.sites.get("depot") is None and rt.sites.site_of("A1") is None
