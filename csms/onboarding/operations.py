"""Onboarding as operators use it: the charger report (JSON, Markdown, HTML), the per-model
aggregate and the active check, behind ``/v1/chargers/{id}/report``, ``/v1/chargers/{id}/check``,
``/v1/models/report``, the CLI and the web page. Operators only."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Callable

from csms.ocpp.commands import Commander
from csms.onboarding import report as reports
from csms.onboarding.active import ActiveCheck, CheckRefused, Limits, LIMITS
from csms.onboarding.facts import FAIL, NOT_SEEN, PASS
from csms.onboarding.ports import CheckStore, FactSource, FleetByModel, ModelVerdicts
from csms.onboarding.requirements import Requirement, load
from csms.operations import Conflict, Forbidden, NotFound, Principal


class OnboardingOperations:
    """Seams: ``facts`` / ``checks`` / ``verdicts`` (storage, ``csms.onboarding.ports``), ``fleet``
    (the fleet by model, written at each Boot; None: counts only reported chargers), ``commander``,
    ``plan_of`` and ``replan`` (for the active check), ``clock`` (UTC) and the ``table`` (default: the
    shipped requirements.json)."""

    def __init__(self, *, facts: FactSource, checks: CheckStore, verdicts: ModelVerdicts, commander: Commander,
                 plan_of: Callable[[str, int], str | None], replan: Callable[[str], None],
                 clock: Callable[[], datetime], fleet: FleetByModel | None = None,
                 table: tuple[Requirement, ...] | None = None, limits: Limits = LIMITS):
        self.facts, self.checks, self.verdicts, self.fleet = facts, checks, verdicts, fleet
        self.clock = clock
        self.table = table if table is not None else load()
        self.active = ActiveCheck(commander=commander, facts=facts, store=checks, plan_of=plan_of, replan=replan,
                                  clock=clock, limits=limits)

    @staticmethod
    def _operator(who: Principal) -> None:
        if not who.operator:
            raise Forbidden("only operators may see integration reports")

    def evaluate(self, charge_point_id: str) -> reports.Report:
        """The report of one charger (raises NotFound); its verdicts are kept under its model
        (one write) so the per-model view needs no scan."""
        facts = self.facts.facts(charge_point_id, self.clock())
        if facts is None:
            raise NotFound(f"no charger {charge_point_id}")
        report = reports.evaluate(facts, self.table)
        if facts.boot is not None:
            self.verdicts.record(facts.boot.vendor, facts.boot.model, facts.boot.firmware_version, charge_point_id,
                                 report.summary, facts.now)
        return report

    def report(self, who: Principal, charge_point_id: str, fmt: str = "json") -> Any:
        """``fmt``: json (a dict), markdown or html (text)."""
        self._operator(who)
        data = reports.report_json(self.evaluate(charge_point_id))
        if fmt == "markdown":
            return reports.markdown(data)
        if fmt == "html":
            return reports.html_page(data)
        return data

    def requirements(self, who: Principal) -> list[dict]:
        self._operator(who)
        return [{"id": r.id, "title": r.title, "level": r.level, "guide": r.guide, "rule": r.rule, "params": r.params,
                 "needs_active_check": r.needs_active_check} for r in self.table]

    def models_report(self, who: Principal) -> list[dict]:
        """Per vendor / model / firmware: how many chargers, how many reported, and per requirement
        how many pass / fail / not yet seen, with a sentence per failing requirement ("power limit
        not effective on 3 of 40 chargers"). One Query for the models, one per model (and one per
        model on the fleet-by-model index): never a scan."""
        self._operator(who)
        titles = {r.id: r.title for r in self.table}
        out = []
        for vendor, model in self.verdicts.models():
            fleet: dict[str | None, int] = defaultdict(int)
            if self.fleet is not None:
                for _, version in self.fleet.chargers_of(vendor, model):
                    fleet[version] += 1
            groups: dict[str | None, list[dict]] = defaultdict(list)
            for row in self.verdicts.chargers(vendor, model):
                groups[row.get("firmware")].append(row)
            for firmware in sorted(set(groups) | set(fleet), key=lambda v: str(v)):
                rows = groups.get(firmware, [])
                total = max(fleet.get(firmware, 0), len(rows))
                per: dict[str, dict[str, int]] = {}
                for rid in titles:
                    counts = {PASS: 0, FAIL: 0, NOT_SEEN: 0}
                    for row in rows:
                        counts[row["summary"].get(rid, NOT_SEEN)] += 1
                    per[rid] = counts
                failing = [f"{titles[rid]}: fails on {c[FAIL]} of {total} chargers"
                           for rid, c in per.items() if c[FAIL]]
                out.append({"vendor": vendor, "model": model, "firmware": firmware, "chargers": total,
                            "reported": len(rows), "requirements": per, "failing": failing,
                            "chargers_failing": sorted(r["charger"] for r in rows if FAIL in r["summary"].values()),
                            "as_of": max((r["at"] for r in rows), default=None)})
        return out

    # ------------------------------------------------------------ active check
    def start_check(self, who: Principal, charge_point_id: str) -> dict:
        """Start the active check (raises NotFound, Conflict when it cannot start now)."""
        self._operator(who)
        try:
            return self._public(self.active.start(charge_point_id))
        except CheckRefused as exc:
            if str(exc).startswith("no charger"):
                raise NotFound(str(exc)) from exc
            raise Conflict(str(exc)) from exc

    def check(self, who: Principal, charge_point_id: str) -> dict:
        """The latest check, advanced to now (each look takes whatever step is due)."""
        self._operator(who)
        check = self.active.advance(charge_point_id)
        if check is None:
            raise NotFound(f"no check of {charge_point_id} yet")
        if check.get("state") == "done" and not check.get("recorded"):
            self.evaluate(charge_point_id)  # the model aggregate reflects the check at once
            check["recorded"], version = True, check["version"]
            check["version"] = version + 1
            self.checks.save_check(charge_point_id, check, version)
        return self._public(check)

    def abort_check(self, who: Principal, charge_point_id: str) -> dict:
        self._operator(who)
        check = self.active.abort(charge_point_id)
        if check is None:
            raise NotFound(f"no check of {charge_point_id} yet")
        return self._public(check)

    @staticmethod
    def _public(check: dict) -> dict:
        return {k: check.get(k) for k in ("id", "charger", "state", "step", "started_at", "deadline", "finished_at",
                                          "transaction_id", "progress", "steps", "restored")}
