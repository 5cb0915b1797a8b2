"""A charger's report: every requirement of the table judged from its facts (and its latest active
check), as data (JSON), Markdown (the one-pager a manufacturer is sent) and HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Iterable

from csms.onboarding.facts import FAIL, NOT_SEEN, PASS, ChargerFacts, Evidence, Verdict
from csms.onboarding.requirements import Requirement
from csms.onboarding.rules import RULES
from csms.timeutil import iso

MARK = {PASS: "PASS", FAIL: "FAIL", NOT_SEEN: "not yet seen"}


@dataclass(frozen=True)
class Line:
    requirement: Requirement
    verdict: Verdict


@dataclass(frozen=True)
class Report:
    facts: ChargerFacts
    lines: tuple[Line, ...]

    def counts(self) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, NOT_SEEN: 0}
        for line in self.lines:
            out[line.verdict.state] += 1
        return out

    @property
    def summary(self) -> dict[str, str]:
        """requirement id -> state (what the per-model aggregate keeps)."""
        return {line.requirement.id: line.verdict.state for line in self.lines}


def _from_step(step: dict[str, Any]) -> Verdict:
    ev = tuple(Evidence(e.get("what", ""), _parse(e.get("at")), e.get("frame")) for e in step.get("evidence", []))
    return Verdict(step.get("state", NOT_SEEN), step.get("detail", ""), ev, source="active check",
                   facts=dict(step.get("facts") or {}))


def _parse(value: Any):
    from csms.timeutil import parse_ts

    try:
        return parse_ts(value) if value else None
    except ValueError:
        return None


def active_verdict(requirement: Requirement, check: dict[str, Any] | None) -> Verdict | None:
    """The active check's verdict on ``requirement`` (its steps joined by '+' must all pass), or None
    when the latest check did not decide it."""
    if not requirement.active or not check:
        return None
    steps = [check.get("steps", {}).get(name) for name in requirement.active.split("+")]
    if any(s is None or s.get("state") == NOT_SEEN for s in steps):
        failed = [s for s in steps if s is not None and s.get("state") == FAIL]
        return _from_step(failed[0]) if failed else None
    verdicts = [_from_step(s) for s in steps if s is not None]
    state = FAIL if any(v.state == FAIL for v in verdicts) else PASS
    facts: dict[str, Any] = {}
    for v in verdicts:
        facts.update(v.facts)
    return Verdict(state, "; ".join(v.detail for v in verdicts), tuple(e for v in verdicts for e in v.evidence),
                   source="active check", facts=facts)


def evaluate(facts: ChargerFacts, table: Iterable[Requirement]) -> Report:
    """Every requirement's verdict. An active check's decision wins over passive evidence (it was
    made on purpose, under control); a rule that raises is reported as not seen, with the error."""
    lines = []
    for req in table:
        try:
            passive = RULES[req.rule](facts, req.params)
        except Exception as exc:  # a table entry whose parameters do not fit its rule: say so, per line
            passive = Verdict(NOT_SEEN, f"rule {req.rule} failed: {exc}")
        active = active_verdict(req, facts.check)
        if active is not None:
            verdict = Verdict(active.state, active.detail, active.evidence + passive.evidence, "active check",
                              {**passive.facts, **active.facts})
        else:
            verdict = passive
        lines.append(Line(req, verdict))
    return Report(facts, tuple(lines))


def report_json(report: Report) -> dict[str, Any]:
    f = report.facts
    boot = f.boot
    return {
        "charger": f.charge_point_id,
        "generated_at": iso(f.now),
        "vendor": boot.vendor if boot else None,
        "model": boot.model if boot else None,
        "firmware_version": boot.firmware_version if boot else None,
        "counts": report.counts(),
        "check": ({k: f.check.get(k) for k in ("id", "state", "started_at", "finished_at")} if f.check else None),
        "requirements": [{
            "id": line.requirement.id, "title": line.requirement.title, "level": line.requirement.level,
            "guide": line.requirement.guide, "needs_active_check": line.requirement.needs_active_check,
            "state": line.verdict.state, "detail": line.verdict.detail, "source": line.verdict.source,
            "facts": line.verdict.facts, "evidence": [e.as_dict() for e in line.verdict.evidence],
        } for line in report.lines],
    }


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _who(data: dict[str, Any]) -> str:
    if not data.get("vendor"):
        return "model not yet known"
    return f"{data['vendor']} {data['model']}, firmware {data.get('firmware_version') or '?'}"


def markdown(data: dict[str, Any]) -> str:
    """The one-page report a manufacturer can be sent, from a report's JSON (``report_json``)."""
    c = data["counts"]
    out = [f"# Integration report: {data['charger']}", "",
           f"{_who(data)}. Generated {data['generated_at']}: **{c[PASS]} pass, {c[FAIL]} fail, "
           f"{c[NOT_SEEN]} not yet seen**.", ""]
    check = data.get("check")
    if check:
        out += [f"Active check {check.get('id')}: {check.get('state')} "
                f"({check.get('started_at')} to {check.get('finished_at') or '…'}).", ""]
    out += ["| requirement | level | verdict | why |", "|---|---|---|---|"]
    for r in data["requirements"]:
        out.append(f"| {_md(r['title'])} | {r['level']} | **{MARK[r['state']]}** | {_md(r['detail'])} |")
    out += ["", "## Evidence", ""]
    for r in data["requirements"]:
        if r["state"] == NOT_SEEN and not r["evidence"]:
            continue
        out.append(f"**{_md(r['title'])}** ({MARK[r['state']]}, {r['source']}). Requirement: {r['guide']}")
        for e in r["evidence"][:4]:
            out.append(f"- {e['at'] + ': ' if e.get('at') else ''}{_md(e['what'])}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def html_page(data: dict[str, Any]) -> str:
    """The same page as self-contained HTML (print it to PDF from a browser), from a report's JSON."""
    e = html.escape
    c = data["counts"]
    rows = "".join(
        f"<tr class='{r['state']}'><td>{e(r['title'])}<br><small>{e(r['guide'])}</small></td>"
        f"<td>{e(r['level'])}</td><td><b>{e(MARK[r['state']])}</b></td><td>{e(r['detail'])}<ul>"
        + "".join(f"<li>{e(ev['at']) + ': ' if ev.get('at') else ''}{e(ev['what'])}</li>" for ev in r["evidence"][:4])
        + "</ul></td></tr>" for r in data["requirements"])
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>Integration report {e(data['charger'])}</title><style>"
            "body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
            "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;text-align:left}"
            "tr.pass b{color:#070}tr.fail b{color:#b00}tr.not_seen b{color:#777}small{color:#555}"
            "</style></head><body>"
            f"<h1>Integration report: {e(data['charger'])}</h1><p>{e(_who(data))}. Generated "
            f"{e(data['generated_at'])}: <b>{c[PASS]} pass, {c[FAIL]} fail, {c[NOT_SEEN]} not yet seen</b>.</p>"
            "<table><tr><th>requirement</th><th>level</th><th>verdict</th><th>why</th></tr>"
            f"{rows}</table></body></html>")
