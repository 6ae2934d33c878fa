"""No import circles: the graph of the project's own modules (``app.py``, ``ui``, ``model``,
``viz``), built from every import statement (at the top of a module and inside functions), has no
cycle. Pages are short files under ``ui/pages/`` that import the module drawing them; nothing
imports a page."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ui", "model", "viz")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """{dotted name: file} of every module of the project."""
    found = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _targets(node: ast.AST, here: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules an import statement loads (``from pkg import mod`` names the module
    ``pkg.mod`` when there is one, else the package)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = here.split(".") if is_package else here.split(".")[:-1]
            anchor = anchor[:len(anchor) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                 for a in node.names]
    else:
        return set()
    out = set()
    for name in names:
        while name and name not in known:  # import a.b.c of a function's module: a.b
            name = name.rpartition(".")[0]
        if name:
            out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):  # every import, at the top or inside a function
            targets |= _targets(node, name, path.name == "__init__.py", known)
        edges[name] = targets - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_top_level_and_function_level_imports() -> None:
    edges = graph()
    assert "ui.cache" in edges["ui.sidebar"]  # from ui import cache (top level)
    assert "model.saliency" in edges["ui.urls"]  # from model.saliency import METHODS (in a function)
    assert "ui.views.field" in edges["ui.explorer"]  # from ui.views import field
    assert "ui.explorer" in edges["ui.pages.explorer"]


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    assert cycles(graph()) == []


def test_nothing_imports_a_page() -> None:
    edges = graph()
    pages = {m for m in edges if m.startswith("ui.pages.")}
    assert pages == {"ui.pages.explorer", "ui.pages.tour", "ui.pages.lab", "ui.pages.train",
                     "ui.pages.classroom"}
    importers = {m: sorted(t & pages) for m, t in edges.items() if t & pages}
    assert importers == {}
