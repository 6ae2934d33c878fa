"""Where models and digits live on disk, and the typed reference the app passes around.

Torch-free, so the sidebar can list and describe models while torch is still loading:

- ``checkpoints/``: the shipped checkpoints (one per architecture that ``ships``) and the sample
  digits (``samples.npz``), read-only;
- the runs folder (``runs/``, or ``$CNN_LENS_RUNS_DIR``): training runs made on this server, each
  ``runs/<id>/`` with ``epoch-NN.safetensors`` snapshots and ``final.safetensors``.

A :class:`ModelRef` names one network the app can show: a checkpoint file, an upload (by its
sha256, private to one session) or an architecture with random weights. It is frozen and
hashable, so caches key on it directly.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR = PROJECT_ROOT / "checkpoints"
SAMPLES_PATH = CHECKPOINT_DIR / "samples.npz"


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
    """Final checkpoints of training runs on this server, newest first."""
    return sorted(runs_dir().glob("*/final.safetensors"), reverse=True)


def load_samples(path: str | os.PathLike[str] = SAMPLES_PATH) -> tuple[np.ndarray, np.ndarray]:
    """The shipped sample digits: images uint8 (N, 28, 28) and labels int64 (N,).

    Raises ``ValueError`` naming the file when it cannot be read.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["images"], data["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the sample digits ({exc}).") from exc
