"""The All methods view: every attribution method for one target class on one scale, and the
sanity check (the same methods on a copy of the network with random weights). A network within
the lens's bound computes the grid in the browser (both rows: the copy's weights are sent too, so
the server computes no map), beside a drawing pad it follows.

Session-state keys: ``cmp.*``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.training.costs import map_images
from ui import checked
from ui.cache import attributions
from ui.components import livenet, saliencymap
from ui.state import presenting
from ui.views import Shown, View
from ui.views.background import poll, show_progress
from ui.views.saliency import (
    chosen_target,
    inline,
    maps_task,
    network_macs,
    target_picker,
    window_defaults,
)
from viz.teaching import fields


def draw(v: Shown) -> None:
    from model.saliency import METHODS
    key, image, probs, row = v.key, v.image, v.probs, v.row
    c1, c2 = st.columns([1, 2])
    with c1:
        target = target_picker(probs, "cmp.target")
    with c2:
        checked.check("cmp.sanity", checked.SWITCH, "The Sanity check switch")
        sanity = st.toggle("Sanity check: add a row with randomised weights", key="cmp.sanity",
                           value=True)
    window, stride = window_defaults(row)
    if livenet.runs_in_browser(key):
        saliencymap.render_live(image, key, [(k, m.label) for k, m in METHODS.items()],
                                target=chosen_target("cmp.target"), layer=row.name,
                                window=window, stride=stride, key="cmp.grid", grid=True,
                                randomized=sanity, large=presenting())
        blank = {m.label for m in METHODS.values() if m.feature_maps and len(row.shape) != 3}
        st.caption(caption(target, row.name, window, stride, v.table, blank, live=True))
        if sanity:
            st.markdown(sanity_markdown(key, None, set(), row.name, window, stride))
        return
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
    else:
        done = {}
    # the page's maps, the two rows on two threads (ui.cache.attributions)
    maps = attributions(key, image, [(k, name != "trained") for name in rows for k in METHODS
                                     if (k, name != "trained") not in done],
                        target, row.name, window, stride)
    for name in rows:
        for k, m in METHODS.items():
            job = (k, name != "trained")
            got = done[job] if job in done else maps[job]
            rows[name][m.label] = got if got is not None else np.zeros((28, 28), np.float32)
            if got is None:  # e.g. Grad-CAM on a layer without feature maps
                skipped.add(m.label)
    saliencymap.render_grid(image, rows, blank=skipped, key="cmp.grid", large=presenting())
    st.caption(caption(target, row.name, window, stride, v.table, skipped))
    if sanity:
        st.markdown(sanity_markdown(key, rows, skipped, row.name, window, stride))


def caption(target: int, layer: str, window: int, stride: int, table, skipped: set[str] | frozenset[str] = frozenset(),
            live: bool = False) -> str:
    """The grid's caption: its scale, the layer the layer methods use, the blank maps."""
    from model.saliency import METHODS
    drawn = " (or your drawing's)" if live else ""
    return (f"All methods for class {target}{drawn} on one "
            f"shared diverging scale (each map divided by its own largest |value|; red = for, "
            f"blue = against). {' and '.join(m.label for m in METHODS.values() if m.uses_layer)} "
            f"use {layer} (window {window}, stride {stride})."
            + (" Computed in your browser: draw on the pad and the maps follow." if live else "")
            + (f" {', '.join(sorted(skipped))} left blank: {layer} has no feature maps; "
               + (f"nor has any layer of this network. {dense}" if (dense := fields.dense_only(
                   table)) else "pick a conv, activation or pooling layer.")
               if skipped else ""))


def digit_spearman(rows: dict[str, dict[str, np.ndarray]], skipped: set[str]
                   ) -> dict[str, float]:
    """{method label: Spearman of |map| on the trained and the random-weights network} for the
    maps on the page (the blank ones left out)."""
    from model.trust import spearman
    trained, random = rows["trained"], rows["random weights"]
    return {label: float(spearman(np.abs(trained[label])[None], np.abs(random[label])[None])[0])
            for label in trained if label not in skipped and label in random}


def network_spearman(key) -> tuple[dict[str, float], str] | None:
    """The Trust view's randomization numbers for this network ({label: Spearman}, over which
    digits) when it has measured them in this server process, else None (they are computed in
    the background on request, not shipped)."""
    from model.saliency import METHODS
    from model.training.background import TASKS
    from ui.views.background import model_digest
    sha, _ = model_digest(key)
    for n in (100, 50, 20, 10, 5, 2):  # the Trust view's digit counts, the most digits first
        task = TASKS.get(f"trust:{sha}:{n}")
        if task is not None and not task.running and task.error is None and task.result:
            rows = task.result["rows"]
            return ({METHODS[r.method].label: r.randomization_spearman for r in rows},
                    task.result["source"])
    return None


def sanity_markdown(key, rows: dict[str, dict[str, np.ndarray]] | None, skipped: set[str],
                    layer: str = "", window: int = 0, stride: int = 0) -> str:
    """The sanity check's text, computed from the maps on the page and the Trust view's numbers
    (``viz.teaching.findings``; ``rows`` None: the browser has them). Each verdict names its Occlusion window (the page's, from
    ``layer``; the Trust view's fixed tiles): a different window can give a different verdict."""
    from model.trust import OCCLUSION
    from viz.teaching import findings
    measured = network_spearman(key)
    network, scope = measured if measured else (None, "")
    tw, ts = OCCLUSION
    here = f" (Occlusion: {window}x{window} window, stride {stride}, from {layer})" if window else ""
    differs = ("" if not window or (window, stride) == (tw, ts) else
               f"Occlusion's two verdicts use different windows ({window}x{window} at {layer} "
               f"here, {tw}x{tw} tiles in the Trust view), so they can disagree; its Trust "
               f"numbers are for the tiles.")
    head = ("**Sanity check (Adebayo et al., 2018).** The bottom row repeats every method on a "
            "copy of the network whose weights were re-drawn at random. ")
    if rows is None:  # the maps are in the browser: it prints this digit's numbers under them
        rest = findings.sanity_text({}, network, f"{scope} (the Trust view: Occlusion in "
                                    f"{tw}x{tw} tiles, Grad-CAM on the last activation with a "
                                    f"map)", digit_scope=here, differs=differs)
        rest = rest.removeprefix(findings.randomization_finding({}, f"On this digit{here}"))
        return (head + f"Under the grid, your browser gives each method's Spearman correlation "
                f"of |map| between the two rows on this digit{here} (below "
                f"{findings.PASS_BELOW}: the map depends on what the network learned)." + rest)
    return (head
            + findings.sanity_text(digit_spearman(rows, skipped), network,
                                   f"{scope} (the Trust view: Occlusion in {tw}x{tw} tiles, "
                                   f"Grad-CAM on the last activation with a map)",
                                   digit_scope=here, differs=differs))


VIEW = View("compare", "All methods", draw, "Comparison")
