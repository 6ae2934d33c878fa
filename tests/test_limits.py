"""The limits have one home, ``viz/limits.py``, and the copies that cannot import it agree.

- The upload box (``.streamlit/config.toml``'s ``maxUploadSize``, in MiB) is the limits' upload
  cap, and every reader's file cap fits in it.
- No module of the app (``model``, ``viz``, ``ui``, ``app.py``) but ``viz/limits.py`` writes a
  number into a ``MAX_*``, ``*_BYTES`` or ``*_MB`` constant: the next limit lands in its home.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import tomllib

from viz import limits

ROOT = Path(__file__).resolve().parent.parent
LIMIT_NAME = re.compile(r"(?:^|_)MAX(?:_|$)|_BYTES$|_MB$")

# Numbers that match the names but bound nothing, with the reason they stay where they are.
EXCEPTIONS = {
    ("viz/network/layers.py", "FLOAT_BYTES"): "the size of a float32: a fact, not a limit",
    ("model/classroom/browser_id.py", "_MAX_COOKIE"):
        "a well-formed cookie's length, summed from the parts of its pattern beside it",
}


def _app_sources() -> list[Path]:
    return [ROOT / "app.py"] + sorted(p for folder in ("model", "viz", "ui")
                                      for p in (ROOT / folder).rglob("*.py"))


def _has_number(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and type(n.value) in (int, float)
               for n in ast.walk(node))


def _numeric_limits(path: Path) -> dict[str, ast.expr]:
    """Module-level constants of ``path`` named like a limit whose value writes a number."""
    found: dict[str, ast.expr] = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) and node.value else [])
        for t in targets:
            if isinstance(t, ast.Name) and LIMIT_NAME.search(t.id) and _has_number(node.value):
                found[t.id] = node.value
    return found


def test_the_upload_box_is_the_limits_upload_cap() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    mb = config["server"]["maxUploadSize"]
    assert mb == limits.UPLOAD_FILE_MB
    assert mb * 1024 * 1024 == limits.UPLOAD_FILE_BYTES  # Streamlit counts MiB


def test_every_reader_cap_fits_in_the_upload_box() -> None:
    from model import importer
    from model.files import h5_import, keras_import, onnx_import, statedict_import

    box = limits.UPLOAD_FILE_BYTES
    caps = {"onnx": inspect.signature(onnx_import.read_onnx).parameters["max_bytes"].default,
            "keras": inspect.signature(keras_import.read_keras).parameters["max_bytes"].default,
            "keras size check": keras_import.MAX_FILE_BYTES,
            "state dict": inspect.signature(statedict_import.read_statedict
                                            ).parameters["max_bytes"].default,
            "h5": inspect.signature(h5_import.read_h5).parameters["max_bytes"].default,
            "h5 size check": h5_import.MAX_FILE_BYTES,
            "importer": inspect.signature(importer.convert).parameters["max_bytes"].default,
            "importer's file": inspect.signature(importer.Folder).parameters["max_bytes"].default}
    assert caps == dict.fromkeys(caps, box)  # the readers take what the box passes, no less
    assert limits.ONNX_FILE_BYTES == limits.KERAS_FILE_BYTES == box
    # A photo's cap may be smaller: a phone camera's JPEG is a few MB.
    assert box >= limits.PHOTO_FILE_BYTES
    # A checkpoint has no cap of its own (the box's bytes): one at the parameter limit, float32,
    # with the largest header allowed, fits.
    assert box >= 4 * limits.NETWORK_PARAMS + limits.CARD_HEADER_BYTES
    # The one cap over the box: an ONNX data file the command-line importer reads from disk
    # (an uploaded one passes the box). It holds a file's whole value budget in float32.
    assert box < limits.ONNX_SIDE_FILE_BYTES
    assert limits.ONNX_SIDE_FILE_BYTES >= 4 * limits.FILE_VALUES


def test_no_module_but_the_limits_writes_a_limit() -> None:
    home = ROOT / "viz" / "limits.py"
    bad = [f"{p.relative_to(ROOT)}: {name}" for p in _app_sources() if p != home
           for name in _numeric_limits(p)
           if (str(p.relative_to(ROOT)), name) not in EXCEPTIONS]
    assert not bad, f"define these in viz/limits.py and read them there: {bad}"


def test_the_exceptions_are_still_there() -> None:
    """Each exception names a constant that still exists: a moved one leaves the list."""
    for (rel, name) in EXCEPTIONS:
        assert name in _numeric_limits(ROOT / rel), f"{rel}: {name} is gone; drop its exception"


def test_every_limit_says_why() -> None:
    """Each constant of viz/limits.py has a comment on its line or just above it (a group's
    rule of dashes is not one)."""
    lines = (ROOT / "viz" / "limits.py").read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    above = {n + 2: line.strip() for n, line in enumerate(lines)}  # above[n]: line n - 1
    bare = [node.targets[0].id for node in tree.body
            if isinstance(node, ast.Assign) and "#" not in lines[node.end_lineno - 1]
            and not (above[node.lineno].startswith("#") and above[node.lineno].strip("# -"))]
    assert not bare, f"say why these values: {bare}"

