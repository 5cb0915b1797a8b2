"""OCPP-J framing through the $default route: replies, CALLERRORs with 1.6 codes, fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import default
from tests import events


def _error(reply: str | None) -> tuple[str, str]:
    message = json.loads(reply)
    assert message[0] == 4 and len(message) == 5 and isinstance(message[3], str) and isinstance(message[4], dict)
    return message[1], message[2]


@pytest.mark.parametrize(
    "frame, expected",
    [
        ('[2,"u1","FooBar",{}]', ("u1", "NotImplemented")),
        ('[2,"u2","Reset",{"type":"Hard"}]', ("u2", "NotSupported")),
        ('[2,"u3","BootNotification",{"chargePointModel":"M"}]', ("u3", "OccurenceConstraintViolation")),
        ('[2,"u4","BootNotification",{"chargePointVendor":1,"chargePointModel":"M"}]', ("u4", "TypeConstraintViolation")),
        ('[2,"u5","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Bogus"}]',
         ("u5", "PropertyConstraintViolation")),
        ('[2,"u6","Heartbeat",{"extra":1}]', ("u6", "FormationViolation")),
        ('[2,"u7","Heartbeat"]', ("u7", "FormationViolation")),
        ('[2,"u8","Heartbeat",[]]', ("u8", "FormationViolation")),
        ("not json", ("-1", "FormationViolation")),
        ('{"a":1}', ("-1", "FormationViolation")),
        ("[]", ("-1", "FormationViolation")),
        ('[2,"' + "x" * 37 + '","Heartbeat",{}]', ("-1", "FormationViolation")),
        ('["2","u9","Heartbeat",{}]', ("u9", "FormationViolation")),
        ("[2,\"u10\",\"Heartbeat\",{\"a\":NaN}]", ("-1", "FormationViolation")),
    ],
)
def test_bad_calls_get_a_callerror_with_the_16_code(charger, frame, expected):
    charger.handshake()
    assert _error(charger.send(frame)) == expected


@pytest.mark.parametrize(
    "frame",
    ['[3,"x",{}]', '[4,"x","GenericError","",{}]', '[5,"x"]', '[3,7,{}]', '[4,"x"]', "[9]"],
)
def test_responses_and_unknown_message_types_get_no_reply(charger, frame):
    charger.handshake()
    assert charger.send(frame) is None


def test_binary_frame_is_decoded(charger):
    import base64

    charger.handshake()
    event = events.default_event("CP001", charger.connection_id, base64.b64encode(b'[2,"b1","Heartbeat",{}]').decode())
    event["isBase64Encoded"] = True
    reply = json.loads(default.lambda_handler(event, None)["body"])
    assert reply[0] == 3 and reply[1] == "b1"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
_actions = st.sampled_from(
    ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "StartTransaction", "StopTransaction",
     "Authorize", "DataTransfer", "FirmwareStatusNotification", "DiagnosticsStatusNotification", "Reset", "X"]
)
_frames = st.one_of(
    st.text(max_size=60),
    _json.map(json.dumps),
    st.tuples(st.sampled_from([2, 3, 4, 5, "2"]), st.text(max_size=40), _actions, _json).map(lambda t: json.dumps(list(t))),
    st.tuples(_actions, st.dictionaries(
        st.sampled_from(["connectorId", "transactionId", "meterStart", "meterStop", "timestamp", "status", "errorCode",
                         "idTag", "meterValue", "chargePointVendor", "chargePointModel", "sampledValue", "value"]),
        _json, max_size=6)).map(lambda t: json.dumps([2, "fz", t[0], t[1]])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=_frames)
def test_arbitrary_frames_never_crash_and_replies_are_valid_ocpp_j(charger, frame):
    # Given any frame at all, When it reaches $default through the real handler
    response = default.lambda_handler(events.default_event("CP001", "conn-fuzz", frame), None)
    # Then the route answers 200 with a valid OCPP-J reply or nothing
    assert response["statusCode"] == 200
    body = response.get("body")
    if body is None:
        return
    message = json.loads(body)
    assert isinstance(message, list) and message[0] in (3, 4)
    assert isinstance(message[1], str) and 0 < len(message[1]) <= 36
    if message[0] == 3:
        assert len(message) == 3 and isinstance(message[2], dict)
    else:
        assert len(message) == 5 and isinstance(message[2], str) and isinstance(message[4], dict)
        assert message[2] != "InternalError", body  # a data problem is never an internal error


@pytest.mark.parametrize("field, value", [("meterStart", 1e308), ("connectorId", 2**70), ("meterStart", "1e400")])
def test_numbers_dynamodb_cannot_store_are_acknowledged_and_flagged_not_retried_forever(charger, field, value):
    # Found by bench/fuzz_frames.py: meterStart 1e308 passed the schema and failed storage, so the
    # charger got InternalError and would have retried the StartTransaction forever.
    payload = {"connectorId": 1, "idTag": "TAG", "meterStart": 100, "timestamp": "2024-06-12T18:00:00Z", field: value}
    charger.handshake()
    reply = json.loads(default.lambda_handler(events.default_event("CP001", charger.connection_id, json.dumps(
        [2, "big", "StartTransaction", payload])), None)["body"])
    assert reply[0] == 3 and reply[2]["transactionId"] > 0, reply
    assert charger.rt.review.list("CP001")  # kept for a person to look at


def test_meter_value_beyond_any_meter_is_acknowledged_and_kept_for_review(charger):
    charger.handshake()
    frame = [2, "mv", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2024-06-12T18:00:00Z",
                                                                          "sampledValue": [{"value": "1e308"}]}]}]
    reply = json.loads(default.lambda_handler(events.default_event("CP001", charger.connection_id, json.dumps(frame)),
                                              None)["body"])
    assert reply == [3, "mv", {}]
    assert charger.rt.review.list("CP001")
