"""Write what each shipped checkpoint carries for offline use: its atlas and test predictions.

    python -m model.make_shipped [--data-dir DIR] [NAME ...]

For every shipped checkpoint (or the NAMEs given): ``checkpoints/NAME.atlas.npz`` (compact, with
the digits it shows) and ``checkpoints/NAME.predictions.npy``; the test labels once in
``checkpoints/test-labels.npy``. Needs the MNIST test set.
"""

from __future__ import annotations

import argparse

import torch

from model.atlas import ship_atlas
from model.data import load_mnist
from model.files.checkpoint import shipped_checkpoints
from model.insight.predictions import ship


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.make_shipped")
    p.add_argument("names", nargs="*", help="checkpoint names (default: every shipped one)")
    p.add_argument("--data-dir", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    data = load_mnist(a.data_dir, download=False)
    images, labels = data.test_images.numpy(), data.test_labels.numpy()
    for name, path in shipped_checkpoints().items():
        if a.names and name not in a.names:
            continue
        atlas = ship_atlas(path, images)
        preds = ship(path, images, labels)
        print(f"{name}: {atlas.name} {atlas.stat().st_size:,} bytes, "
              f"{preds.name} {preds.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
