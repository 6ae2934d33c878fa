"""The networks and result files the memory benchmarks share (plain data, no imports).

``widest``: the widest network the upload limits accept (a 3x3 conv of 2,215 channels, then
linear 2,215 -> 2,235 -> 10: 4,997,270 parameters and 3,995,910 activation values per image, just
under ``viz.network.card``'s limits). ``finding2``: the 4.8 MB checkpoint that every check
accepted before the activation limit (158,090,130 activation values, 632 MB per digit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def widest() -> list[dict]:
    c, h = 2215, 2235
    return [{"name": "conv1", "type": "conv", "in": 1, "out": c, "kernel": 3, "padding": 2},
            {"name": "relu1", "type": "relu"}, {"name": "gap", "type": "gap"},
            {"name": "flatten", "type": "flatten"},
            {"name": "fc1", "type": "linear", "in": c, "out": h}, {"name": "relu2", "type": "relu"},
            {"name": "fc2", "type": "linear", "in": h, "out": 10}]


def finding2() -> list[dict]:
    c, h = 980, 1200
    return [{"name": "conv1", "type": "conv", "in": 1, "out": c, "kernel": 1, "padding": 128},
            {"name": "relu1", "type": "relu"}, {"name": "gap", "type": "gap"},
            {"name": "flatten", "type": "flatten"},
            {"name": "fc1", "type": "linear", "in": c, "out": h}, {"name": "relu2", "type": "relu"},
            {"name": "fc2", "type": "linear", "in": h, "out": 10}]


def append_results(out: Path, lines: list[str], runs: list[dict[str, Any]]) -> None:
    """Add a run's table to ``OUT.txt`` and its records to the list in ``OUT.json``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".txt"), "a") as f:
        f.write("\n".join(lines) + "\n\n")
    path = out.with_suffix(".json")
    old = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps(old + runs, indent=1) + "\n")
