"""The package's shape (docs/architecture.md): one-way layers, no import circle, rooms of
a readable size. Read from the source with ``ast``, so an import inside a function or
under ``TYPE_CHECKING`` counts like any other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hotline_kpi"
MIGRATIONS = PACKAGE / "store" / "migrations"
MAX_LINES = 450

#: Each top-level module or package of hotline_kpi and its layer: a module may import only
#: from its own layer or the layers below. Kept in step with docs/architecture.md.
LAYERS: dict[str, int] = {
    # values and helpers that know nothing of the rest
    "problems": 0, "clock": 0, "files": 0, "i18n": 0, "validation": 0, "schedule": 0, "domain": 0, "formulas": 0,
    "defaults": 0,
    # configuration: catalogues, settings, how values are shown; the sum primitive; demo data
    "catalogue": 1, "scoring_rules": 1, "settings": 1, "settings_file": 1, "alert_settings": 1, "formatting": 1, "aggregate": 1, "demo": 1,
    "demo_sources": 1,
    # pure computation: rows + targets + as-of date -> results, and the snapshot document
    "evaluate": 2, "forecast": 2, "budget": 2, "backfill": 2, "snapshot": 2, "workbooks": 2,
    "league": 2,
    # the store
    "store": 3,
    # what reads or writes the store for a purpose: loading files, evaluating a hotline
    "ingest": 4, "evaluation": 4,
    # alerts, then the report (which mails its draft through the alerts' transport)
    "alerts": 5, "report": 6,
    # the edge: the service, the command line
    "service": 7, "cli": 8, "__main__": 9,
}

#: The only modules of ingest/ that may import the store: the parsers never do.
STORE_DOORS = {"hotline_kpi.ingest.pipeline", "hotline_kpi.ingest.storing", "hotline_kpi.ingest.queue_log.store"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if MIGRATIONS in path.parents:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The hotline_kpi modules ``name`` imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            candidates = [target, *(f"{target}.{a.name}" for a in node.names)]
        else:
            continue
        # "from hotline_kpi.store import models" names the module models, not the package
        found.update(c for c in candidates if c in MODULES and c != name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in MODULES} - {""}
    assert units - LAYERS.keys() == set(), "a new module needs its layer here and in docs/architecture.md"
    assert LAYERS.keys() - units == set(), "a layer names a module that no longer exists"


def test_no_module_imports_a_layer_above_its_own():
    upward = sorted(
        f"{m} (layer {LAYERS[_unit(m)]}) imports {t} (layer {LAYERS[_unit(t)]})"
        for m, targets in GRAPH.items() if _unit(m) for t in targets
        if _unit(t) and LAYERS[_unit(t)] > LAYERS[_unit(m)]
    )
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_between_modules():
    assert _cycles(GRAPH) == []


def test_no_import_circle_between_top_level_units():
    units: dict[str, set[str]] = {}
    for m, targets in GRAPH.items():
        units.setdefault(_unit(m), set()).update(_unit(t) for t in targets if _unit(t) != _unit(m))
    assert _cycles(units) == []


def test_the_cycle_finder_finds_a_circle():
    # The tests above pass on an empty answer: make sure the finder can say anything else.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_parsers_of_ingest_never_import_the_store():
    offenders = sorted(
        f"{m} imports {t}" for m, targets in GRAPH.items()
        if m.startswith("hotline_kpi.ingest") and m not in STORE_DOORS
        for t in targets if t.startswith("hotline_kpi.store")
    )
    assert offenders == []
    assert STORE_DOORS <= MODULES.keys(), "a store door named here no longer exists"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_is_of_a_readable_size(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(PACKAGE.parent)}: {lines} lines"


def test_nothing_shipped_cites_the_planning_folder_or_the_checkout():
    # The package and its config ship without the planning material: a path into it means
    # nothing to the office (and a report that prints it is sent back).
    shipped = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.html"), *PACKAGE.rglob("*.yaml"),  # the defaults too
               *(PACKAGE.parent / "config").rglob("*.*")]
    cited = sorted(f"{p.relative_to(PACKAGE.parent)}: {line.strip()}"
                   for p in shipped for line in p.read_text(encoding="utf-8", errors="replace").splitlines()
                   if "shared/" in line or "reference/kpi" in line or "kpi.md" in line)
    assert cited == []
