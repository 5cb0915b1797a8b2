"""Meter data: sampledValue defaults and units, power, and session energy.

OCPP 1.6 defaults (section 7.45): measurand ``Energy.Active.Import.Register``,
unit ``Wh``, context ``Sample.Periodic``, location ``Outlet``, format ``Raw``;
no ``phase`` means the total. Values are decimal strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence, cast

from csms.model import MeterSample, Reading
from csms.timeutil import BadTimestamp, iso, parse_ts

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER_IMPORT = "Power.Active.Import"
CURRENT_IMPORT = "Current.Import"
VOLTAGE = "Voltage"

_SCALE = {"W": ("W", 1.0), "kW": ("W", 1000.0), "Wh": ("Wh", 1.0), "kWh": ("Wh", 1000.0),
          "varh": ("varh", 1.0), "kvarh": ("varh", 1000.0), "var": ("var", 1.0), "kvar": ("var", 1000.0),
          "VA": ("VA", 1.0), "kVA": ("VA", 1000.0), "A": ("A", 1.0), "V": ("V", 1.0)}
_DEFAULT_UNIT = {ENERGY_REGISTER: "Wh", POWER_IMPORT: "W", CURRENT_IMPORT: "A", VOLTAGE: "V"}
_PHASES = ("L1", "L2", "L3")


class MeterDataError(ValueError):
    """A sampledValue that cannot be read (kept raw for review by the caller)."""


# No meter reads beyond this in any unit (1e15 Wh = 1 PWh); DynamoDB cannot store above ~1e125.
MAX_READING = 1e15


def normalise(sampled: dict[str, Any]) -> Reading:
    """One sampledValue with the spec defaults applied and the unit normalised."""
    measurand = sampled.get("measurand") or ENERGY_REGISTER
    if not isinstance(measurand, str):
        raise MeterDataError("measurand is not a string")
    if sampled.get("format") == "SignedData":
        raise MeterDataError("signed meter data is not decoded")
    try:
        value = float(sampled["value"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MeterDataError(f"{measurand}: value {sampled.get('value')!r:.40} is not a number") from exc
    if not math.isfinite(value) or abs(value) > MAX_READING:
        raise MeterDataError(f"{measurand}: value is not finite or beyond any meter")
    unit = sampled.get("unit") or _DEFAULT_UNIT.get(measurand, "")
    if not isinstance(unit, str):
        raise MeterDataError(f"{measurand}: unit is not a string")
    strings = {k: sampled.get(k) for k in ("phase", "context", "location")}
    if any(v is not None and not isinstance(v, str) for v in strings.values()):
        raise MeterDataError(f"{measurand}: phase/context/location must be strings")
    unit, factor = _SCALE.get(unit, (unit, 1.0))
    return Reading(
        measurand=measurand,
        value=value * factor,
        unit=unit,
        phase=sampled.get("phase"),
        context=sampled.get("context") or "Sample.Periodic",
        location=sampled.get("location") or "Outlet",
    )


def _phase_key(phase: str | None) -> str | None:
    """'L1', 'L1-N' -> 'L1'; 'L1-L2' and 'N' are not a phase-to-neutral value."""
    if phase in _PHASES:
        return phase
    if phase and phase.endswith("-N") and phase[:2] in _PHASES:
        return phase[:2]
    return None


def import_power_w(readings: Sequence[Reading]) -> float | None:
    """Import power in W at the outlet (or the only location given).

    Power.Active.Import total if given, else the sum of its phases; else the
    sum over phases of Current.Import x Voltage (phase-to-neutral).
    """
    power = [r for r in readings if r.measurand == POWER_IMPORT and r.unit == "W"]
    if power:
        total = [r for r in power if r.phase is None]
        if total:
            return total[0].value
        per_phase = {_phase_key(r.phase): r.value for r in power if _phase_key(r.phase)}
        if per_phase:
            return sum(per_phase.values())
    currents = [r for r in readings if r.measurand == CURRENT_IMPORT and r.unit == "A"]
    voltages = [r for r in readings if r.measurand == VOLTAGE and r.unit == "V"]
    if not currents or not voltages:
        return None
    volt_by_phase = {_phase_key(r.phase): r.value for r in voltages if _phase_key(r.phase)}
    volt_any = next((r.value for r in voltages if r.phase is None), None)
    if volt_any is None and volt_by_phase:
        volt_any = sum(volt_by_phase.values()) / len(volt_by_phase)
    phase_currents = {_phase_key(r.phase): r.value for r in currents if _phase_key(r.phase)}
    if phase_currents:
        volts = {p: volt_by_phase.get(p, volt_any) for p in phase_currents}
        if any(v is None for v in volts.values()):
            return None  # a phase's current without any usable voltage (found by bench/fuzz_frames.py)
        return sum(i * cast(float, volts[p]) for p, i in phase_currents.items())
    total_current = next((r.value for r in currents if r.phase is None), None)
    if total_current is None or volt_any is None:
        return None
    return total_current * volt_any


def energy_register_wh(readings: Sequence[Reading]) -> float | None:
    """The total Energy.Active.Import.Register (Wh), summing phases if only those are given."""
    energy = [r for r in readings if r.measurand == ENERGY_REGISTER and r.unit == "Wh"]
    total = [r for r in energy if r.phase is None]
    if total:
        return total[0].value
    per_phase = {_phase_key(r.phase): r.value for r in energy if _phase_key(r.phase)}
    return sum(per_phase.values()) if per_phase else None


@dataclass(frozen=True)
class ParsedMeterValue:
    sample: MeterSample
    problems: tuple[str, ...]


def parse_meter_values(
    charge_point_id: str,
    connector_id: int,
    meter_values: Iterable[dict[str, Any]],
    *,
    source: str,
    transaction_id: int | None,
    received_at: datetime,
) -> tuple[list[MeterSample], list[str]]:
    """Turn ``meterValue`` elements into samples. Unreadable values are skipped
    and described in the returned problems (the caller keeps the raw message).

    Elements of one message stamped with the same time (to the millisecond, the stored key) are one
    sample with the readings of all of them: some chargers send each measurand in its own element.
    Two samples would name one key, and the later would silently replace the earlier (its energy
    register lost though the message was acknowledged), or DynamoDB would refuse the whole
    BatchWriteItem ("Provided list of item keys contains duplicates") and the charger resend it forever."""
    samples: list[MeterSample] = []
    problems: list[str] = []
    by_key: dict[str, int] = {}  # a stored key -> its sample's index in samples
    for element in meter_values:
        try:
            timestamp = parse_ts(element.get("timestamp"))
        except BadTimestamp as exc:
            problems.append(str(exc))
            continue
        readings: list[Reading] = []
        sampled_values = element.get("sampledValue")
        if not isinstance(sampled_values, list):
            problems.append("sampledValue is not a list")
            sampled_values = []
        for sampled in sampled_values:
            if not isinstance(sampled, dict):
                problems.append("sampledValue entry is not an object")
                continue
            try:
                readings.append(normalise(sampled))
            except MeterDataError as exc:
                problems.append(str(exc))
        if not readings:
            continue
        key = iso(timestamp)
        if key in by_key:
            readings = [*samples[by_key[key]].readings, *readings]
            timestamp = samples[by_key[key]].timestamp
        sample = (
            MeterSample(
                charge_point_id=charge_point_id,
                connector_id=connector_id,
                timestamp=timestamp,
                source=source,
                readings=tuple(readings),
                transaction_id=transaction_id,
                power_w=import_power_w(readings),
                energy_wh=energy_register_wh(readings),
                received_at=received_at,
            )
        )
        if key in by_key:
            samples[by_key[key]] = sample
        else:
            by_key[key] = len(samples)
            samples.append(sample)
    return samples, problems


@dataclass(frozen=True)
class EnergyResult:
    energy_wh: float
    max_power_w: float | None
    flags: tuple[str, ...]


def integrate_power_wh(samples: Sequence[MeterSample]) -> float | None:
    """Energy from power samples (trapezoid over time); None with fewer than two."""
    points = sorted((s.timestamp, s.power_w) for s in samples if s.power_w is not None)
    if len(points) < 2:
        return None
    total = 0.0
    for (t0, p0), (t1, p1) in zip(points, points[1:]):
        hours = (t1 - t0).total_seconds() / 3600
        total += max(0.0, (p0 + p1) / 2) * hours
    return total


def register_delta_wh(start_wh: float | None, samples: Sequence[MeterSample], stop_wh: float | None) -> tuple[float | None, bool]:
    """Energy from the register: the sum of increases. A drop to half or less is a meter
    reset (counting restarts from 0); a smaller step back is rounding and adds nothing.
    Returns (energy, reset_seen)."""
    series = []
    if start_wh is not None:
        series.append(start_wh)
    series.extend(s.energy_wh for s in sorted(samples, key=lambda s: s.timestamp) if s.energy_wh is not None)
    if stop_wh is not None:
        series.append(stop_wh)
    if len(series) < 2:
        return None, False
    total, reset = 0.0, False
    baseline = series[0]
    for current in series[1:]:
        if current >= baseline:
            total += current - baseline
            baseline = current
        elif current <= baseline * 0.5:
            # A real reset (reboot, meter swap) starts again near zero: count from there.
            reset = True
            total += max(0.0, current)
            baseline = current
        # else: a small step back (rounding between meterStop and the last sample): not energy
    return total, reset


def session_energy(
    meter_start_wh: float | None,
    samples: Sequence[MeterSample],
    meter_stop_wh: float | None,
) -> EnergyResult:
    """Energy of a session from the register, checked against power x time.

    A register labelled Wh that moves 1000x less than power x time is a kWh
    register mislabelled (seen on real chargers): scale it and flag it.
    """
    flags: list[str] = []
    in_order = sorted(samples, key=lambda s: s.timestamp)
    if meter_start_wh is not None and meter_stop_wh is not None and meter_stop_wh < meter_start_wh:
        flags.append("meter_stop_below_start")
    energy, reset = register_delta_wh(meter_start_wh, in_order, meter_stop_wh)
    if reset:
        flags.append("meter_reset")
    integrated = integrate_power_wh(in_order)
    if energy is None:
        energy = integrated if integrated is not None else 0.0
        flags.append("energy_from_power" if integrated is not None else "no_energy_data")
    elif integrated is not None and integrated > 100:
        # Check only the register samples: meterStart/meterStop are integer Wh by schema.
        registered, _ = register_delta_wh(None, in_order, None)
        if registered is not None and registered > 0:
            ratio = registered / integrated
            if 0.0005 <= ratio <= 0.002:
                flags.append("register_unit_kwh_labelled_wh")
                energy = registered * 1000
            elif ratio < 0.5 or ratio > 2:
                flags.append("register_disagrees_with_power")
    powers = [s.power_w for s in in_order if s.power_w is not None]
    return EnergyResult(energy, max(powers) if powers else None, tuple(flags))
