"""The confusion matrix of a model on the test set, and its figure (numpy and plotly only).

``matrix[t, p]`` counts test digits of true class ``t`` predicted as ``p``. Shipped checkpoints
ship their 10,000 test predictions (``checkpoints/NAME.predictions.npy``, uint8) and the test
labels once (``checkpoints/test-labels.npy``), so the matrix works with no MNIST on the machine.

The heatmap carries an invisible scatter with one marker per cell (a click on a plain heatmap
never reaches Python): its ``customdata`` is ``[true, predicted]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
LABELS_PATH = CHECKPOINT_DIR / "test-labels.npy"
CLASSES = 10


def predictions_path(checkpoint: str | Path) -> Path:
    """``checkpoints/NAME.predictions.npy`` beside ``checkpoints/NAME.safetensors``."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".predictions.npy")


def load_shipped(checkpoint: str | Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(test labels, predictions) shipped with ``checkpoint``, or None."""
    path = predictions_path(checkpoint)
    if not (path.is_file() and LABELS_PATH.is_file()):
        return None
    preds = np.load(path, allow_pickle=False)
    labels = np.load(LABELS_PATH, allow_pickle=False)
    if preds.shape != labels.shape:
        return None
    return labels.astype(np.int64), preds.astype(np.int64)


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


def figure(matrix: np.ndarray, selected: tuple[int, int] | None = None,
           height: int = 460) -> go.Figure:
    """Heatmap of the counts (log colour so single errors show), the count in every cell,
    and an invisible scatter on top so a click on a cell reaches Python."""
    m = np.asarray(matrix)
    classes = list(range(CLASSES))
    text = [[str(int(v)) if v else "" for v in row] for row in m]
    fig = go.Figure(go.Heatmap(
        z=np.log10(m + 1.0), x=classes, y=classes, text=text, texttemplate="%{text}",
        colorscale="Cividis", showscale=False, xgap=1, ygap=1, hoverinfo="skip"))
    ys, xs = np.meshgrid(classes, classes, indexing="ij")
    fig.add_trace(go.Scatter(
        x=xs.ravel().tolist(), y=ys.ravel().tolist(), mode="markers",
        marker=dict(size=34, symbol="square", color="rgba(0,0,0,0)"),
        customdata=np.stack([ys.ravel(), xs.ravel()], axis=1).tolist(),
        hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}: "
                      "%{text} digit(s)<extra></extra>",
        text=[str(int(v)) for v in m.ravel()], showlegend=False))
    if selected is not None:
        t, p = selected
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5,
                      line=dict(color="#d8862a", width=3))
    fig.update_xaxes(title="predicted", tickmode="array", tickvals=classes, side="top",
                     constrain="domain")
    fig.update_yaxes(title="true", tickmode="array", tickvals=classes, autorange="reversed",
                     scaleanchor="x")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                      clickmode="event+select", dragmode=False)
    return fig
