"""The saliency panel's data (viz/browser/saliencypanel.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from viz.browser import saliencypanel
from viz.pictures.figures import OVERLAY_DIVERGING, symmetric_limit


def test_payload_values() -> None:
    image = np.full((28, 28), 300)  # out of range: clipped to 255
    attr = np.zeros((28, 28))
    attr[3, 4], attr[10, 10] = 0.123456, -2.0
    d = saliencypanel.payload(image, attr, "Saliency for class 3")
    json.dumps(d)
    assert d["image"] == [255] * 784
    assert d["attr"][3 * 28 + 4] == 0.1235 and d["attr"][10 * 28 + 10] == -2.0
    assert d["lim"] == pytest.approx(symmetric_limit(attr), rel=1e-3)
    assert d["label"] == "Saliency for class 3"
    # the overlay scale is the charts' one, parsed: [t, r, g, b, alpha]
    assert [s[0] for s in d["overlay"]] == [t for t, _ in OVERLAY_DIVERGING]
    assert d["overlay"][0] == [0.0, 5.0, 48.0, 97.0, 1.0]
    assert d["overlay"][2][4] == 0.0  # transparent at 0


@pytest.mark.parametrize("image, attr, message", [
    (np.zeros((28, 27)), np.zeros((28, 28)), "28x28"),
    (np.zeros((28, 28)), np.zeros(784), "28x28"),
    (np.zeros((28, 28)), np.full((28, 28), np.nan), "NaN"),
])
def test_payload_rejects(image, attr, message) -> None:
    with pytest.raises(ValueError, match=message):
        saliencypanel.payload(image, attr, "x")


def test_grid_payload_values() -> None:
    a = np.zeros((28, 28))
    a[1, 2], a[3, 4] = 4.0, -1.0  # divided by its own largest |value|: 1 and -0.25
    b = np.full((28, 28), -0.5)
    z = np.zeros((28, 28))
    d = saliencypanel.grid_payload(np.zeros((28, 28)), {
        "trained": {"A": a, "B": b, "C": z}, "random weights": {"A": b, "B": a, "C": z}},
        blank={"C"})
    json.dumps(d)
    assert d["rows"] == ["trained", "random weights"] and d["methods"] == ["A", "B", "C"]
    assert d["blank"] == ["C"]
    assert len(d["maps"]) == 6 and all(len(m) == 784 for m in d["maps"])
    assert d["maps"][0][1 * 28 + 2] == 1000 and d["maps"][0][3 * 28 + 4] == -250
    assert sum(map(abs, d["maps"][0])) == 1250
    assert set(d["maps"][1]) == {-1000} and set(d["maps"][2]) == {0}  # zeros stay zero
    assert d["maps"][4] == d["maps"][0]  # row-major over (row, method)


@pytest.mark.parametrize("rows, message", [
    ({}, "at least one row"),
    ({"t": {"A": np.zeros((28, 28))}, "r": {"B": np.zeros((28, 28))}}, "has methods"),
    ({"t": {"A": np.zeros((27, 28))}}, "28x28 and finite"),
    ({"t": {"A": np.full((28, 28), np.inf)}}, "28x28 and finite"),
])
def test_grid_payload_rejects(rows, message) -> None:
    with pytest.raises(ValueError, match=message):
        saliencypanel.grid_payload(np.zeros((28, 28)), rows)
