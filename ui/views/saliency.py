"""The Saliency view: one attribution method's map for a target class, drawn in the browser
(``ui/components/saliencymap.py``). ``target_picker`` and ``window_defaults`` serve the All
methods view too.

A map whose cost (:func:`map_macs`: the network's multiply-adds per image times the images the
method runs) is over ``model.training.costs.INLINE_MACS`` (on ``seed-original``: Integrated
Gradients, SmoothGrad and Occlusion) is computed in the background with progress
(:func:`maps_task`), so the page never waits on it; the All methods view shares that path. A
network within the lens's bound (``ui.components.livenet``) computes its map in the browser
instead, beside a drawing pad it follows: the server computes none.

Session-state keys: ``sal.method`` (``ui.state.METHOD``: a link sets it), ``sal.target``,
``sal.window.LAYER``, ``sal.stride.LAYER``, ``sal.map``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import streamlit as st

from model.store import ModelRef
from model.training.costs import INLINE_MACS, map_images, map_macs
from ui import checked, state
from ui.cache import attribution, get_model
from ui.components import livenet, saliencymap
from ui.state import presenting
from ui.views import Shown, View
from ui.views.background import model_digest, poll, show_progress, start
from viz.network.layers import LayerInfo
from viz.teaching import fields


def target_picker(probs: np.ndarray, key: str) -> int:
    pred = int(np.argmax(probs))
    options = ["predicted"] + list(range(10))
    checked.check(key, checked.one_of(options), "The Target class picker")
    choice = st.selectbox("Target class", options, key=key,
                          format_func=lambda o: f"predicted ({pred})" if o == "predicted" else
                          f"{o} ({probs[o]:.0%})")
    return pred if choice == "predicted" else int(choice)


def window_defaults(row: LayerInfo) -> tuple[int, int]:
    """A sliding window's size and step: the layer's field r and effective stride S."""
    from model.saliency.occlusion import defaults
    return defaults(row.r, row.stride)


def network_macs(table: Sequence[LayerInfo]) -> int:
    """Multiply-adds of one image through the network (the engine's per-layer count)."""
    return sum(int(info.macs) for info in table)


def inline(method: str, macs: int, window: int, stride: int) -> bool:
    """Whether a map is cheap enough to compute while the page waits."""
    return map_macs(method, macs, window, stride) <= INLINE_MACS


def maps_task(key: ModelRef, image: np.ndarray, jobs: Sequence[tuple[str, bool]], target: int,
              layer: str, window: int, stride: int):
    """The maps ``jobs`` ((method, on the randomized copy)) of one digit, in one background
    task (``ui.views.background``), shared by every session asking for the same maps. Progress
    counts the images through the network (a forward hook on a private copy: the shared model
    never carries one); the result is {(method, randomized): (28, 28) map}."""
    sha, _ = model_digest(key)
    pixels = hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()
    names = ",".join(f"{m}{'~' if r else ''}" for m, r in jobs)
    total = sum(map_images(m, window, stride) for m, _ in jobs)

    def run(progress):
        from model import saliency
        from model.insight.activations import as_input, private_copy
        from ui.cache import _randomized
        model, _ = get_model(key)
        seen = [0]

        def count(_module, inputs, _output) -> None:
            seen[0] += len(inputs[0])
            progress(min(seen[0], total), total,
                     f"{min(seen[0], total):,} of {total:,} images through the network")

        out = {}
        x = as_input(image)
        for method, randomized in jobs:
            net = private_copy(_randomized(key, model) if randomized else model)
            net.register_forward_hook(count)
            try:
                out[(method, randomized)] = saliency.attribute(
                    method, net, x, target, layer=layer, window=window, stride=stride)
            except ValueError:  # e.g. Grad-CAM on a layer without feature maps
                out[(method, randomized)] = None
        return out

    return start(f"maps:{sha}:{pixels[:16]}:{names}:{target}:{layer}:{window}:{stride}", run)


def draw(v: Shown) -> None:
    """One method's map, drawn in the browser (``ui/components/saliencymap.py``): over the input, at an
    opacity set there without a rerun, and alone, with the value under the pointer."""
    from model.saliency import METHODS
    key, image, probs, row = v.key, v.image, v.probs, v.row
    c1, c2 = st.columns([3.2, 1])
    checked.check(state.METHOD, checked.one_of(list(METHODS)), "The Method choice")
    method = c1.radio("Method", list(METHODS), format_func=lambda k: METHODS[k].label,
                      horizontal=True, key=state.METHOD)
    with c2:
        target = target_picker(probs, "sal.target")
    window, stride = window_defaults(row)
    m = METHODS[method]
    if m.uses_window:
        o1, o2, _ = st.columns([1, 1, 2])
        checked.check(f"sal.window.{row.name}", checked.whole(1, 28), "The Window box")
        checked.check(f"sal.stride.{row.name}", checked.whole(1, 28), "The Stride box")
        window = o1.number_input("Window (pixels)", 1, 28, window, key=f"sal.window.{row.name}",
                                 help=f"Defaults to {row.name}'s receptive field r = {row.r} "
                                      f"(at most 14).")
        stride = o2.number_input("Stride (pixels)", 1, 28, stride, key=f"sal.stride.{row.name}",
                                 help=f"Defaults to {row.name}'s effective stride S = "
                                      f"{row.stride}.")
    if m.feature_maps and len(row.shape) != 3:  # Grad-CAM on a vector
        dense = fields.dense_only(v.table)
        st.info(f"{m.label} needs a layer with feature maps; {row.name} has none"
                + (f", nor has any layer of this network. {dense}" if dense else
                   ": pick a conv, activation or pooling layer."))
        return
    if livenet.runs_in_browser(key):
        _explain(m, row, target, window, stride)
        saliencymap.render_live(image, key, [(method, m.label)], target=chosen_target("sal.target"),
                                layer=row.name, window=int(window), stride=int(stride),
                                key="sal.map", large=presenting())
        return
    macs = network_macs(v.table)
    if inline(method, macs, int(window), int(stride)):
        attr = attribution(key, image, method, target, row.name, int(window), int(stride))
    else:
        task = maps_task(key, image, [(method, False)], target, row.name, int(window),
                         int(stride))
        cost = map_macs(method, macs, int(window), int(stride))
        what = (f"{m.label} for class {target} ({map_images(method, int(window), int(stride)):,}"
                f" images through a network of {macs / 1e6:,.0f}M multiply-adds each: "
                f"{cost / 1e9:,.0f} billion in all)")
        if not show_progress(task, what):
            if task.running:
                poll(task)
            st.markdown(f"**{m.label} for class {target}.** {m.explanation}")
            return
        attr = task.result[(method, False)]
        if attr is None:
            st.info(f"{m.label} needs a layer with feature maps; {row.name} has none"
                    + (f", nor has any layer of this network. {dense}" if (
                        dense := fields.dense_only(v.table)) else "."))
            return
    _explain(m, row, target, window, stride)
    saliencymap.render(image, attr, f"{m.label} for class {target}", key="sal.map",
                       large=presenting())


def chosen_target(key: str) -> int | None:
    """The target picker's class, or None for "predicted" (the browser's own prediction, which
    follows its drawing pad)."""
    choice = st.session_state.get(key, "predicted")
    return None if choice == "predicted" else int(choice)


def _explain(m, row: LayerInfo, target: int, window: int, stride: int) -> None:
    st.markdown(f"**{m.label} for class {target}.** {m.explanation}")
    if m.feature_maps and row.stride is not None:
        st.info(f"Grad-CAM here uses **{row.name}** ({row.size}x{row.size} map). Each of its "
                f"units is {row.stride} input pixel(s) from the next (effective stride S = "
                f"{row.stride}), so the map is made of {row.stride}x{row.stride} blocks. "
                f"A later layer gives coarser maps, usually more class-specific ones.")
    if m.uses_window:
        article = "An" if str(window).startswith(("8", "11", "18")) else "A"
        steps = "one pixel at a time" if stride == 1 else f"in steps of {stride} pixels"
        st.info(f"{article} {window}x{window} black patch slides {steps}; the "
                f"map shows how much the score of class {target} drops (red = the patch "
                f"hid evidence).")


def needs_layer() -> bool:
    """Whether the chosen method reads a layer (Grad-CAM's maps, Occlusion's window): the
    others explain the input alone, so the page hides the layer picker for them."""
    from model.saliency import METHODS
    m = METHODS.get(state.method()) if isinstance(state.method(), str) else None
    return (m or next(iter(METHODS.values()))).uses_layer


VIEW = View("saliency", "Saliency", draw, "Saliency", needs_layer=needs_layer)
