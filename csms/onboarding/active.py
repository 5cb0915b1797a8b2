"""The active check: the requirements that need the platform to act, run on demand during a live
session, safely.

Steps, in order (each bounded in platform time, ``LIMITS``):
1. ``trigger_boot`` / ``trigger_status``: TriggerMessage answered Accepted *and* the triggered
   BootNotification / StatusNotification really received after the answer;
2. ``configuration``: GetConfiguration of the keys the platform sets (what the charger holds);
3. ``pause``: a TxProfile of 0 W (or 0 A) on the live transaction, with a schedule ``duration``
   so that the charger itself lifts it if everything else fails; power ≈ 0 and SuspendedEVSE
   within the bound;
4. ``resume``: a TxProfile at full power; power back within the bound;
5. ``restore`` (always, also after a failure, a timeout or an abort: the ``finally`` of the check):
   the driver's plan stored with the session is sent again from now (no plan: the check's
   profile is cleared), and a re-plan is asked for through the platform's re-plan seam.

No process waits: the check is a stored state machine (``CheckStore``), advanced by
:meth:`ActiveCheck.advance` whenever someone looks (the CLI and the web page poll it, each poll a
few reads); every decision uses the platform clock seam. Calls go through the platform's queue
(``csms.ocpp.commands.Commander``, origin ``onboarding``) and their answers are read from the call
outcomes, like any other call. A check whose poller went away stops at the pause's ``duration``
(the charger resumes by itself) and is finished by the next look (the deadline has passed)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

from csms.ocpp.commands import Commander
from csms.onboarding.active_steps import LIMITS, CheckSteps, Limits, _step, _ts
from csms.onboarding.facts import FAIL, NOT_SEEN, PASS
from csms.onboarding.ports import CheckStore, FactSource
from csms.timeutil import iso

STEPS = ("trigger_boot", "trigger_status", "configuration", "pause", "resume", "restore")


class CheckRefused(ValueError):
    """A check cannot start (offline charger, one already running); the message says why."""


class ActiveCheck(CheckSteps):
    """Seams: ``commander`` (the call queue), ``facts`` (what is stored), ``store`` (the check's state),
    ``plan_of`` ((charger, transaction) -> the stored plan JSON: [[start, end, W], ...]),
    ``replan`` (the platform's re-plan request), ``clock`` (UTC).

    What each step sends and how it is judged: ``csms.onboarding.active_steps.CheckSteps``."""

    def __init__(self, *, commander: Commander, facts: FactSource, store: CheckStore,
                 plan_of: Callable[[str, int], str | None], replan: Callable[[str], None],
                 clock: Callable[[], datetime], limits: Limits = LIMITS):
        self.commander, self.facts, self.store = commander, facts, store
        self.plan_of, self.replan, self.clock, self.limits = plan_of, replan, clock, limits

    # ------------------------------------------------------------------ control

    def start(self, charge_point_id: str) -> dict[str, Any]:
        """Start a check (raises CheckRefused) and take its first step."""
        now = self.clock()
        facts = self.facts.facts(charge_point_id, now)
        if facts is None:
            raise CheckRefused(f"no charger {charge_point_id}")
        if not facts.online:
            raise CheckRefused(f"{charge_point_id} is offline: the check needs it connected")
        current = self.advance(charge_point_id)  # one nobody looked at for a while finishes (restores) first
        if current is not None and current.get("state") == "running":
            raise CheckRefused(f"a check of {charge_point_id} is already running ({current['id']}, "
                               f"until {current['deadline']} at the latest)")
        session = next((s for s in facts.sessions if s.active), None)
        check = {"id": uuid.uuid4().hex[:12], "charger": charge_point_id, "state": "running", "version": 0,
                 "started_at": iso(now), "deadline": iso(now + timedelta(seconds=self.limits.total_s)),
                 "finished_at": None, "step": STEPS[0], "sent_at": None, "steps": {}, "progress": [],
                 "transaction_id": session.transaction_id if session else None,
                 "connector_id": session.connector_id if session else 1}
        self._say(check, now, "check started" + (f" on transaction {session.transaction_id}" if session else
                                                 " (no live session: the pause and resume will be skipped)"))
        if not self.store.save_check(charge_point_id, check,
                                     current.get("version") if current is not None else None):
            raise CheckRefused(f"a check of {charge_point_id} was started at the same time")
        return self.advance(charge_point_id) or check

    def abort(self, charge_point_id: str) -> dict[str, Any] | None:
        """Stop a running check now: what is pending fails, the driver's plan is restored."""
        check = self.store.load_check(charge_point_id)
        if check is None or check["state"] != "running":
            return check
        now = self.clock()
        if check["step"] != "restore":
            check["steps"][check["step"]] = _step(FAIL, "aborted by the operator")
            self._goto(check, "restore", now)
        return self._save_and_send(charge_point_id, check, check["version"])

    def advance(self, charge_point_id: str) -> dict[str, Any] | None:
        """Take every step that can be taken now; returns the check (None: never checked)."""
        check = self.store.load_check(charge_point_id)
        if check is None or check["state"] != "running":
            return check
        version = check["version"]
        now = self.clock()
        for _ in range(len(STEPS) + 1):
            if check["state"] != "running":
                break
            step = check["step"]
            if now > _ts(check["deadline"]) - timedelta(seconds=self.limits.restore_s) and step != "restore":
                check["steps"][step] = self._timed_out(check, step, now)
                self._say(check, now, f"{step}: timed out")
                self._goto(check, "restore", now)
                continue
            if check["sent_at"] is None:
                break  # the step's call goes out once the state is stored
            facts = self._look(check, now)
            if facts is None:
                break
            result = getattr(self, "_judge_" + step)(check, facts, now)
            if result is None:
                break  # still waiting
            self._record(check, step, result, now)
        return self._save_and_send(charge_point_id, check, version)

    # --------------------------------------------------------------- plumbing

    def _timed_out(self, check: dict, step: str, now: datetime) -> dict:
        """A step the check's time ran out on: failed, with what was seen so far."""
        result = _step(FAIL, f"not done within the check's {self.limits.total_s:.0f} s")
        facts = self._look(check, now) if check["sent_at"] is not None else None
        if facts is not None and step in ("pause", "resume"):
            final = self._follow(check, facts, now, pause=step == "pause", final=True)
            if final is not None:
                result["evidence"] = final["evidence"]
                result["detail"] += f": {final['detail']}"
        return result

    def _say(self, check: dict, now: datetime, text: str) -> None:
        check["progress"].append(f"{iso(now)} {text}")

    def _record(self, check: dict, step: str, result: dict, now: datetime) -> None:
        if step.startswith("configuration"):
            check["steps"].update(result.pop("_sub", {}))
        check["steps"][step] = result
        self._say(check, now, f"{step}: {result['state']} ({result['detail']})")
        following = STEPS[STEPS.index(step) + 1] if step != "restore" else None
        if following in ("pause", "resume") and check["transaction_id"] is None:
            check["steps"]["pause"] = check["steps"]["resume"] = _step(NOT_SEEN, "no live session to pause")
            following = "restore"
        if following == "resume" and result["state"] != PASS:
            check["steps"]["resume"] = _step(NOT_SEEN, "not tried: the pause did not take")
            following = "restore"
        if following is None:
            check["state"], check["finished_at"], check["step"] = "done", iso(now), "done"
            self._say(check, now, "check finished")
        else:
            self._goto(check, following, now)

    def _goto(self, check: dict, step: str, now: datetime) -> None:
        queued = check.get("queued", {}).pop(step, None)  # sent already with the first step
        check["step"], check["sent_at"], check["pending"] = step, None, None
        if queued is not None and step != "restore":
            check["sent_at"], check["pending"] = queued["sent_at"], queued["unique_id"]

    def _save_and_send(self, charge_point_id: str, check: dict, version: int) -> dict:
        """Store the state first (a racing poller loses and sends nothing), then send the current
        step's call and store when it went out."""
        check["version"] = version + 1
        if not self.store.save_check(charge_point_id, check, version):
            return self.store.load_check(charge_point_id) or check
        if check["state"] == "running" and check["sent_at"] is None:
            now = self.clock()
            try:
                check["pending"] = getattr(self, "_send_" + check["step"])(check, now)
            except Exception as exc:  # the charger cannot be asked: this step fails, the check goes on
                check["pending"] = None
                self._record(check, check["step"], _step(FAIL, f"could not send: {exc}"), now)
                return self._save_and_send(charge_point_id, check, check["version"])
            check["sent_at"] = iso(now)
            version = check["version"]
            check["version"] = version + 1
            self.store.save_check(charge_point_id, check, version)
        return check
