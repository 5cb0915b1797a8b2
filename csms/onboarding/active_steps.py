"""The steps of the active check (:mod:`csms.onboarding.active`): what each step sends through the
call queue and how its outcome is judged from the stored facts: the triggers, the configuration
read, the pause and the resume (power followed within the bounds), the restore of the driver's plan.
A mixin of :class:`csms.onboarding.active.ActiveCheck`, which holds the seams and the state machine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from csms.ocpp.commands import CallOutcome, Commander
from csms.ocpp.v16 import profiles
from csms.onboarding.facts import FAIL, PASS, ChargerFacts, Evidence, frame_of, outcome_frame, sample_power_w
from csms.onboarding.ports import FactSource
from csms.timeutil import iso, parse_ts

ORIGIN = "onboarding"
CONFIG_KEYS = {"MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
               "MeterValueSampleInterval": "60"}
FULL_POWER_W = 22_080.0  # 32 A x 230 V x 3: "no limit" for any AC EV
LOOK_BACK = timedelta(minutes=5)  # the readings before the check that show the power it paused


@dataclass(frozen=True)
class Limits:
    """Bounds of the check, in platform seconds. The whole check, restore included, ends within
    ``total_s`` (5 minutes): the steps before the restore stop at ``total_s - restore_s`` and the
    restore's answer is awaited ``restore_s`` at most (the pause's own ``duration`` lifts it on the
    charger by then anyway). Each answer within ``answer_s`` (after the queue's own answer timeout),
    a triggered message within ``arrive_s``, the pause and the resume within ``follow_s`` of their
    answer (the guide's "within 2 minutes"). ``zero_w``: what counts as "power ≈ 0"."""

    answer_s: float = 30
    arrive_s: float = 30
    follow_s: float = 120
    total_s: float = 300
    restore_s: float = 45
    zero_w: float = 200


LIMITS = Limits()


def _step(state: str, detail: str, evidence: list[Evidence] | None = None, **facts: Any) -> dict[str, Any]:
    return {"state": state, "detail": detail, "evidence": [e.as_dict() for e in evidence or []], "facts": facts}


def _ts(value: Any) -> datetime:
    return parse_ts(value)


class CheckSteps:
    """The step senders (``_send_<step>``: the call's unique id) and judges (``_judge_<step>``: the
    step's result, None while waiting), found by name by ``ActiveCheck``; they use its seams."""

    commander: Commander
    facts: FactSource
    plan_of: Callable[[str, int], str | None]
    replan: Callable[[str], None]
    limits: Limits

    def _look(self, check: dict, now: datetime) -> ChargerFacts | None:
        """What the check judges from: the readings and answers since shortly before it started."""
        return self.facts.facts(check["charger"], now, _ts(check["started_at"]) - LOOK_BACK)

    def _answer(self, check: dict, facts: ChargerFacts, action: str, now: datetime) -> CallOutcome | None | str:
        """The outcome of the step's call, None while unanswered, "late" past the answer bound."""
        sent = _ts(check["sent_at"])
        pending = check.get("pending")  # the step's call (its unique id)
        for o in reversed(facts.outcomes):
            if o.action == action and o.origin == ORIGIN and (o.unique_id == pending if pending else o.at >= sent):
                return o
        bound = self.limits.answer_s + self.commander.answer_timeout.total_seconds()
        if now - sent > timedelta(seconds=self.limits.restore_s if check["step"] == "restore" else bound):
            return "late"
        return None

    @staticmethod
    def _status(o: CallOutcome) -> str:
        return str((o.result or {}).get("status")) if o.outcome == "answered" else o.outcome

    # ------------------------------------------------------------------ steps

    def _send_trigger_boot(self, check: dict, now: datetime) -> str:
        """The two triggers and the configuration read are queued at once: the queue sends them one
        at a time anyway, each with the answer to the one before (no look in between)."""
        first = self.commander.send(check["charger"], "TriggerMessage", {"requestedMessage": "BootNotification"},
                                    origin=ORIGIN).unique_id
        check["queued"] = {step: {"sent_at": iso(now), "unique_id": getattr(self, "_send_" + step)(check, now)}
                           for step in ("trigger_status", "configuration")}
        return first

    def _send_trigger_status(self, check: dict, now: datetime) -> str:
        return self.commander.send(check["charger"], "TriggerMessage",
                                   {"requestedMessage": "StatusNotification", "connectorId": check["connector_id"]},
                                   origin=ORIGIN).unique_id

    def _judge_trigger(self, check: dict, facts: ChargerFacts, now: datetime, message: str) -> dict | None:
        o = self._answer(check, facts, "TriggerMessage", now)
        if o is None:
            return None
        if o == "late":
            return _step(FAIL, "TriggerMessage not answered")
        assert isinstance(o, CallOutcome)
        ev = [Evidence(f"TriggerMessage {message}: {self._status(o)}", o.at, outcome_frame(o))]
        if self._status(o) != "Accepted":
            return _step(FAIL, f"answered {self._status(o)}", ev)
        if message == "BootNotification":
            arrived = facts.boot_at
            frame: Any = facts.boot.__dict__ if facts.boot else None
        else:
            mine = [c for c in facts.connectors if c.connector_id == check["connector_id"]]
            arrived = mine[0].received_at if mine else None
            frame = {"connectorId": mine[0].connector_id, "status": mine[0].status} if mine else None
        sent = _ts(check["sent_at"])
        if arrived is not None and arrived >= sent:  # (it may be handled before the answer: both in flight)
            ev.append(Evidence(f"{message} received", arrived, frame))
            return _step(PASS, f"Accepted and the {message} arrived "
                         f"{max(0.0, (arrived - sent).total_seconds()):.0f} s after the trigger", ev)
        if now - o.at > timedelta(seconds=self.limits.arrive_s):
            return _step(FAIL, f"Accepted, but no {message} within {self.limits.arrive_s:.0f} s", ev)
        return None

    def _judge_trigger_boot(self, check: dict, facts: ChargerFacts, now: datetime) -> dict | None:
        return self._judge_trigger(check, facts, now, "BootNotification")

    def _judge_trigger_status(self, check: dict, facts: ChargerFacts, now: datetime) -> dict | None:
        return self._judge_trigger(check, facts, now, "StatusNotification")

    def _send_configuration(self, check: dict, now: datetime) -> str:
        return self.commander.send(check["charger"], "GetConfiguration", {"key": list(CONFIG_KEYS)},
                                   origin=ORIGIN).unique_id

    def _judge_configuration(self, check: dict, facts: ChargerFacts, now: datetime) -> dict | None:
        o = self._answer(check, facts, "GetConfiguration", now)
        if o is None:
            return None
        if o == "late" or not isinstance(o, CallOutcome) or o.outcome != "answered":
            return _step(FAIL, "GetConfiguration not answered")
        values = {str(e.get("key")): str(e.get("value")) for e in (o.result or {}).get("configurationKey") or []}
        sub = {}
        for key, wanted in CONFIG_KEYS.items():
            held = values.get(key)
            good = held is not None and set(wanted.split(",")) <= {v.strip() for v in held.split(",")}
            sub[f"config:{key}"] = _step(PASS if good else FAIL, f"{key} = {held}" if held is not None else f"{key} unknown",
                                         [Evidence(f"GetConfiguration: {key} = {held}", o.at, outcome_frame(o))])
        state = PASS if all(s["state"] == PASS for s in sub.values()) else FAIL
        result = _step(state, ", ".join(s["detail"] for s in sub.values()), None, **values)
        result["_sub"] = sub
        return result

    def _profile(self, check: dict, watts: float, now: datetime, duration_s: int | None) -> str:
        support = profiles.ProfileSupport.from_capabilities(self.commander.link.capabilities(check["charger"]), now=now)
        request = profiles.profile_request(profiles.TX_PROFILE, [(0, watts)], support, connector_id=check["connector_id"],
                                           transaction_id=check["transaction_id"], start=now)
        if duration_s:
            request["csChargingProfiles"]["chargingSchedule"]["duration"] = duration_s
        return self.commander.send(check["charger"], "SetChargingProfile", request, origin=ORIGIN).unique_id

    def _power_before(self, facts: ChargerFacts, check: dict) -> float | None:
        for s in reversed(facts.samples):
            if s.connector_id == check["connector_id"] and s.source == "mv":
                return sample_power_w(s)
        return None

    def _send_pause(self, check: dict, now: datetime) -> str:
        facts = self._look(check, now)
        check["power_before_w"] = self._power_before(facts, check) if facts else None
        # Bounded on the charger itself too: when the check's time is up the profile no longer limits.
        return self._profile(check, 0.0, now, max(1, int((_ts(check["deadline"]) - now).total_seconds())))

    def _follow(self, check: dict, facts: ChargerFacts, now: datetime, pause: bool, final: bool = False) -> dict | None:
        o = self._answer(check, facts, "SetChargingProfile", now)
        if o is None and final:
            return _step(FAIL, "SetChargingProfile not answered")
        if o is None:
            return None
        if o == "late" or not isinstance(o, CallOutcome):
            return _step(FAIL, "SetChargingProfile not answered")
        ev = [Evidence(f"SetChargingProfile {'0 W (pause)' if pause else 'full power (resume)'}: {self._status(o)}",
                       o.at, outcome_frame(o))]
        if pause:  # the answer alone decides "accepted" (profile-accepted), whatever the power does
            check["steps"]["pause:answer"] = _step(PASS if self._status(o) == "Accepted" else FAIL,
                                                   f"TxProfile answered {self._status(o)}", ev)
        if self._status(o) != "Accepted":
            return _step(FAIL, f"answered {self._status(o)}", ev)
        sent = _ts(check["sent_at"])  # a reading or status may be handled before the answer (both in flight)
        after = [s for s in facts.samples if s.connector_id == check["connector_id"] and s.source == "mv"
                 and s.received_at is not None and s.received_at >= sent]
        powered = [(s, sample_power_w(s)) for s in after]
        before = check.get("power_before_w") or 0.0
        if pause:
            hit = next(((s, w) for s, w in powered if w is not None and w <= self.limits.zero_w), None)
            mine = [c for c in facts.connectors if c.connector_id == check["connector_id"]]
            status = mine[0] if mine else None
            suspended = status is not None and status.status == "SuspendedEVSE" and status.received_at >= sent
            if hit is not None and suspended:
                assert hit[0].received_at is not None and status is not None
                latency = (hit[0].received_at - sent).total_seconds()
                ev += [Evidence(f"power {hit[1]:.0f} W {latency:.0f} s after the limit was sent", hit[0].timestamp, frame_of(hit[0])),
                       Evidence("status SuspendedEVSE", status.received_at, {"status": status.status})]
                return _step(PASS, f"power ≈ 0 and SuspendedEVSE {latency:.0f} s after the limit", ev, latency_s=round(latency, 1))
        else:
            want = max(2 * self.limits.zero_w, 0.5 * before)
            hit = next(((s, w) for s, w in powered if w is not None and w >= want), None)
            if hit is not None:
                assert hit[0].received_at is not None
                latency = (hit[0].received_at - sent).total_seconds()
                ev.append(Evidence(f"power back to {hit[1]:.0f} W {latency:.0f} s after the resume was sent", hit[0].timestamp,
                                   frame_of(hit[0])))
                return _step(PASS, f"power back ({hit[1]:.0f} W) {latency:.0f} s after the resume", ev,
                             resume_latency_s=round(latency, 1))
        if now - sent <= timedelta(seconds=self.limits.follow_s) and not final:
            return None
        if powered:
            last, watts = powered[-1]
            ev.append(Evidence(f"latest reading: {'no power measurand' if watts is None else f'{watts:.0f} W'}",
                               last.timestamp, frame_of(last)))
        mine = [c for c in facts.connectors if c.connector_id == check["connector_id"]]
        if mine:
            ev.append(Evidence(f"latest status {mine[0].status}", mine[0].received_at))
        what = "power ≈ 0 and SuspendedEVSE" if pause else "power back"
        if not powered:
            return _step(FAIL, f"no meter reading within {self.limits.follow_s:.0f} s of the limit", ev)
        if all(w is None for _, w in powered):
            return _step(FAIL, "the readings carry no power (nor current and voltage)", ev)
        return _step(FAIL, f"no {what} within {self.limits.follow_s:.0f} s of the limit", ev)

    def _judge_pause(self, check: dict, facts: ChargerFacts, now: datetime) -> dict | None:
        return self._follow(check, facts, now, pause=True)

    def _send_resume(self, check: dict, now: datetime) -> str:
        return self._profile(check, FULL_POWER_W, now, max(1, int((_ts(check["deadline"]) - now).total_seconds())))

    def _judge_resume(self, check: dict, facts: ChargerFacts, now: datetime) -> dict | None:
        return self._follow(check, facts, now, pause=False)

    def _send_restore(self, check: dict, now: datetime) -> str | None:
        """The driver's plan again, from now (or the check's profile cleared when there is none),
        then a re-plan through the platform's seam."""
        charger, tx = check["charger"], check["transaction_id"]
        unique_id = None
        plan = self.plan_of(charger, tx) if tx is not None else None
        if tx is not None and ("pause" in check["steps"] or check.get("power_before_w") is not None or plan):
            periods: list[tuple[int, float]] = []
            for start, end, watts in json.loads(plan) if plan else []:
                begin, finish = parse_ts(start), parse_ts(end)
                if finish <= now:
                    continue
                offset = max(0, int((begin - now).total_seconds()))
                if not periods and offset > 0:
                    periods.append((0, float(watts)))
                periods.append((offset, float(watts)))
            if periods:
                support = profiles.ProfileSupport.from_capabilities(self.commander.link.capabilities(charger), now=now)
                request = profiles.profile_request(profiles.TX_PROFILE, periods, support, connector_id=check["connector_id"],
                                                   transaction_id=tx, start=now)
                unique_id = self.commander.send(charger, "SetChargingProfile", request, origin=ORIGIN).unique_id
                check["restored"] = "plan"
            else:
                unique_id = self.commander.send(charger, "ClearChargingProfile",
                                                {"id": profiles.PROFILE_ID[profiles.TX_PROFILE]}, origin=ORIGIN).unique_id
                check["restored"] = "cleared"
        try:
            self.replan(charger)
        except Exception:  # the scheduled run re-plans anyway
            pass
        return unique_id

    def _judge_restore(self, check: dict, facts: ChargerFacts, now: datetime) -> dict | None:
        if check.get("pending") is None:
            return _step(PASS, "nothing to restore (nothing was limited)")
        action = "SetChargingProfile" if check.get("restored") == "plan" else "ClearChargingProfile"
        o = self._answer(check, facts, action, now)
        if o is None:
            return None
        if o == "late" or not isinstance(o, CallOutcome):
            return _step(FAIL, f"{action} not answered: the pause lifts itself at its duration; a re-plan was asked for")
        what = "the driver's plan sent again" if action == "SetChargingProfile" else "the check's profile cleared"
        return _step(PASS if self._status(o) == "Accepted" else FAIL, f"{what}: {self._status(o)}",
                     [Evidence(what, o.at, outcome_frame(o))])
