"""The import graph: engine layers point one way, no cycles, the app sees only the public API.

Walks every ``import`` with ``ast`` (function-level ones too), so a lazy import cannot hide
an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine.paths import REPO_ROOT

# Lowest first; a module may import its own layer and any layer below it.
LAYERS = ("foundation", "data", "core", "serving", "evaluation", "training", "bench", "cli")
FOUNDATION = {"engine.errors", "engine.paths", "engine.tables", "engine.atomic"}
# What app/ may import from the engine: the public API and schema-level constants.
APP_ALLOWED = ("engine", "engine.errors", "engine.paths", "engine.data.schema", "engine.data.paths",
               "engine.core.instructions", "engine.core.config", "engine.tables")
MAX_LINES = 400


def _module(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(folder: str) -> dict[str, Path]:
    return {_module(p): p for p in sorted((REPO_ROOT / folder).rglob("*.py"))}


ENGINE = _sources("engine")
APP = _sources("app")


def _imports(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports; ``from engine.x import y`` counts ``engine.x.y`` when that is a module."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for a in node.names:  # a submodule by name, else an attribute of ``base``
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in ENGINE else base)
    return out


def layer(name: str) -> str | None:
    if name in FOUNDATION:
        return "foundation"
    parts = name.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return parts[1]
    return None  # engine/__init__ and engine/__main__: the public face, above every layer


GRAPH = {m: {i for i in _imports(p, m) if i in ENGINE and i != m} for m, p in ENGINE.items()}


def test_every_engine_module_has_a_layer():
    assert [m for m in ENGINE if layer(m) is None] == ["engine", "engine.__main__"]


@pytest.mark.parametrize("module", sorted(m for m in ENGINE if layer(m)))
def test_imports_point_down(module):
    mine = LAYERS.index(layer(module))
    upward = sorted(i for i in GRAPH[module] if i not in ("engine",) and layer(i) is not None
                    and LAYERS.index(layer(i)) > mine)
    assert not upward, f"{module} ({layer(module)}) imports higher layers: {upward}"
    assert "engine" not in GRAPH[module], f"{module} imports the public package engine/__init__"


def test_no_import_cycle():
    seen, stack, cycles = set(), [], []

    def visit(m):
        if m in stack:
            cycles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for n in sorted(GRAPH[m]):
            visit(n)
        stack.pop()

    for m in sorted(GRAPH):
        visit(m)
    assert not cycles, cycles[:3]


def test_nothing_imports_the_cli():
    users = sorted(m for m, deps in GRAPH.items() if layer(m) != "cli" and m != "engine.__main__"
                   and any(layer(d) == "cli" for d in deps))
    assert not users


def test_engine_never_imports_app_or_streamlit():
    bad = {m: sorted(i for i in _imports(p, m) if i.split(".")[0] in ("app", "streamlit"))
           for m, p in ENGINE.items()}
    assert not {m: v for m, v in bad.items() if v}


def test_app_uses_only_the_public_api():
    bad = {m: sorted(i for i in _imports(p, m) if i.startswith("engine") and i not in APP_ALLOWED
                     and not any(i.startswith(a + ".") and a != "engine" for a in APP_ALLOWED))
           for m, p in APP.items()}
    assert not {m: v for m, v in bad.items() if v}


def test_modules_stay_small():
    long = {m: n for m, p in ENGINE.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The walker itself: a data module importing the model layer is caught."""
    fake = REPO_ROOT / "engine" / "data" / "schema.py"
    deps = _imports(fake, "engine.data.schema")
    assert all(layer(d) in (None, "foundation", "data") for d in deps if d in ENGINE)
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from engine.core.model import ClimberPilot\n")
    assert "engine.core.model" in _imports(probe, "engine.data.probe")
