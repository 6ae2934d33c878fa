"""The session keys that more than one module reads or writes are named in ``ui/state.py`` only:
no other module of ``ui/`` (or ``app.py``) spells one of them, so none writes another's keys."""

from __future__ import annotations

import ast
from pathlib import Path

from ui import state

ROOT = Path(__file__).resolve().parents[2]
SHARED = {state.PRESENT, state.MODEL, state.UPLOAD, state.SOURCE, state.DIGIT, state.TEST_DIGIT,
          state.WRONG, state.DRAWING, state.INPUT_REF, state.LAYER, state.VIEW, state.METHOD,
          state.UNIT}
PREFIXES = (state.SAMPLE_KEYS, state.TEST_KEYS, state.CHANNEL_KEYS)
ELSEWHERE: dict[str, set[str]] = {}  # modules allowed to spell a shared key (none)


def _literals(path: Path) -> set[str]:
    """Every string constant of a module, and the literal start of every f-string."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def test_shared_keys_are_spelled_in_the_state_module_only() -> None:
    files = [ROOT / "app.py", *sorted((ROOT / "ui").rglob("*.py"))]
    bad = []
    for path in files:
        name = path.relative_to(ROOT).as_posix()
        if name == "ui/state.py":
            continue
        allowed = ELSEWHERE.get(name, set())
        for text in _literals(path) - allowed:
            if text in SHARED or text.startswith(PREFIXES):
                bad.append(f"{name}: {text!r}")
    assert bad == []


def test_the_key_builders_give_the_keys_the_widgets_and_links_use() -> None:
    assert state.test_key("any", False) == "in.test.any.False"  # what a test:N link selects
    assert state.sample_key(7) == "in.sample.7"
    assert state.channel_key("relu5") == "rf.channel.relu5"
