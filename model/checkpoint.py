"""Checkpoints: safetensors weights with the JSON model card embedded, plus a readable copy.

A checkpoint is one self-contained ``NAME.safetensors`` file: the tensors, and in the safetensors
header's metadata the model card (architecture, full layer config, parameters, MACs, accuracies,
training facts). ``NAME.json`` beside it is the same card, for people. Loading never unpickles
anything; files are written atomically (temp file, then rename).

Every problem raises :class:`CheckpointError` naming what is wrong: not a checkpoint at all (a
pickle or anything else), truncated, no model card, or weights that do not fit the architecture.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from model.architectures import ARCHITECTURES, DEFAULT
from model.atomic import atomic_write
from model.store import CHECKPOINT_DIR, shipped_checkpoints
from model.zoo import ZooNet, build_from_config
from viz.npforward import NumpyNet

CARD_KEY = "model_card"
CARD_VERSION = 1
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / f"{DEFAULT}.safetensors"


class CheckpointError(ValueError):
    """A file that cannot be used as a checkpoint, with a message saying why."""


def save_checkpoint(model: ZooNet, card: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``path`` (.safetensors, card embedded) and the card as ``path`` with .json."""
    path = Path(path).with_suffix(".safetensors")
    card = {"format": CARD_VERSION, "arch": model.arch, "layers": model.layer_config, **card}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    blob = st_save(state, metadata={CARD_KEY: json.dumps(card)})
    atomic_write(path, blob)
    atomic_write(path.with_suffix(".json"), (json.dumps(card, indent=2) + "\n").encode())
    return path


def _describe_foreign(data: bytes) -> str:
    if data[:4] == b"PK\x03\x04":
        return ("it is a zip archive, probably a PyTorch file from torch.save; for safety this "
                "tool never unpickles files. Re-save the weights with safetensors "
                "(model.checkpoint.save_checkpoint)")
    if data[:1] == b"\x80":
        return ("it is a Python pickle; for safety this tool never unpickles files. Re-save the "
                "weights with safetensors (model.checkpoint.save_checkpoint)")
    return "it is not a safetensors file"


def read_checkpoint(data: bytes, source: str = "checkpoint") -> tuple[dict[str, torch.Tensor],
                                                                     dict[str, Any]]:
    """Parse safetensors bytes into (tensors, model card) without building a model."""
    if len(data) < 8:
        raise CheckpointError(f"{source}: only {len(data)} bytes; not a checkpoint.")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > len(data) - 8 or header_len > 100_000_000:
        if header_len < 100_000_000 and data[8:9] == b"{":
            raise CheckpointError(f"{source}: truncated: the file ends inside its header.")
        raise CheckpointError(f"{source}: not a checkpoint: {_describe_foreign(data)}.")
    try:
        header = json.loads(data[8:8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(
            f"{source}: not a checkpoint: {_describe_foreign(data)}.") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{source}: not a checkpoint: {_describe_foreign(data)}.")
    ends = [v["data_offsets"][1] for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v]
    if ends and 8 + header_len + max(ends) > len(data):
        raise CheckpointError(
            f"{source}: truncated: {len(data)} bytes, but its header needs "
            f"{8 + header_len + max(ends)}. The file was cut short; copy or download it again.")
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(f"{source}: not a valid safetensors file ({exc}).") from exc
    meta = header.get("__metadata__") or {}
    if CARD_KEY not in meta:
        raise CheckpointError(
            f"{source}: a safetensors file without a model card, so its architecture is unknown. "
            f"Save checkpoints with model.checkpoint.save_checkpoint.")
    try:
        card = json.loads(meta[CARD_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{source}: its model card is not valid JSON ({exc}).") from exc
    if not isinstance(card, dict) or "arch" not in card or "layers" not in card:
        raise CheckpointError(f"{source}: its model card lacks 'arch' or 'layers'.")
    return tensors, card


def model_from_card(card: dict[str, Any], source: str = "checkpoint") -> ZooNet:
    """An untrained network with the card's architecture (zoo names must match the zoo)."""
    arch, layers = card["arch"], card["layers"]
    if arch in ARCHITECTURES and layers != ARCHITECTURES[arch].layers():
        raise CheckpointError(
            f"{source}: its card says architecture {arch!r}, but its layers differ from the "
            f"zoo's {arch!r}; it was made by a different version of the zoo.")
    try:
        return build_from_config(arch, layers)
    except ValueError as exc:
        raise CheckpointError(f"{source}: {exc}") from exc


def fit_weights(model: ZooNet, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Load ``tensors`` into ``model``, naming every missing, extra or misshapen tensor."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    shapes = [f"{k} is {tuple(tensors[k].shape)}, the architecture needs {tuple(v.shape)}"
              for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""))
    if extra:
        problems.append("unexpected " + ", ".join(extra[:6]) + (" ..." if len(extra) > 6 else ""))
    problems += shapes[:6]
    if problems:
        raise CheckpointError(
            f"{source}: the weights do not fit architecture {model.arch!r}: "
            + "; ".join(problems) + ".")
    model.load_state_dict(tensors, strict=True)


def load_checkpoint_bytes(data: bytes, source: str = "checkpoint") -> tuple[ZooNet, dict[str, Any]]:
    """(model in eval mode, model card) from the bytes of a .safetensors checkpoint."""
    tensors, card = read_checkpoint(data, source)
    model = model_from_card(card, source)
    fit_weights(model, tensors, source)
    return model.eval(), card


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[ZooNet, dict[str, Any]]:
    """(model in eval mode, model card) from a .safetensors checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file.")
    return load_checkpoint_bytes(path.read_bytes(), str(path))


def to_numpy_net(model: ZooNet, card: dict[str, Any]) -> NumpyNet:
    """The same network as a :class:`viz.npforward.NumpyNet` (numpy copies of every tensor)."""
    tensors = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    return NumpyNet(model.arch, model.layer_config, tensors, dict(card))


__all__ = ["CARD_KEY", "CHECKPOINT_DIR", "CheckpointError", "DEFAULT_CHECKPOINT", "fit_weights",
           "load_checkpoint", "load_checkpoint_bytes", "model_from_card", "read_checkpoint",
           "save_checkpoint", "shipped_checkpoints", "to_numpy_net"]
