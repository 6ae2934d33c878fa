"""A page with only the saliency panel, for the browser tests.

    streamlit run tests/app/browser/saliency_page.py -- then open ?sample=3 (&grid=1: the grid)

The panel shows a seeded random signed map (normal, plus a few extreme pixels beyond the scale)
over a shipped sample; ``saliency_map(sample)`` makes the same map for the tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import streamlit as st

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from ui.components import saliencymap  # noqa: E402


def saliency_map(sample: int) -> np.ndarray:
    a = np.random.default_rng(sample).normal(size=(28, 28))
    a[0, 0], a[27, 27] = 40.0, -40.0  # beyond the 99.5th percentile: clipped to the scale's ends
    return a


if __name__ == "__main__":
    st.set_page_config(page_title="saliency test page", layout="wide")
    sample = int(st.query_params.get("sample", "0"))
    with np.load(ROOT / "checkpoints" / "samples.npz", allow_pickle=False) as data:
        image = data["images"][sample]
    if st.query_params.get("grid") == "1":  # the All methods grid: two rows, three methods
        maps = {"trained": {"A": saliency_map(sample), "B": -saliency_map(sample + 1),
                            "C": np.zeros((28, 28))},
                "random weights": {"A": saliency_map(sample + 2), "B": saliency_map(sample + 3),
                                   "C": np.zeros((28, 28))}}
        saliencymap.render_grid(image, maps, blank={"C"}, key="cmp.grid")
    else:
        saliencymap.render(image, saliency_map(sample), "Test map for class 3", key="sal.map",
                           large=st.query_params.get("large") == "1")
