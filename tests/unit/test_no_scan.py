"""No table Scan on a per-message, per-request or periodic path (issue 15): a Scan reads the whole
table, so its cost grows with the fleet. Reads go through keys or the sparse indexes
(``adapters/dynamo/indexes.py``). A Scan is allowed only in a function named in ``EXPORT_PATHS``
(an explicit export / admin path that no handler, route or schedule calls)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("adapters", "handlers", "csms", "csms_local")
EXPORT_PATHS: set[tuple[str, str]] = {
    # the local platform's snapshot of its embedded store to disk (every 30 s, and at exit): an export
    ("csms_local/dynamodb.py", "snapshot"),
    # run once by hand after the upgrade that added the sparse indexes
    ("adapters/dynamo/backfill.py", "backfill"),
    # the local store's compaction into a snapshot (at a clean stop, or once the journal passes 64 MiB):
    # an export of the whole store, never on a message, request or schedule
    ("csms_local/journal.py", "_dump"),
    # the same module's list of read-only actions (a read never needs journaling): a name, not a call
    ("csms_local/journal.py", "<module>"),
}


def _files():
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def _scans(files, root=ROOT):
    """(file, enclosing function, line) of every ``.scan(...)`` call and every ``"Scan"`` literal."""
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            is_call = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                       and node.func.attr in ("scan", "parallel_scan"))
            is_paginator = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                            and node.func.attr == "get_paginator" and node.args
                            and isinstance(node.args[0], ast.Constant) and node.args[0].value == "scan")
            if not (is_call or is_paginator or (isinstance(node, ast.Constant) and node.value == "Scan")):
                continue
            owner = node
            while owner in parents and not isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                owner = parents[owner]
            yield str(path.relative_to(root)), getattr(owner, "name", "<module>"), node.lineno


def test_no_adapter_or_handler_scans_a_table():
    found = {(path, name) for path, name, _ in _scans(_files())}
    assert found <= EXPORT_PATHS, f"Scan outside an export/admin path: {sorted(found - EXPORT_PATHS)}"


def test_the_check_finds_a_scan(tmp_path):
    """The detector itself works: a module calling Model.scan() is found (the test cannot pass vacuously)."""
    module = tmp_path / "repo.py"
    module.write_text("def listing():\n    return list(ChargerModel.scan())\n\n"
                      "def raw(client):\n    return client._make_api_call('Scan', {})\n\n"
                      "def pages(client):\n    return client.get_paginator('scan').paginate(TableName='t')\n")
    assert {(p, n) for p, n, _ in _scans([module], tmp_path)} == {("repo.py", "listing"), ("repo.py", "raw"),
                                                                   ("repo.py", "pages")}
