"""The confusion matrix of a model on the test set, as arithmetic (numpy only).

``matrix[t, p]`` counts test digits of true class ``t`` predicted as ``p``. The labels and
predictions come from ``model/files/shipped.py`` (shipped with a checkpoint) or ``model/insight/predictions.py``
(computed); the matrix's figure is :func:`viz.pictures.atlasfigs.confusion_figure`.
"""

from __future__ import annotations

import numpy as np

from viz.network.layers import NUM_CLASSES

CLASSES = NUM_CLASSES  # the digits 0..9: the matrix's rows and columns


def confusion(labels: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """(10, 10) counts: row = true class, column = predicted class."""
    labels, preds = np.asarray(labels).astype(np.int64), np.asarray(preds).astype(np.int64)
    if labels.shape != preds.shape:
        raise ValueError(f"{labels.size} labels but {preds.size} predictions")
    if labels.size and (min(labels.min(), preds.min()) < 0 or max(labels.max(),
                                                                  preds.max()) >= CLASSES):
        raise ValueError("labels and predictions must be classes 0..9")
    return np.bincount(labels * CLASSES + preds, minlength=CLASSES ** 2).reshape(CLASSES, CLASSES)


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Share of each true class predicted right (NaN for a class with no digit)."""
    totals = matrix.sum(axis=1)
    return np.divide(np.diag(matrix), totals, out=np.full(CLASSES, np.nan), where=totals > 0)


def cell(labels: np.ndarray, preds: np.ndarray, true: int, predicted: int) -> np.ndarray:
    """Test-set positions of the digits of class ``true`` predicted as ``predicted``."""
    return np.flatnonzero((np.asarray(labels) == true) & (np.asarray(preds) == predicted))
