"""Test-set predictions of a checkpoint: shipped ones read from ``checkpoints/``, others computed.

See ``model/files/shipped.py`` for the file format, ``viz/teaching/confusion.py`` for the matrix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.files.atomic import atomic_path
from model.files.shipped import LABELS_PATH, load_shipped, predictions_path
from model.insight.activations import batch_images
from model.train import predict


def compute(model: nn.Module, images: np.ndarray | torch.Tensor) -> np.ndarray:
    """uint8 predictions (N,) for uint8 digits (N, 28, 28), in batches within
    ``viz.limits.BATCH_OUTPUT_BYTES`` of layer outputs (1,000 digits at most)."""
    with torch.no_grad():
        return predict(model, torch.as_tensor(np.asarray(images)),
                       batch_images(model, most=1000)).numpy().astype(np.uint8)


def _save_npy(array: np.ndarray, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)
    return Path(path)


def ship(checkpoint: str | os.PathLike[str], images: np.ndarray, labels: np.ndarray) -> Path:
    """Write ``NAME.predictions.npy`` (and the shared test labels) beside ``checkpoint``."""
    from model.files.checkpoint import load_checkpoint
    model, _ = load_checkpoint(checkpoint)
    _save_npy(np.asarray(labels).astype(np.uint8), LABELS_PATH)
    return _save_npy(compute(model, images), predictions_path(checkpoint))


def labels_and_predictions(checkpoint: str | os.PathLike[str] | None, model: nn.Module,
                           data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(labels, predictions) over the test set: shipped if there, else computed from MNIST."""
    if checkpoint is not None:
        shipped = load_shipped(checkpoint)
        if shipped is not None:
            return shipped
    from model.data import load_mnist
    data = load_mnist(data_dir, download=False)
    return data.test_labels.numpy(), compute(model, data.test_images).astype(np.int64)
