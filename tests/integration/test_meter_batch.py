"""The local platform's meter writer (``adapters.dynamo.meter_batch``) against moto: MeterValues
handled at the same moment share one BatchWriteItem, each caller still returns only once its own
readings are stored, a key written twice keeps the later value, and a failed batch fails every
MeterValues it held (none is answered as stored) while the next ones are written."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from adapters.dynamo.meter_batch import GroupCommitMeter
from adapters.wiring import build_runtime
from csms.model import MeterSample, Reading
from handlers import _runtime
from tests.integration.conftest import ChargerClient
from tests.integration.test_request_counts import dynamodb_calls  # noqa: F401 (fixture)

T0 = datetime(2024, 6, 12, 18, 0, tzinfo=timezone.utc)


def _sample(cp: str, second: int, watts: float) -> MeterSample:
    return MeterSample(cp, 1, T0 + timedelta(seconds=second), "mv",
                       (Reading("Power.Active.Import", str(watts), "W"),), power_w=watts)


class _HeldMeter(GroupCommitMeter):
    """Its first write waits for ``release`` (so the next puts queue behind it); write number
    ``fail_write`` (0 = the first) raises as a refused BatchWriteItem would."""

    def __init__(self, fail_write: int | None = None) -> None:
        super().__init__()
        self.release = threading.Event()
        self.fail_write = fail_write
        self.written: list[int] = []  # items per write, in order
        self.first_out = threading.Event()  # the first write has begun

    def _write(self, items):
        if not self.first_out.is_set():
            self.first_out.set()
            assert self.release.wait(10)
        self.written.append(len(items))
        if len(self.written) - 1 == self.fail_write:
            raise RuntimeError("refused")
        super()._write(items)


def _put_in_thread(meter, samples, errors, done):
    def run():
        try:
            meter.put(samples)
            done.append(samples[0].charge_point_id)
        except Exception as error:  # noqa: BLE001 (recorded for the test)
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_queued(meter, n):
    deadline = time.monotonic() + 10
    while len(meter._queue) < n:
        assert time.monotonic() < deadline, f"{len(meter._queue)} puts queued, expected {n}"
        time.sleep(0.005)


def test_meter_values_arriving_while_a_write_is_out_share_the_next_batch_and_each_waits_for_its_own(
        platform, dynamodb_calls):
    meter, errors, done = _HeldMeter(), [], []
    first = _put_in_thread(meter, [_sample("CP000", 0, 1000)], errors, done)
    assert meter.first_out.wait(10)
    others = [_put_in_thread(meter, [_sample(f"CP{n:03d}", 0, 1000 + n)], errors, done) for n in range(1, 10)]
    _wait_queued(meter, 9)
    assert done == []  # nobody is told "stored" before the write that holds its reading
    meter.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert errors == [] and sorted(done) == [f"CP{n:03d}" for n in range(10)]
    assert meter.written == [1, 9] and dynamodb_calls == ["PutItem", "BatchWriteItem"]
    for n in range(10):
        (stored,) = meter.between(f"CP{n:03d}", 1, T0, None)
        assert stored.power_w == 1000 + n


def test_a_key_written_twice_keeps_the_later_value(platform):
    meter, errors, done = _HeldMeter(), [], []
    first = _put_in_thread(meter, [_sample("CP000", 0, 1)], errors, done)
    assert meter.first_out.wait(10)
    earlier = _put_in_thread(meter, [_sample("CP001", 0, 500)], errors, done)
    _wait_queued(meter, 1)
    later = _put_in_thread(meter, [_sample("CP001", 0, 700), _sample("CP001", 0, 900)], errors, done)
    _wait_queued(meter, 2)
    meter.release.set()
    for thread in (first, earlier, later):
        thread.join(10)
    assert errors == [] and meter.written == [1, 1, 1]  # never one BatchWriteItem naming a key twice
    (stored,) = meter.between("CP001", 1, T0, None)
    assert stored.power_w == 900  # the last put, and its last element, win: as PutItem after PutItem


def test_a_failed_batch_fails_every_meter_values_it_held_and_the_next_are_written(platform):
    meter, errors, done = _HeldMeter(fail_write=1), [], []
    first = _put_in_thread(meter, [_sample("CP000", 0, 1)], errors, done)
    assert meter.first_out.wait(10)
    held = [_put_in_thread(meter, [_sample(f"CP{n:03d}", 0, n)], errors, done) for n in (1, 2, 3)]
    _wait_queued(meter, 3)
    meter.release.set()
    for thread in [first, *held]:
        thread.join(10)
    assert meter.written == [1, 3] and done == ["CP000"]
    assert [str(e) for e in errors] == ["refused"] * 3  # none of the three is answered as stored
    assert all(meter.between(f"CP{n:03d}", 1, T0, None) == [] for n in (1, 2, 3))
    meter.put([_sample("CP009", 0, 9)])  # the writer goes on
    assert meter.between("CP009", 1, T0, None)[0].power_w == 9


def test_more_than_25_elements_in_one_meter_values_are_all_stored(platform):
    meter = GroupCommitMeter()
    meter.put([_sample("CP001", n, n) for n in range(60)])
    assert [s.power_w for s in meter.between("CP001", 1, T0, None)] == list(range(60))


@pytest.fixture
def local_charger(platform):
    """CP001 against a runtime built as ``csms local`` builds it."""
    rt = _runtime.install(build_runtime(dataclasses.replace(platform.settings), counters=_runtime.lambda_counters(),
                                        group_commit=True))
    assert isinstance(rt.meter, GroupCommitMeter)
    return ChargerClient(rt, "CP001").register()


def test_the_local_platform_answers_meter_values_after_storing_them(local_charger):
    local_charger.handshake()
    local_charger.result("MeterValues", {"connectorId": 1, "meterValue": [{
        "timestamp": "2024-06-12T18:00:05Z", "sampledValue": [{"value": "1234", "measurand": "Power.Active.Import",
                                                                "unit": "W"}]}]})
    assert [s.power_w for s in local_charger.rt.meter.between("CP001", 1, T0, None)] == [1234]
    assert local_charger.rt.meter.batches == 1


@pytest.mark.parametrize("group_commit", [False, True], ids=["aws", "local"])
def test_meter_values_with_elements_stamped_alike_keeps_every_reading(platform, group_commit):
    # Given a charger that sends its energy register and its power in two elements with one timestamp
    rt = _runtime.install(build_runtime(dataclasses.replace(platform.settings), counters=_runtime.lambda_counters(),
                                        group_commit=group_commit))
    charger = ChargerClient(rt, "CP001").register()
    charger.handshake()
    stamp = "2024-06-12T18:00:05Z"
    assert charger.result("MeterValues", {"connectorId": 1, "meterValue": [
        {"timestamp": stamp, "sampledValue": [{"value": "5000", "measurand": "Energy.Active.Import.Register",
                                               "unit": "Wh"}]},
        {"timestamp": stamp, "sampledValue": [{"value": "1234", "measurand": "Power.Active.Import", "unit": "W"}]},
    ]}) == {}
    # Then both are stored (one item: DynamoDB refuses a BatchWriteItem naming a key twice, moto does not)
    assert [(s.energy_wh, s.power_w) for s in rt.meter.between("CP001", 1, T0, None)] == [(5000, 1234)]
