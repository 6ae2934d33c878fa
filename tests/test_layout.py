"""The layout rule: ui -> model -> viz and ui -> viz, never back; viz is torch-free.

Every ``viz`` module is imported in a fresh interpreter where ``torch`` (and ``captum``) cannot
be imported; no module outside ``app.py`` and ``ui/`` imports streamlit; ``model`` never imports
``ui``, and ``viz`` imports neither ``model`` nor ``ui``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VIZ = sorted(".".join(p.relative_to(ROOT / "viz").with_suffix("").parts)
             for p in (ROOT / "viz").rglob("*.py") if p.stem != "__init__")

BLOCK_TORCH = """
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "captum", "streamlit"):
            raise ImportError(f"{name} is blocked: viz must not need it")
sys.meta_path.insert(0, Block())
for name in sys.argv[1:]:
    importlib.import_module(name)
print("ok")
"""


def test_every_viz_module_imports_without_torch_or_streamlit() -> None:
    mods = [f"viz.{m}" for m in VIZ]
    result = subprocess.run([sys.executable, "-c", BLOCK_TORCH, *mods], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder,forbidden", [
    ("viz", ("model", "ui", "streamlit", "torch", "captum")),
    ("model", ("ui", "streamlit")),
    ("bench", ("ui",)),
])
def test_imports_go_one_way(folder: str, forbidden: tuple[str, ...]) -> None:
    bad = [f"{p.relative_to(ROOT)} imports {name}" for p in _sources(folder)
           for name in _imports(p) if name.split(".")[0] in forbidden]
    assert not bad, "; ".join(bad)


def test_only_app_and_ui_import_streamlit() -> None:
    allowed = {ROOT / "app.py", *_sources("ui")}
    others = [p for p in ROOT.rglob("*.py")
              if ".venv" not in p.parts and "tests" not in p.parts and p not in allowed]
    # The load benchmark's client speaks Streamlit's wire protocol: it may read its message
    # definitions (streamlit.proto), never the framework.
    bad = [f"{p.relative_to(ROOT)}: {n}" for p in others for n in _imports(p)
           if n.split(".")[0] == "streamlit"
           and not (p.parent.name == "bench" and n.startswith("streamlit.proto"))]
    assert not bad, f"streamlit imported outside app.py and ui/: {bad}"


@pytest.mark.parametrize("folder", ["viz", "model", "ui", "tests"])
def test_folders_hold_at_most_a_dozen_modules_side_by_side(folder: str) -> None:
    """Folders group modules by job: none holds more than about a dozen side by side (tests
    mirror the packages, so their folders follow)."""
    for sub in [ROOT / folder, *(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
        if "__pycache__" in sub.parts:
            continue
        modules = [p.name for p in sub.glob("*.py") if p.name != "__init__.py"]
        limit = 30 if folder == "tests" else 12
        assert len(modules) <= limit, f"{sub.relative_to(ROOT)} holds {len(modules)}: {modules}"
