"""Checkpoints: safetensors weights with the JSON model card embedded, plus a readable copy.

A checkpoint is one self-contained ``NAME.safetensors`` file: the tensors, and in the safetensors
header's metadata the model card (architecture, full layer config, parameters, MACs, accuracies,
training facts). ``NAME.json`` beside it is the same card, for people. Loading never unpickles
anything; files are written atomically (temp file, then rename).

Reading is numpy, torch is built on demand:

- :func:`read_network`: the bytes of a checkpoint (an upload, a file) as a
  :class:`viz.network.npforward.NumpyNet` whose arrays are read-only views of those bytes. Torch is
  neither imported nor built: the app's prediction, feature maps and in-browser lens of an
  upload run on these arrays.
- :func:`torch_model`: the torch network of such a NumpyNet, for what needs gradients (saliency,
  effective fields, atlas, trust). Built without random initialisation (on the meta device), its
  parameters are the NumpyNet's arrays: shared (``share=True``, the app's models, which are never
  changed) or copied once.
- :func:`load_checkpoint` / :func:`load_checkpoint_bytes`: both, for the command-line tools (the
  model owns its weights).

Every problem raises :class:`CheckpointError` naming what is wrong: not a checkpoint at all (a
pickle or anything else), truncated, no model card, a card that is malformed or over the server's
size limits, weights that do not fit the architecture, or NaN/infinite weights. The header is
read and the card checked by ``viz.network.card`` (the one header reader) before any tensor is read or
any network is built. This module imports torch only when a torch network is saved or built.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model.architectures import ARCHITECTURES, DEFAULT
from model.files.atomic import atomic_write
from model.store import CHECKPOINT_DIR, shipped_checkpoints
from viz.inputs.scaling import from_mnist, scale_of
from viz.network import card as card_reader
from viz.network.npforward import NumpyNet

if TYPE_CHECKING:
    import torch

    from model.zoo import ZooNet

CARD_KEY = card_reader.CARD_KEY
CARD_VERSION = 1
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / f"{DEFAULT}.safetensors"


class CheckpointError(card_reader.CardError):
    """A file that cannot be used as a checkpoint, with a message saying why."""


def save_checkpoint(model: ZooNet, card: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``path`` (.safetensors, card embedded) and the card as ``path`` with .json."""
    from safetensors.torch import save as st_save

    path = Path(path).with_suffix(".safetensors")
    card = {"format": CARD_VERSION, "arch": model.arch, "layers": model.layer_config, **card}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    blob = st_save(state, metadata={CARD_KEY: json.dumps(card)})
    atomic_write(path, blob)
    atomic_write(path.with_suffix(".json"), (json.dumps(card, indent=2) + "\n").encode())
    return path


def read_network(data: bytes, source: str = "checkpoint") -> NumpyNet:
    """The network of a checkpoint's bytes, in numpy: its card, layer records and tensors
    (read-only views of ``data``, nothing copied). No torch.

    The header and the card are checked first (``viz.network.card``: layer records, the tensors they
    imply against the header's names, shapes and dtypes, the server's size limits; then a zoo
    name that matches the zoo's layers), so a hostile file is refused before any tensor is
    read; NaN or infinite weights are refused after.
    """
    try:
        card, table = card_reader.read_header(data, source)
        card_reader.validate_card(card, table, source)
        _check_zoo_name(card, source)
        try:  # a scaling the app knows, with finite numbers
            scale_of(card)
        except ValueError as exc:
            raise CheckpointError(f"{source}: {exc}") from None
        tensors = card_reader.arrays(data, table, source)
    except card_reader.CardError as exc:
        raise CheckpointError(str(exc)) from None
    return NumpyNet(card["arch"], card["layers"], tensors, card)


def _check_zoo_name(card: dict[str, Any], source: str) -> None:
    """A card that names a zoo architecture must hold that architecture's layers."""
    arch, layers = card["arch"], card["layers"]
    if arch in ARCHITECTURES and layers != ARCHITECTURES[arch].layers():
        raise CheckpointError(
            f"{source}: its card says architecture {arch!r}, but its layers differ from the "
            f"zoo's {arch!r}; it was made by a different version of the zoo.")


def model_from_card(card: dict[str, Any], source: str = "checkpoint") -> ZooNet:
    """An untrained network with the card's architecture (zoo names must match the zoo)."""
    from model.zoo import build_from_config

    _check_zoo_name(card, source)
    try:
        return build_from_config(card["arch"], card["layers"])
    except ValueError as exc:
        raise CheckpointError(f"{source}: {exc}") from exc


def _tensor(a: np.ndarray, share: bool) -> torch.Tensor:
    import torch

    if share and a.flags.aligned and a.dtype.isnative:
        with warnings.catch_warnings():
            # Read-only arrays (views of the checkpoint's bytes): torch warns that writing to
            # the tensor is undefined. The shared models are never written (model/insight/activations.py).
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            return torch.from_numpy(a)
    return torch.from_numpy(np.array(a, dtype=a.dtype.newbyteorder("="), order="C"))


def torch_model(net: NumpyNet, source: str = "checkpoint", *, share: bool = False) -> ZooNet:
    """The torch network (eval mode) of a NumpyNet read from a checkpoint (every tensor of its
    state dict, as :func:`read_network` and ``viz.network.npforward.load`` give them).

    The modules are made on the meta device (no random weights) and take ``net``'s arrays as
    their parameters and buffers: ``share=True`` uses the arrays themselves (``torch.from_numpy``;
    the model must then never be trained or changed in place, as the app's shared models are
    not), else a writable copy made once. A zoo name whose layers differ from the zoo's raises
    :class:`CheckpointError`.
    """
    import torch

    with torch.device("meta"):
        model = model_from_card({"arch": net.arch, "layers": net.layers}, source)
    state = {name: _tensor(a, share) for name, a in net.tensors.items()}
    model.load_state_dict(state, strict=True, assign=True)
    try:  # torch paths feed MNIST-normalised digits; the model turns them into its own scaling
        model.input_affine = from_mnist(net.card)
    except ValueError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if left:
        raise CheckpointError(f"{source}: no weights for {', '.join(left[:6])}.")
    return model.eval()


def load_checkpoint_bytes(data: bytes, source: str = "checkpoint") -> tuple[ZooNet, dict[str, Any]]:
    """(model in eval mode, model card) from the bytes of a .safetensors checkpoint; the model
    owns its weights (a copy of the file's)."""
    net = read_network(data, source)
    return torch_model(net, source), net.card


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[ZooNet, dict[str, Any]]:
    """(model in eval mode, model card) from a .safetensors checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file.")
    return load_checkpoint_bytes(path.read_bytes(), str(path))


__all__ = ["CARD_KEY", "CHECKPOINT_DIR", "CheckpointError", "DEFAULT_CHECKPOINT",
           "load_checkpoint", "load_checkpoint_bytes", "model_from_card", "read_network",
           "save_checkpoint", "shipped_checkpoints", "torch_model"]
