"""Evaluate a checkpoint on the official 10k MNIST test set; print one JSON object.

    python -m model.evaluate checkpoints/seed.safetensors [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import torch

from model.data import MNISTError, load_mnist
from model.files.checkpoint import CheckpointError, load_checkpoint
from model.insight.activations import batch_images
from model.train import accuracy
from viz.network.layers import total_params


def evaluate(path: str, data_dir: str | None = None, download: bool = True) -> dict[str, Any]:
    """Test-set accuracy of the checkpoint at ``path``, with the card's claim beside it."""
    torch.set_num_threads(1)  # the same arithmetic as in training's final evaluation
    model, card = load_checkpoint(path)
    data = load_mnist(data_dir, download=download)
    # batches within viz.limits.BATCH_OUTPUT_BYTES of layer outputs (seed-original: 9 digits)
    acc, correct = accuracy(model, data.test_images, data.test_labels,
                            batch_images(model, most=1000))
    return {
        "checkpoint": str(path),
        "arch": card["arch"],
        "params": total_params(model.layer_config),
        "test_accuracy": acc,
        "correct": correct,
        "n": len(data.test_labels),
        "card_test_accuracy": card.get("test_accuracy"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR or .cache)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading")
    a = p.parse_args(argv)
    try:
        print(json.dumps(evaluate(a.checkpoint, a.data_dir, not a.no_download)))
    except (CheckpointError, MNISTError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
