"""The table of integration requirements: data, not code (``requirements.json`` beside this file).

An operator adds, relaxes or re-words a requirement by editing that one file: each entry names a
rule kind of :mod:`csms.onboarding.rules` and its parameters. An unknown rule kind or a malformed
entry raises :class:`TableError` when the table is loaded (at start-up, never mid-report)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("requirements.json")
LEVELS = ("required", "conditional", "recommended")


class TableError(ValueError):
    """The requirements table is not usable (the message names the entry and the fault)."""


@dataclass(frozen=True)
class Requirement:
    """One row of the table. ``rule`` is a rule kind (``csms.onboarding.rules.RULES``), ``params``
    its parameters (units in their names: ``_s`` seconds, ``_w`` W); ``active`` is the active-check
    step whose result also decides it (None: passive evidence only)."""

    id: str
    title: str
    level: str
    guide: str
    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    active: str | None = None

    @property
    def needs_active_check(self) -> bool:
        return self.active is not None


def parse(data: dict) -> tuple[Requirement, ...]:
    """The requirements of a table document; raises TableError."""
    from csms.onboarding.rules import RULES

    rows = data.get("requirements") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise TableError("the table needs a non-empty 'requirements' list")
    out, seen = [], set()
    for n, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TableError(f"requirement #{n} is not an object")
        try:
            req = Requirement(id=str(row["id"]), title=str(row["title"]), level=str(row.get("level", "required")),
                              guide=str(row["guide"]), rule=str(row["rule"]), params=dict(row.get("params") or {}),
                              active=row.get("active"))
        except KeyError as exc:
            raise TableError(f"requirement #{n} lacks {exc.args[0]!r}") from exc
        if req.rule not in RULES:
            raise TableError(f"requirement {req.id}: unknown rule {req.rule!r} (known: {', '.join(sorted(RULES))})")
        if req.level not in LEVELS:
            raise TableError(f"requirement {req.id}: level must be one of {', '.join(LEVELS)}")
        if req.id in seen:
            raise TableError(f"requirement {req.id} appears twice")
        seen.add(req.id)
        out.append(req)
    return tuple(out)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> tuple[Requirement, ...]:
    """The table at ``path`` (default: the shipped ``requirements.json``); raises TableError."""
    source = Path(path) if path else TABLE
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TableError(f"cannot read {source}: {exc}") from exc
    return parse(data)
