"""The test-set predictions shipped beside each checkpoint: where they are, and reading them.

Shipped checkpoints ship their 10,000 test predictions (``checkpoints/NAME.predictions.npy``,
uint8) and the test labels once (``checkpoints/test-labels.npy``), so the confusion matrix
(``viz/teaching/confusion.py``) works with no MNIST on the machine. ``model/insight/predictions.py`` writes them.
Torch-free (numpy only), like ``model/store.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from model.store import CHECKPOINT_DIR

LABELS_PATH = CHECKPOINT_DIR / "test-labels.npy"


def predictions_path(checkpoint: str | os.PathLike[str]) -> Path:
    """``checkpoints/NAME.predictions.npy`` beside ``checkpoints/NAME.safetensors``."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".predictions.npy")


def load_shipped(checkpoint: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(test labels, predictions) shipped with ``checkpoint``, as int64, or None."""
    path = predictions_path(checkpoint)
    if not (path.is_file() and LABELS_PATH.is_file()):
        return None
    preds = np.load(path, allow_pickle=False)
    labels = np.load(LABELS_PATH, allow_pickle=False)
    if preds.shape != labels.shape:
        return None
    return labels.astype(np.int64), preds.astype(np.int64)
