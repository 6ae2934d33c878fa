"""The background import of the torch side leaves nothing for a page to import later: the first
optimizer (a feature visualization the atlas starts) imports no module while sessions wait."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from ui.cache import _import_torch_side
_import_torch_side()
import torch
before = set(sys.modules)
torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
print(len(set(sys.modules) - before))
"""


def test_the_first_optimizer_imports_nothing_after_the_preload() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "0"
