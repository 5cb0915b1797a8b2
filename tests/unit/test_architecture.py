"""The domain package: free of AWS, no import cycle, capabilities apart, modules of <= 300 lines of code."""

import ast
from pathlib import Path

FORBIDDEN = {"boto3", "botocore", "pynamodb", "aws_lambda_powertools", "moto", "aws_cdk", "adapters", "handlers"}


def test_domain_has_no_aws_imports():
    offenders = []
    for path in (Path(__file__).resolve().parents[2] / "csms").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


PACKAGES = ("csms", "adapters", "handlers", "csms_local")
ROOT = Path(__file__).resolve().parents[2]


def _module_names() -> dict[str, Path]:
    names = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:`` (annotations only: never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    return skipped


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules ``name`` imports, at module level or inside a function."""
    tree = ast.parse(path.read_text())
    skipped = _type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m in modules and m != name and not name.startswith(m + ".")}


def test_no_import_cycle():
    # Given every project module and what it imports
    modules = _module_names()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # When the import graph is walked depth-first
    cycles, state = [], {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # Then no module reaches itself again
    assert cycles == []


def test_capabilities_import_in_one_direction():
    # charging/ (smart charging) and views/ (the read side) never reach into OCPP's handling, and OCPP
    # never into them: a second protocol version touches csms/ocpp only.
    modules = _module_names()
    wrong = []
    for name, path in modules.items():
        for target in _imports(name, path, modules):
            if name.startswith("csms.charging") and target.startswith(("csms.ocpp", "csms.views")):
                wrong.append(f"{name} -> {target}")
            if name.startswith("csms.ocpp") and target.startswith(("csms.charging", "csms.views", "csms.operations")):
                wrong.append(f"{name} -> {target}")
    assert wrong == []


MAX_MODULE_LINES = 300  # lines of code: not blank, not a comment alone
# Known to be over, each with the reason and the way out; the test also fails when one is no longer over.
OVER_LIMIT = {
    "csms/firmware/campaigns.py": "firmware campaigns are being extended by a parallel issue: split it (images / "
                                  "waves / charger notifications) once that lands",
}


def _code_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#"))


def test_no_domain_module_is_over_300_lines():
    # Given every module of the domain package
    sizes = {str(p.relative_to(ROOT)): _code_lines(p) for p in (ROOT / "csms").rglob("*.py")}
    # Then none is over the limit but the known ones, and every known one still is
    over = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert sorted(set(over) - set(OVER_LIMIT)) == [], over
    assert sorted(set(OVER_LIMIT) - set(over)) == [], "no longer over: drop it from OVER_LIMIT"
