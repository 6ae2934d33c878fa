"""The tables a lesson carries, computed once here by the server's own code: the channel atlas
(``model.atlas``), the confusion matrix (``model.insight.predictions`` and
``viz.teaching.confusion``) and the trust of each saliency method (``model.trust``).

Each is a plain JSON-ready dict; the lesson page draws it as it is (no arithmetic in the browser
but drawing), so its numbers are the app's.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from viz.teaching import confusion


def _digit_text(image: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).decode("ascii")


def atlas_table(checkpoint: Path, model: nn.Module) -> dict[str, Any] | None:
    """Per atlas layer and channel its top test digits, their values, peak units and fields, and
    the digits themselves; None when there is no stored atlas and no MNIST to compute one.

    Args:
        checkpoint: the network's .safetensors file (its shipped or cached atlas is used).
        model: its torch network (to compute the atlas when none is stored).
    Returns:
        ``{"layers": [{"name", "channels": [{"index", "value", "unit", "region", "max"}]}],
        "digits": {test index: base64 of 784 bytes}}``.
    """
    from model import atlas as atlas_mod
    from model.data import load_mnist, mnist_available
    test_images = None
    atlas = atlas_mod.stored_atlas(checkpoint)
    if atlas is None:
        if not mnist_available():
            return None
        test_images = load_mnist(download=False).test_images.numpy()
        atlas = atlas_mod.get_atlas(checkpoint, model, test_images)
    layers = []
    for name, la in atlas.layers.items():
        layers.append({"name": name, "channels": [
            {"index": [int(v) for v in la.index[c]],
             "value": [float(v) for v in la.value[c]],
             "unit": [[int(v) for v in u] for u in la.unit[c]],
             "region": [[int(v) for v in r] for r in la.region[c]],
             "max": float(la.dataset_max[c])} for c in range(la.channels)]})
    if test_images is None and not atlas.digits:
        from model.data import load_mnist
        test_images = load_mnist(download=False).test_images.numpy()
    digits = {str(int(i)): _digit_text(atlas.image(int(i), test_images))
              for i in atlas.used_indices()}
    return {"layers": layers, "digits": digits}


def confusion_table(checkpoint: Path, model: nn.Module) -> dict[str, Any] | None:
    """The confusion matrix over the test set, per-class accuracy and the usual mistake, or None
    when the predictions are neither shipped nor computable (no MNIST here).

    Returns:
        ``{"matrix": 10x10 counts (row true, column predicted), "accuracy": per class,
        "overall", "taken_for": [[class, count] or None], "n"}``.
    """
    from model.data import mnist_available
    from model.files.shipped import load_shipped
    from model.insight.predictions import labels_and_predictions
    if load_shipped(checkpoint) is None and not mnist_available():
        return None
    labels, preds = labels_and_predictions(checkpoint, model)
    m = confusion.confusion(labels, preds)
    acc = confusion.per_class_accuracy(m)
    taken = []
    for t in range(confusion.CLASSES):
        row = m[t].copy()
        row[t] = 0
        taken.append(None if row.sum() == 0 else [int(np.argmax(row)), int(row.max())])
    return {"matrix": m.astype(int).tolist(),
            "accuracy": [None if np.isnan(a) else float(a) for a in acc],
            "overall": float(np.trace(m) / m.sum()), "taken_for": taken, "n": int(m.sum())}


def trust_table(model: nn.Module, digits: int) -> dict[str, Any]:
    """Deletion and insertion AUCs and curves, and the randomization check, per saliency
    method over the first ``digits`` test digits (shipped samples without MNIST), with the
    random-order bar and the one-sentence verdict, as the Trust view computes them.

    Returns:
        ``{"rows": [{"method", "label", "deletion_auc", "insertion_auc", "spearman",
        "deletion_curve", "insertion_curve"}], "random": [deletion, insertion], "verdict",
        "source"}``.
    """
    from model import trust
    from model.saliency import METHODS
    images, source = trust.fixed_digits(digits)
    rows = trust.trust_table(model, images)
    rand_del, rand_ins = trust.random_order_aucs(model, images)
    return {"rows": [{"method": r.method, "label": METHODS[r.method].label,
                      "deletion_auc": r.deletion_auc, "insertion_auc": r.insertion_auc,
                      "spearman": r.randomization_spearman,
                      "deletion_curve": [float(v) for v in r.deletion_curve],
                      "insertion_curve": [float(v) for v in r.insertion_curve]} for r in rows],
            "random": [rand_del, rand_ins], "verdict": trust.verdict(rows), "source": source,
            "occlusion": list(trust.OCCLUSION)}
