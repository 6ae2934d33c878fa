"""Checkpoints: safetensors weights with the JSON model card embedded, plus a readable copy.

A checkpoint is one self-contained ``NAME.safetensors`` file: the tensors, and in the safetensors
header's metadata the model card (architecture, full layer config, parameters, MACs, accuracies,
training facts). ``NAME.json`` beside it is the same card, for people. Loading never unpickles
anything; files are written atomically (temp file, then rename).

Every problem raises :class:`CheckpointError` naming what is wrong: not a checkpoint at all (a
pickle or anything else), truncated, no model card, a card that is malformed or over the server's
size limits, weights that do not fit the architecture, or NaN/infinite weights. The header is
read and the card checked by ``viz.card`` (the one header reader) before any tensor is read or
any network is built.
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
from viz import card as card_reader

CARD_KEY = card_reader.CARD_KEY
CARD_VERSION = 1
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / f"{DEFAULT}.safetensors"


class CheckpointError(card_reader.CardError):
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


def read_checkpoint(data: bytes, source: str = "checkpoint") -> tuple[dict[str, torch.Tensor],
                                                                     dict[str, Any]]:
    """Parse safetensors bytes into (tensors, model card) without building a model.

    The header and the card are checked first (``viz.card``: layer records, the tensors they
    imply against the header, the server's size limits, a zoo name that matches the zoo's
    layers), so a hostile file is refused before any tensor is read; NaN or infinite weights
    are refused after.
    """
    try:
        card, table = card_reader.read_header(data, source)
        card_reader.validate_card(card, table, source)
    except card_reader.CardError as exc:
        raise CheckpointError(str(exc)) from None
    _check_zoo_name(card, source)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(f"{source}: not a valid safetensors file ({exc}).") from exc
    try:
        card_reader.check_finite({k: v.numpy() for k, v in tensors.items()}, source)
    except card_reader.CardError as exc:
        raise CheckpointError(str(exc)) from None
    return tensors, card


def _check_zoo_name(card: dict[str, Any], source: str) -> None:
    """A card that names a zoo architecture must hold that architecture's layers."""
    arch, layers = card["arch"], card["layers"]
    if arch in ARCHITECTURES and layers != ARCHITECTURES[arch].layers():
        raise CheckpointError(
            f"{source}: its card says architecture {arch!r}, but its layers differ from the "
            f"zoo's {arch!r}; it was made by a different version of the zoo.")


def model_from_card(card: dict[str, Any], source: str = "checkpoint") -> ZooNet:
    """An untrained network with the card's architecture (zoo names must match the zoo)."""
    _check_zoo_name(card, source)
    try:
        return build_from_config(card["arch"], card["layers"])
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


__all__ = ["CARD_KEY", "CHECKPOINT_DIR", "CheckpointError", "DEFAULT_CHECKPOINT", "fit_weights",
           "load_checkpoint", "load_checkpoint_bytes", "model_from_card", "read_checkpoint",
           "save_checkpoint", "shipped_checkpoints"]
