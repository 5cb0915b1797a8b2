"""Each log line carries the charge point id of the frame it is about, also when the local platform
handles two chargers' frames at once on two threads (new-user probe: the Powertools logger's shared
correlation id made one charger's line carry the other's id). The real ``$default`` handler on two
threads, held together at the domain's log call so that both have set their id before either logs."""

from __future__ import annotations

import io
import json
import logging
import threading

from handlers.observability import logger
from tests.integration.conftest import ChargerClient


def test_two_chargers_frames_on_two_threads_each_log_their_own_correlation_id(platform):
    clients = [ChargerClient(platform, cp).register() for cp in ("CP-A", "CP-B")]
    for client in clients:
        assert client.handshake()["statusCode"] == 200
    central = logging.getLogger("csms.ocpp.v16.central")
    both_set = threading.Barrier(2, timeout=10)

    def hold(record: logging.LogRecord) -> bool:  # both handlers are past set_correlation_id here
        if record.getMessage().startswith("DataTransfer from"):
            both_set.wait()
        return True

    lines = io.StringIO()
    capture = logging.StreamHandler(lines)
    capture.setFormatter(logger.registered_formatter)  # each line as CloudWatch gets it, formatted on its thread
    central.addFilter(hold)
    central.addHandler(capture)
    level, central.level = central.level, logging.INFO
    errors: list[BaseException] = []

    def send(client: ChargerClient) -> None:
        try:
            client.result("DataTransfer", {"vendorId": "probe", "messageId": client.id})
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
    finally:
        central.removeFilter(hold)
        central.removeHandler(capture)
        central.level = level
    assert not errors, errors
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    about = {line["message"].split()[2]: line.get("correlation_id") for line in logged}
    assert about == {"CP-A": "CP-A", "CP-B": "CP-B"}, logged


def test_a_local_invocation_starts_without_the_previous_invocations_id():
    """A frame thread of the local platform runs one charger's frame, then another route's event
    (an API request, a $default without context): the next invocation logs no stale id."""
    from csms_local.platform import _quiet
    from handlers.observability import set_correlation_id

    seen: list = []
    set_correlation_id("CP-A")  # the thread's previous invocation
    _quiet(lambda event, context: seen.append(logger.thread_safe_get_current_keys().get("correlation_id")))({}, None)
    assert seen == [None]
