"""Where models and digits live on disk, and the typed reference the app passes around.

Torch-free, so the sidebar can list models while torch loads: the shipped ``checkpoints/``, the
runs folder (``$CNN_LENS_RUNS_DIR``) and ``.cache/``. A :class:`ModelRef` (a checkpoint, a
session's upload or an untrained architecture) is frozen and hashable, so caches key on it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR = PROJECT_ROOT / "checkpoints"
SAMPLES_PATH = CHECKPOINT_DIR / "samples.npz"
CACHE_ROOT = PROJECT_ROOT / ".cache"
# The temp file of a write cut short (model.files.atomic writes one beside its target, then renames
# it): exactly what tempfile.mkstemp(prefix=f".{name}.", suffix=".part") makes: a dot, the
# target's name, a dot, 8 characters of tempfile's alphabet (a-z, 0-9, _), ".part".
PART_SUFFIX = ".part"
PART_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.part$")


@dataclass(frozen=True)
class ModelRef:
    """One network the app can show.

    ``kind`` is ``"checkpoint"`` (``target``: a .safetensors path), ``"upload"`` (``target``: the
    upload's sha256; the bytes live in the session) or ``"untrained"`` (``target``: an
    architecture name, random weights).
    """

    kind: Literal["checkpoint", "upload", "untrained"]
    target: str

    @classmethod
    def checkpoint(cls, path: str | os.PathLike[str]) -> ModelRef:
        return cls("checkpoint", str(path))

    @classmethod
    def upload(cls, digest: str) -> ModelRef:
        return cls("upload", digest)

    @classmethod
    def untrained(cls, arch: str) -> ModelRef:
        return cls("untrained", arch)

    @property
    def path(self) -> Path:
        if self.kind != "checkpoint":
            raise ValueError(f"a {self.kind} model has no checkpoint file")
        return Path(self.target)

    @property
    def is_run(self) -> bool:
        """A checkpoint trained on this server (in the runs folder)."""
        return self.kind == "checkpoint" and Path(self.target).parent.parent == runs_dir()

    @property
    def url_name(self) -> str | None:
        """Its name in a link (``seed``, ``run:<id>``, ``untrained:<arch>``); uploads have none."""
        if self.kind == "untrained":
            return f"untrained:{self.target}"
        if self.kind == "checkpoint":
            path = Path(self.target)
            return f"run:{path.parent.name}" if self.is_run else path.stem
        return None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes: the key of what is cached for a checkpoint (its atlas, its
    feature visualizations), whatever its name or folder."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def runs_dir() -> Path:
    """Where training runs are kept: ``runs/`` in the project, or ``$CNN_LENS_RUNS_DIR``."""
    return Path(os.environ.get("CNN_LENS_RUNS_DIR") or PROJECT_ROOT / "runs")


def shipped_checkpoints() -> dict[str, Path]:
    """The checkpoints in ``checkpoints/`` by name (file stem)."""
    return {p.stem: p for p in sorted(CHECKPOINT_DIR.glob("*.safetensors"))}


def trained_here() -> list[Path]:
    """Final checkpoints of training runs on this server, newest first (not those of hidden
    folders, such as a run being deleted)."""
    return sorted((p for p in runs_dir().glob("*/final.safetensors")
                   if not p.parent.name.startswith(".")), reverse=True)


def load_samples(path: str | os.PathLike[str] = SAMPLES_PATH) -> tuple[np.ndarray, np.ndarray]:
    """The shipped sample digits: images uint8 (N, 28, 28) and labels int64 (N,).

    Raises ``ValueError`` naming the file when it cannot be read.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["images"], data["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the sample digits ({exc}).") from exc


# ---------------------------------------------------------------------------------------------
# A folder the app cannot write
# ---------------------------------------------------------------------------------------------

def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _user() -> str:
    try:
        import pwd
        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, OSError):
        return f"uid {os.geteuid()}"


def write_problem(err: int, path: str | os.PathLike[str]) -> str:
    """What to tell a teacher when ``path`` cannot be written (``err``: the errno): which folder
    (the runs folder, the cache, or the file's own folder) and what to do about it."""
    path = Path(os.path.abspath(path))
    runs = Path(os.path.abspath(runs_dir()))
    if _within(path, runs):
        folder, name = runs, "The runs folder"
        elsewhere = "set CNN_LENS_RUNS_DIR to a writable folder"
    elif _within(path, CACHE_ROOT):
        folder, name = CACHE_ROOT, "The cache folder"
        elsewhere = "run the app from a copy of the project in a writable folder"
    else:
        folder, name = path.parent, "The folder"
        elsewhere = "choose a writable folder"
    if err == errno.ENOTDIR:
        blocker = next((p for p in (path, *path.parents) if p.is_file()), None)
        what = f"{blocker} is a file, not a folder" if blocker else "a part of it is not a folder"
        return f"{name} {folder} cannot be made: {what}. {elsewhere[0].upper()}{elsewhere[1:]}."
    if err in (errno.ENOSPC, errno.EDQUOT):
        space = "its quota is used up" if err == errno.EDQUOT else "no space left on its disk"
        free = " (delete old runs on the Train page)" if folder == runs else ""
        return (f"{name} {folder} is full ({space}): free some space{free}, or {elsewhere} "
                f"on another disk.")
    if err == errno.EROFS:
        state = "is read-only" if folder.exists() else "does not exist and cannot be made"
        return (f"{name} {folder} {state} (a read-only file system): {elsewhere}, or make it "
                f"writable.")
    state = ("is not writable" if folder.exists() else "does not exist and cannot be made")
    return (f"{name} {folder} {state} by this app (user {_user()}: "
            f"{os.strerror(err).lower()}): {elsewhere}, or make it writable for that user.")


# ---------------------------------------------------------------------------------------------
# Deleting a run
# ---------------------------------------------------------------------------------------------

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
# What a run folder holds: snapshots and the final model (each with its JSON card), and the temp
# files of a write cut short (model.files.atomic).
_RUN_FILE = re.compile(r"^(epoch-\d+|final)\.(safetensors|json)$")
TRASH_PREFIX = ".deleting-"


def _run_file(p: Path) -> bool:
    return (not p.is_symlink() and p.is_file()
            and bool(_RUN_FILE.match(p.name) or PART_NAME.match(p.name)))


class RunInUse(ValueError):
    """Raised when the run asked to be deleted is training now."""


def delete_run(run_id: str, running: str | None, folder: str | os.PathLike[str] | None = None
               ) -> Path:
    """Delete the run ``run_id`` of the runs folder (default :func:`runs_dir`): its snapshots,
    final model and cards. Returns the folder it was.

    ``running`` is the id of the job training into the runs folder now, in any process (None:
    none; "": one whose id is unknown). Raises :class:`RunInUse` for that run (and, when the id
    is unknown, for any run not finished), and ``ValueError`` for a name that is not a run of
    this folder: a path, a link, anything resolving outside it or into ``checkpoints/``, a
    folder holding files a run does not make. Safe with several processes: the folder is first
    renamed away (one rename wins; the others are told it is gone), then emptied.
    """
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise ValueError(f"{run_id!r} is not the name of a run (letters, digits, - and _).")
    runs = Path(folder if folder is not None else runs_dir())
    try:
        root = runs.resolve(strict=True)
    except OSError:
        raise ValueError(f"There is no runs folder at {runs}.") from None
    target = runs / run_id
    if target.is_symlink():
        raise ValueError(f"{target} is a link, not a run folder: it is left alone.")
    real = target.resolve()
    shipped = CHECKPOINT_DIR.resolve()
    if real.parent != root or _within(real, shipped) or _within(root, shipped):
        raise ValueError(f"{target} is not a run in the runs folder {runs}: it is left alone.")
    if not real.is_dir():
        raise ValueError(f"There is no run {run_id} in {runs} (deleted already?).")
    finished = (real / "final.safetensors").is_file()
    if running is not None and (running == run_id or (running == "" and not finished)):
        raise RunInUse(f"Run {run_id} is training now: stop it (or wait for it to end) before "
                       f"deleting it.")
    entries = list(real.iterdir())
    odd = [e.name for e in entries if not _run_file(e)]
    if odd:
        raise ValueError(f"{target} holds files a training run does not make "
                         f"({', '.join(sorted(odd)[:3])}): it is left alone; delete it by hand "
                         f"if it should go.")
    trash = root / f"{TRASH_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(real, trash)
    except FileNotFoundError:
        raise ValueError(f"There is no run {run_id} in {runs} (deleted already?).") from None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise ValueError(write_problem(exc.errno, real)) from None
        raise
    empty_trash(trash)
    return target


def empty_trash(trash: Path) -> bool:
    """Delete a run folder renamed away by :func:`delete_run` (its run files, then itself);
    False when something in it is not a run file (left alone) or cannot be deleted now."""
    try:
        entries = list(trash.iterdir())
        if not all(_run_file(e) for e in entries):
            return False
        for e in entries:
            e.unlink(missing_ok=True)
        trash.rmdir()
    except OSError:
        return False
    return True
