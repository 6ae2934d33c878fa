"""Class probabilities of a checkpoint for digits in a .npy file; one JSON line per image.

    python -m model.predict FILE --images FILE.npy [--input-scale S]
                            [--architecture NAME | --layers TABLE.csv]

FILE.npy holds uint8 images, N x 28 x 28 (read without pickles). Each line is
``{"index", "probs", "prediction"}``, with the input scaling of the checkpoint's card applied
(``viz.inputs.scaling``; MNIST's mean and std for a card that names none). A refused file prints
``error: MESSAGE`` on stderr, exit 2. FILE is a checkpoint made here or any file the importer
reads (ONNX, ``.keras``, ``.h5``, a PyTorch state dict), converted in memory as
``python -m model.importer`` converts it (a state dict's architecture matched by its tensors'
shapes unless named, the input scaling found on the shipped samples unless given); for a state
dict each line adds ``"architecture"``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model.files.checkpoint import CheckpointError, read_network
from viz.limits import PREDICT_IMAGES
from viz.network.card import CardError
from viz.network.npforward import forward, softmax


def load_images(path: str | Path) -> np.ndarray:
    """uint8 (N, 28, 28) from a .npy file, its header checked before the data is read."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _fortran, dtype = read(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a .npy file ({exc}).") from None
    if dtype != np.uint8 or len(shape) != 3 or shape[1:] != (28, 28):
        raise ValueError(f"{path}: holds {dtype} {shape}; expected uint8 images N x 28 x 28.")
    if not 0 < shape[0] <= PREDICT_IMAGES:
        raise ValueError(f"{path}: {shape[0]:,} images; 1 to {PREDICT_IMAGES:,} are read.")
    return np.load(path, allow_pickle=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.predict", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--images", required=True, help="a .npy file of uint8 N x 28 x 28 digits")
    p.add_argument("--input-scale", default="auto",
                   help="an imported file's input scaling (default: found on the samples)")
    arch = p.add_mutually_exclusive_group()
    arch.add_argument("--architecture", default=None,
                      help="a state dict's network: a zoo architecture (default: matched)")
    arch.add_argument("--layers", default=None,
                      help="a state dict's network as a layer table (the lab's CSV columns)")
    a = p.parse_args(argv)
    extra = {}
    try:
        path = Path(a.checkpoint)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file.")
        images = load_images(a.images)
        from model import importer

        if importer.reader_for(path.name) is not None:  # another tool's file: converted first
            if a.input_scale not in importer.CHOICES:
                raise ValueError(f"--input-scale {a.input_scale!r}: choose one of "
                                 f"{', '.join(importer.CHOICES)}.")
            conv = importer.convert(importer.Folder(path), path.name, a.input_scale,
                                    architecture=importer.architecture_of(a.architecture,
                                                                          a.layers))
            net = read_network(conv.data, path.name)
            if conv.card.get("architecture"):
                extra = {"architecture": conv.card["architecture"]}
        else:
            net = read_network(path.read_bytes(), path.name)
    except (CardError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = net.layers[-1]["name"]
    for i, image in enumerate(images):
        probs = softmax(forward(net, image)[last])
        print(json.dumps({"index": i, "probs": [round(float(v), 7) for v in probs],
                          "prediction": int(np.argmax(probs)), **extra}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
