"""Who may import whom inside ``agentspan``: the layering, read from the source with ``ast``.

Every ``import`` and ``from ... import`` statement counts, wherever it is: at module level,
inside a function (a lazy import is still a dependency), and under ``if TYPE_CHECKING:``
(a type-only import still ties the layers together). Imports made from a string at run
time (``importlib.import_module``) are not seen; the only ones today stay inside
``server/providers``. The bare root package ``agentspan`` (it holds the version) is
neutral: any layer may import it.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

import agentspan

SRC = Path(agentspan.__file__).parent
ROOT = "agentspan"


@dataclass(frozen=True)
class Rule:
    """Modules under ``importer`` may import only ``allowed`` (when given) and never
    ``forbidden`` (prefixes of dotted module names under ``agentspan``)."""

    name: str
    importer: str
    why: str
    allowed: tuple[str, ...] | None = None
    forbidden: tuple[str, ...] = ()


# The layering. A prefix "agentspan.server" covers the package and every module below it.
RULES = [
    Rule(
        "protocol imports nothing of ours",
        importer="agentspan.protocol",
        allowed=("agentspan.protocol",),
        why="the wire contract is shared by the SDK and the server; it must not pull either in",
    ),
    Rule(
        "engine imports only protocol",
        importer="agentspan.server.engine",
        allowed=("agentspan.protocol", "agentspan.server.engine"),
        why="decide(spec, state, input) is pure: no store, no HTTP, no clock",
    ),
    Rule(
        "providers import only protocol",
        importer="agentspan.server.providers",
        allowed=("agentspan.protocol", "agentspan.server.providers"),
        why="a model adapter turns a request into a reply and knows nothing of executions",
    ),
    Rule(
        "the SDK never imports the server",
        importer="agentspan.agents",
        forbidden=("agentspan.server",),
        why="a worker or SDK process must not load the server or its dependencies",
    ),
    Rule(
        "the transport never imports the server",
        importer="agentspan.client",
        forbidden=("agentspan.server",),
        why="a worker or SDK process must not load the server or its dependencies",
    ),
    Rule(
        "the transport never imports the facade",
        importer="agentspan.client",
        forbidden=("agentspan.agents",),
        why="agents builds on client; what both need lives in agentspan._core",
    ),
    Rule(
        "framework adapters build on the SDK facade only",
        importer="agentspan.frameworks",
        allowed=("agentspan.frameworks", "agentspan.agents", "agentspan._core", "agentspan.protocol"),
        why="an adapter turns a framework's objects into a native Agent; it runs in the SDK process",
    ),
    Rule(
        "the SDK core imports only protocol",
        importer="agentspan._core",
        allowed=("agentspan._core", "agentspan.protocol"),
        why="the leaf shared by agents and client: importing either would bring back the cycle",
    ),
    Rule(
        "store imports only protocol",
        importer="agentspan.server.store",
        allowed=("agentspan.protocol", "agentspan.server.store"),
        why="one module per aggregate, below every service; nothing above it leaks in",
    ),
    Rule(
        "api talks to the service layer only",
        importer="agentspan.server.api",
        forbidden=(
            "agentspan.server.store",
            "agentspan.server.engine",
            "agentspan.server.services",
            "agentspan.server.driver",
            "agentspan.server.hub",
        ),
        why="the HTTP edge parses, calls a service and maps the answer; authorization lives below it",
    ),
]


@dataclass(frozen=True)
class Import:
    importer: str  # dotted name of the importing module
    imported: str  # dotted name of the imported module (or package)
    where: str  # "path:line" for the failure message
    type_only: bool = False  # under ``if TYPE_CHECKING:``, never run


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    return (SRC / relative).with_suffix(".py").is_file() or (SRC / relative / "__init__.py").is_file()


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: resolve against the importing package
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base]) if base else ".".join(package)
    # ``from agentspan.server import app`` imports the module agentspan.server.app.
    names = [f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names]
    return list(dict.fromkeys(names))


def _type_checking_imports(tree: ast.Module) -> set[int]:
    """The ids of the import nodes under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                found.update(id(n) for n in ast.walk(child) if isinstance(n, ast.Import | ast.ImportFrom))
    return found


@functools.cache
def all_imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for path in sorted(SRC.rglob("*.py")):
        importer = _module_name(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        type_only = _type_checking_imports(tree)
        for node in ast.walk(tree):  # every level: module, function, TYPE_CHECKING block
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, importer, path.name == "__init__.py"):
                    if target == ROOT or target.startswith(ROOT + "."):
                        where = f"{path.relative_to(SRC.parent)}:{node.lineno}"
                        found.append(Import(importer, target, where, id(node) in type_only))
    return tuple(found)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(rule: Rule, imports: tuple[Import, ...]) -> list[str]:
    bad: list[str] = []
    for imp in imports:
        if not _under(imp.importer, rule.importer) or imp.imported == ROOT:
            continue
        not_allowed = rule.allowed is not None and not any(_under(imp.imported, a) for a in rule.allowed)
        if not_allowed or any(_under(imp.imported, f) for f in rule.forbidden):
            bad.append(f"{imp.where}: {imp.importer} imports {imp.imported}")
    return bad


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_layering(rule: Rule) -> None:
    bad = violations(rule, all_imports())
    assert not bad, f"layering rule '{rule.name}' broken ({rule.why}):\n  " + "\n  ".join(bad)


SDK = ("agentspan.agents", "agentspan.client", "agentspan._core")


def _cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle in ``edges`` (as the list of its modules), or ``[]``."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return []

    for start in sorted(edges):
        if start not in state and (found := visit(start, [start])):
            return found
    return []


def test_the_sdk_has_no_import_cycle_at_run_time() -> None:
    """Imports that run (module level or inside functions) form no cycle in the SDK; the
    type-only back-references (a handle names its runtime) are allowed."""
    edges: dict[str, set[str]] = {}
    for imp in all_imports():
        in_sdk = any(_under(imp.importer, p) for p in SDK) and any(_under(imp.imported, p) for p in SDK)
        if in_sdk and not imp.type_only and imp.importer != imp.imported:
            edges.setdefault(imp.importer, set()).add(imp.imported)
    cycle = _cycle(edges)
    assert not cycle, "import cycle in the SDK: " + " -> ".join(cycle)


def test_every_rule_covers_existing_modules() -> None:
    """A rule on a renamed package would pass forever; each must match some module."""
    importers = {imp.importer for imp in all_imports()}
    for rule in RULES:
        assert any(_under(m, rule.importer) for m in importers), rule.name


def test_the_reader_sees_lazy_and_type_only_imports() -> None:
    """The reader counts imports inside functions and under ``TYPE_CHECKING``."""
    imports = {(i.importer, i.imported) for i in all_imports()}
    # cli/_server.py imports the server inside the function that runs it.
    assert ("agentspan.cli._server", "agentspan.server.app") in imports
    # agents/_handle.py names the runtime for its annotations only.
    assert ("agentspan.agents._handle", "agentspan.agents._runtime") in imports
    type_only = {(i.importer, i.imported) for i in all_imports() if i.type_only}
    assert ("agentspan.agents._handle", "agentspan.agents._runtime") in type_only
    assert ("agentspan.agents._runtime", "agentspan.agents._handle") not in type_only
