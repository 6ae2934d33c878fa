"""The Confusion view: the confusion matrix on the test set, per-class accuracy, and a cell's
digits (click one to open it in the explorer).

The predictions are ``model.insight.predictions.labels_and_predictions``: shipped with the checkpoint,
else computed once per model (with the MNIST test set on this machine): while the page waits
when the 10,000 forward passes fit ``model.training.costs.INLINE_MACS``, else in the background
with progress.
Session-state keys: ``cm.*``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.files.shipped import predictions_path
from model.store import ModelRef
from model.training.costs import INLINE_MACS
from ui.cache import get_model
from ui.common import plot
from ui.state import presenting
from ui.views import Shown, View
from ui.views.background import (
    mnist,
    model_digest,
    poll,
    show_progress,
    start,
    test_images,
)
from ui.views.clicks import clicked, misread, notice, open_test_digit
from viz.pictures import atlasfigs
from viz.teaching import confusion


@st.cache_data(show_spinner="Classifying the 10,000 test digits (once per model) ...",
               max_entries=32)
def _labels_and_predictions(sha: str, _key: ModelRef,
                            checkpoint: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(labels, predictions) of the model whose content key is ``sha`` (once per model)."""
    from model.insight.predictions import labels_and_predictions
    return labels_and_predictions(checkpoint, get_model(_key)[0])


TEST_DIGITS = 10_000  # the MNIST test set


def _predict_in_background(sha: str, key: ModelRef):
    """The test set's predictions computed in the background, 500 digits at a time."""
    def run(progress):
        from model.data import load_mnist
        from model.insight.predictions import compute
        data = load_mnist(download=False)
        model, images = get_model(key)[0], data.test_images.numpy()
        parts = []
        for s in range(0, len(images), 500):
            parts.append(compute(model, images[s:s + 500]))
            done = s + len(parts[-1])
            progress(done, len(images), f"{done:,} of {len(images):,} digits")
        return data.test_labels.numpy().astype(np.int64), np.concatenate(parts).astype(np.int64)
    return start(f"predictions:{sha}", run)


def _predictions(key: ModelRef, macs: int = 0):
    """(labels, predictions) over the test set, or None: nothing shipped and no MNIST here; or
    the background task computing them (a network whose test pass is over ``INLINE_MACS``)."""
    sha, path = model_digest(key)
    shipped = path is not None and predictions_path(path).is_file()
    if not mnist() and not shipped:
        return None
    if not shipped and TEST_DIGITS * macs > INLINE_MACS:
        return _predict_in_background(sha, key)
    return _labels_and_predictions(sha, key, None if path is None else str(path))


def _on_cell() -> None:
    cd = clicked("cm.matrix")
    if cd is None:
        return
    if max(cd) >= confusion.CLASSES:
        misread()
        return
    st.session_state["cm.cell"] = (cd[0], cd[1])


def _on_digit(indices: list[int]) -> None:
    cd = clicked("cm.digits")
    if cd is None:
        return
    k = cd[0] * 10 + cd[1]
    if cd[1] < 10 and k < len(indices):
        open_test_digit(indices[k])
    else:
        misread()


def render_confusion(key: ModelRef, macs: int = 0) -> None:
    """Confusion matrix on the test set, per-class accuracy, a cell's digits (click to open).
    ``macs``: the network's multiply-adds per digit (0: classify while the page waits)."""
    data = _predictions(key, macs)
    if data is None:
        st.info("The confusion matrix needs this network's test predictions: shipped networks "
                "carry theirs; for others, put the MNIST test set on this machine (MNIST_DIR).")
        return
    if not isinstance(data, tuple):  # a background task
        if not show_progress(data, f"Classifying the {TEST_DIGITS:,} test digits "
                                   f"({macs / 1e6:,.0f}M multiply-adds each)"):
            if data.running:
                poll(data)
            return
        data = data.result
    labels, preds = data
    notice()
    m = confusion.confusion(labels, preds)
    acc = confusion.per_class_accuracy(m)
    cell = st.session_state.get("cm.cell")
    left, right = st.columns([1.1, 1])
    with left:
        # (presenting, taller: the cells grow with the type, four digits still fit them)
        plot(atlasfigs.confusion_figure(m, selected=cell, height=580 if presenting() else 460),
             key="cm.matrix", on_select=_on_cell, selection_mode="points")
        st.caption(f"{len(labels):,} test digits: row = true class, column = prediction "
                   f"(colour on a log scale so single mistakes show). Overall accuracy "
                   f"{np.trace(m) / m.sum():.2%}. Click a cell to list its digits.")
    with right:
        import pandas as pd
        df = pd.DataFrame({"class": list(range(10)), "digits": m.sum(axis=1),
                           "right": np.diag(m), "accuracy": acc,
                           "most often taken for": [
                               _confused_with(m, t) for t in range(10)]})
        st.dataframe(df.style.format({"accuracy": "{:.2%}"}), hide_index=True, height=390,
                     key="cm.table")
        worst = int(np.nanargmin(acc))
        st.caption(f"Per-class accuracy: weakest class {worst} ({acc[worst]:.2%}).")
    if cell is None:
        return
    t, p = cell
    idx = confusion.cell(labels, preds, t, p).tolist()
    st.markdown(f"**True {t}, predicted {p}: {len(idx):,} digit(s)**"
                + (" (first 60 shown)" if len(idx) > 60 else ""))
    if not idx:
        return
    images = test_images()
    shown = idx[:60]
    if images is None:
        st.caption("Test-set positions: " + ", ".join(f"#{i}" for i in shown)
                   + ". Set MNIST_DIR to see and open them.")
        return
    tiles = [atlasfigs.digit_rgb(images[i], 56) for i in shown]
    rows = [tiles[r:r + 10] for r in range(0, len(tiles), 10)]
    labels_ = [[f"#{i}" for i in shown[r:r + 10]] for r in range(0, len(shown), 10)]
    plot(atlasfigs.grid(rows, labels_), key="cm.digits", on_select=lambda: _on_digit(shown),
         selection_mode="points")
    st.caption("Click a digit to open it in the explorer.")


def _confused_with(m: np.ndarray, t: int) -> str:
    row = m[t].copy()
    row[t] = 0
    if row.sum() == 0:
        return "-"
    p = int(np.argmax(row))
    return f"{p} ({row[p]})"


def draw(v: Shown) -> None:
    render_confusion(v.key, sum(int(info.macs) for info in v.table))


VIEW = View("confusion", "Confusion", draw, "Confusion", uses_layer=False)
