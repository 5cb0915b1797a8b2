import pytest

from csms.views.state import ConnectorState, connector_state


@pytest.mark.parametrize("online, status, power, expected", [
    (False, "Charging", 7000, ConnectorState.OFFLINE),
    (True, "Available", None, ConnectorState.UNPLUGGED),
    (True, "Preparing", None, ConnectorState.PLUGGED_IN),
    (True, "SuspendedEV", 0, ConnectorState.PLUGGED_IN),
    (True, "SuspendedEVSE", 0, ConnectorState.PLUGGED_IN),
    (True, "Finishing", None, ConnectorState.PLUGGED_IN),
    (True, "Charging", 7000, ConnectorState.CHARGING),
    (True, "Charging", None, ConnectorState.CHARGING),
    (True, "Charging", 0, ConnectorState.PLUGGED_IN),
    (True, "Faulted", None, ConnectorState.FAULTED),
    (True, "Unavailable", None, ConnectorState.UNAVAILABLE),
    (True, None, None, ConnectorState.UNKNOWN),
])
def test_app_state(online, status, power, expected):
    assert connector_state(online, status, power) is expected
