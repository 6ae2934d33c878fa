"""The All methods view: every attribution method for one target class on one scale, and the
sanity check (the same methods on a copy of the network with random weights).

Session-state keys: ``cmp.*``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.cache import attribution
from ui.components import saliencymap
from ui.state import presenting
from ui.views import Shown, View
from ui.views.background import poll, show_progress
from ui.views.saliency import (
    inline,
    map_images,
    maps_task,
    network_macs,
    target_picker,
    window_defaults,
)


def draw(v: Shown) -> None:
    from model.saliency import METHODS
    key, image, probs, row = v.key, v.image, v.probs, v.row
    c1, c2 = st.columns([1, 2])
    with c1:
        target = target_picker(probs, "cmp.target")
    with c2:
        sanity = st.toggle("Sanity check: add a row with randomised weights", key="cmp.sanity",
                           value=True)
    window, stride = window_defaults(row)
    rows = {"trained": {}}
    if sanity:
        rows["random weights"] = {}
    skipped: set[str] = set()
    # the maps over the page's budget (seed-original's heavy ones) in one background task
    macs = network_macs(v.table)
    heavy = [(k, name != "trained") for name in rows for k in METHODS
             if not inline(k, macs, window, stride)]
    if heavy:
        task = maps_task(key, image, heavy, target, row.name, window, stride)
        images = sum(map_images(k, window, stride) for k, _ in heavy)
        if not show_progress(task, f"{len(heavy)} of the maps ({images:,} images through a "
                                   f"network of {macs / 1e6:,.0f}M multiply-adds each)"):
            if task.running:
                poll(task)
            return
        done = task.result
    for name in rows:
        for k, m in METHODS.items():
            if heavy and (k, name != "trained") in done:
                got = done[(k, name != "trained")]
                rows[name][m.label] = got if got is not None else np.zeros((28, 28), np.float32)
                if got is None:
                    skipped.add(m.label)
                continue
            try:
                rows[name][m.label] = attribution(key, image, k, target, row.name, window,
                                                   stride, randomized=name != "trained")
            except ValueError:  # e.g. Grad-CAM on a layer without feature maps
                rows[name][m.label] = np.zeros((28, 28), np.float32)
                skipped.add(m.label)
    saliencymap.render_grid(image, rows, blank=skipped, key="cmp.grid", large=presenting())
    st.caption(f"All methods for class {target} on one shared diverging scale (each map divided "
               f"by its own largest |value|; red = for, blue = against). "
               f"{' and '.join(m.label for m in METHODS.values() if m.uses_layer)} "
               f"use {row.name} (window {window}, stride {stride})."
               + (f" {', '.join(sorted(skipped))} left blank: {row.name} has no feature maps; "
                  f"pick a conv, ReLU or pooling layer." if skipped else ""))
    if sanity:
        st.markdown(
            "**Sanity check (Adebayo et al., 2018).** The bottom row repeats every method on a "
            "copy of the network whose weights were re-drawn at random. A map that still looks "
            "like the digit there is explaining the *input*, not the *model*: typically Guided "
            "Backprop. Maps that turn to noise (Saliency, Grad-CAM, Occlusion) really depend "
            "on what the network learned.")


VIEW = View("compare", "All methods", draw, "Comparison")
