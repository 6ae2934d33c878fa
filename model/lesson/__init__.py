"""A lesson: Explore's views of one or more networks as a folder of static files, with no server.

``python -m model.lesson NETWORK... --out DIR`` writes ``DIR/index.html``, its scripts and
styles, each network's weights (the lens payload) and tables (atlas, confusion, trust, computed
once here), and the sample digits. Opened from file:// or any static host it runs the forward
pass, the receptive fields and the attributions in the browser, and asks for nothing outside
the folder. The folder is written beside DIR and renamed into place; an existing DIR is replaced
only when it is empty or a lesson (its ``lesson.json`` says so), never a user's folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model.files.checkpoint import CheckpointError, load_checkpoint, read_network
from model.lesson import page, tables
from model.store import load_samples, shipped_checkpoints
from viz.browser.lens import payload
from viz.limits import LESSON_NETWORKS

MARKER = "lesson.json"  # what makes a folder a lesson (and so replaceable)
KIND = "cnn-lens lesson"
TRUST_DIGITS = 100  # as the app's Trust view measures by default


class LessonError(ValueError):
    """A lesson that cannot be written, with a message saying what to do."""


@dataclass(frozen=True)
class Source:
    name: str  # shown in the page (a shipped name or the file's stem)
    path: Path


def resolve(network: str) -> Source:
    """A shipped network's name or a .safetensors checkpoint path -> its file."""
    shipped = shipped_checkpoints()
    if network in shipped:
        return Source(network, shipped[network])
    path = Path(network)
    if path.suffix == ".safetensors" and path.is_file():
        return Source(path.stem, path)
    raise LessonError(
        f"unknown network {network!r}: give a shipped network ({', '.join(sorted(shipped))}) "
        f"or a .safetensors checkpoint file (convert other formats with python -m "
        f"model.importer first)")


def is_lesson(folder: Path) -> bool:
    """Whether ``folder`` holds a lesson this command wrote (and may replace)."""
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def check_out(out: Path) -> None:
    """Refuse an ``out`` that is a file, or a folder with something in it that is not a lesson."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise LessonError(f"{out} exists and is not a folder: give --out a new or empty folder")
    if out.is_dir() and any(out.iterdir()) and not is_lesson(out):
        raise LessonError(f"{out} is a folder with files in it that is not a lesson; it is left "
                          f"as it is. Give --out a new or empty folder (or a lesson to replace)")


def _names(sources: Sequence[Source]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for s in sources:
        seen[s.name] = seen.get(s.name, 0) + 1
        out.append(s.name if seen[s.name] == 1 else f"{s.name} ({seen[s.name]})")
    return out


def build_files(sources: Sequence[Source], trust_digits: int = TRUST_DIGITS,
                say: Callable[[str], None] = lambda _: None) -> dict[str, str]:
    """Every file of the lesson, path -> text (computes each network's tables)."""
    files: dict[str, str] = {}
    data_names = []
    images, labels = load_samples()
    files["data/samples.js"] = page.data_script("samples", page.samples_value(images, labels))
    data_names.append("data/samples.js")
    from model.saliency import METHODS
    checked = []  # every network read and checked before any table is computed
    for src, name in zip(sources, _names(sources), strict=True):
        try:
            net = read_network(src.path.read_bytes(), src.path.name)
        except (CheckpointError, OSError) as exc:
            raise LessonError(f"{src.path}: {exc}") from None
        lens = payload(net)
        if not lens["supported"]:
            raise LessonError(f"{name} cannot run in a lesson: {lens['reason']}")
        checked.append((src, name, net, lens))
    nets = []
    for i, (src, name, net, lens) in enumerate(checked):
        model, _ = load_checkpoint(src.path)
        say(f"{name}: atlas")
        atlas = tables.atlas_table(src.path, model)
        say(f"{name}: confusion matrix")
        conf = tables.confusion_table(src.path, model)
        say(f"{name}: trust of the saliency methods on {trust_digits} digits")
        trust = tables.trust_table(model, trust_digits)
        key = f"net{i + 1}"
        files[f"data/{key}.js"] = page.data_script(key, {
            "name": name, "payload": lens, "atlas": atlas, "confusion": conf, "trust": trust})
        data_names.append(f"data/{key}.js")
        nets.append({"key": key, "name": name, "arch": net.arch,
                     "test_accuracy": net.card.get("test_accuracy")})
    methods = [{"key": k, "label": m.label, "feature_maps": bool(m.feature_maps)}
               for k, m in METHODS.items()]
    files["data/lesson.js"] = page.data_script("lesson", {"networks": nets, "methods": methods})
    data_names.append("data/lesson.js")
    scripts = page.scripts()
    files.update(scripts)
    title = "CNN lens lesson: " + ", ".join(n["name"] for n in nets)
    files["index.html"] = page.index_html(title, [*data_names, *scripts])
    files["lesson.css"] = page.stylesheet()
    files[MARKER] = json.dumps({"kind": KIND, "version": 1,
                                "networks": [n["name"] for n in nets]}, indent=1) + "\n"
    return files


def write_lesson(networks: Sequence[str], out: str | os.PathLike[str],
                 trust_digits: int = TRUST_DIGITS,
                 say: Callable[[str], None] = lambda _: None) -> Path:
    """Write the lesson of ``networks`` to the folder ``out`` (see the module docstring).

    Args:
        networks: shipped network names or .safetensors paths, 1 to LESSON_NETWORKS.
        out: the folder to write (new, empty, or a lesson to replace).
        trust_digits: test digits the Trust table is measured on.
    Returns:
        The folder written. Raises LessonError saying what to change.
    """
    if not networks:
        raise LessonError("name at least one network (e.g. seed)")
    if len(networks) > LESSON_NETWORKS:
        raise LessonError(f"{len(networks)} networks: a lesson takes at most {LESSON_NETWORKS}")
    if not 1 <= trust_digits <= 10_000:
        raise LessonError(f"--trust-digits {trust_digits}: give 1 to 10,000")
    out = Path(out).absolute()
    sources = [resolve(n) for n in networks]
    check_out(out)
    files = build_files(sources, trust_digits, say)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    except OSError as exc:
        raise LessonError(f"cannot write beside {out}: {exc.strerror or exc}") from None
    old = None
    try:
        for rel, text in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        tmp.chmod(0o755)
        check_out(out)  # again: nothing appeared there while the tables were computed
        if out.is_dir():
            old = out.with_name(f".{out.name}.old-{tmp.name.split('.')[-2]}")
            out.rename(old)
        tmp.rename(out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not out.exists():
            old.rename(out)
        raise LessonError(f"cannot write {out}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def folder_bytes(folder: str | os.PathLike[str]) -> int:
    """Total size of the files under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
