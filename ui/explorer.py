"""The explorer page: prediction, feature maps, receptive fields and saliency of one input.

Session-state keys: ``layer.*``, ``view``, ``fm.*``, ``rf.*``, ``sal.*``, ``cmp.*``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from model.store import ModelRef
from ui import lensview, saliencymap, state, unitfield, urls
from ui.cache import (
    attribution,
    conv_weight,
    field_table,
    forward,
    growth_figure,
    unit_maps,
)
from ui.common import context, guard, plot
from ui.state import presenting
from viz import fields, figures, htmlviews, preprocess
from viz.layers import LayerInfo
from viz.unit import Unit

PAGE = 16  # feature maps per page


@dataclass(frozen=True)
class Shown:
    """What a view draws: the model, the input, every layer's output and the chosen layer."""

    key: ModelRef
    image: np.ndarray
    acts: dict[str, np.ndarray]
    probs: np.ndarray
    layer: str
    table: list[LayerInfo]

    @property
    def row(self) -> LayerInfo:
        return fields.row_for(self.table, self.layer)


@dataclass(frozen=True)
class View:
    """One explorer view: its name in links (``?view=field``), title, and how it draws."""

    url: str
    title: str
    draw: Callable[[Shown], None]
    activity: str  # what a failure message says was being done
    uses_layer: bool = True  # shows the layer picker (the whole-network views do not)
    # Has a layer picker of its own for this model (then the page's is hidden; it follows).
    picks_layer: Callable[[ModelRef], bool] | None = None


VIEWS: dict[str, View] = {}  # by title, in the order of the view selector


def register(view: View) -> View:
    if view.title in VIEWS or any(v.url == view.url for v in VIEWS.values()):
        raise ValueError(f"an explorer view {view.title!r} or ?view={view.url} already exists")
    VIEWS[view.title] = view
    return view


# ---------------------------------------------------------------------------------------------
# Main area
# ---------------------------------------------------------------------------------------------

def header(image: np.ndarray, label: int | None, desc: str, probs: np.ndarray) -> None:
    pred = int(np.argmax(probs))
    left, mid, right = st.columns([1.0, 2.2, 1.2], vertical_alignment="center")
    with left:
        st.image(preprocess.to_png(image, 140), width=140, output_format="PNG")
        st.caption(f"Input: {desc}.")
    with mid:
        st.markdown(htmlviews.probability_bars(probs), unsafe_allow_html=True)
        st.caption("Class probabilities (softmax of the 10 outputs).")
    with right:
        verdict = ""
        if label is not None:
            verdict = "correct" if label == pred else f"wrong: it is a {label}"
        colour = "#3b5b92" if label is None or label == pred else "#b35806"
        st.markdown(
            f"<div style='line-height:1.15'><span style='font-size:1rem;color:#555'>Prediction"
            f"</span><br><span style='font-size:4.2rem;font-weight:700;color:{colour}'>{pred}"
            f"</span><br><span style='font-size:1.05rem'>{probs[pred]:.1%} sure"
            f"{' · ' + verdict if verdict else ''}</span></div>", unsafe_allow_html=True)


def _default_layer(acts) -> str:
    names = list(acts)
    if state.layer() not in names:
        state.select_layer(next((n for n in ("relu5", "relu3", "relu2") if n in names), names[0]))
    return state.layer()


def layer_picker(acts) -> str:
    names = list(acts)
    _default_layer(acts)
    shapes = {n: "x".join(str(s) for s in a.shape) for n, a in acts.items()}
    name = st.selectbox("Layer", names, key=state.LAYER,
                        format_func=lambda n: f"{names.index(n) + 1:>2}. {n}  ·  {shapes[n]}",
                        help="Every layer in order, with its output shape (channels x height x "
                             "width).")
    return name


def view_feature_maps(v: Shown) -> None:
    """The lens (the network run in the browser), or the server's maps when it cannot run."""
    if lensview.enabled() and lensview.feature_maps(v.key, v.image, v.layer):
        return
    server_maps(v)


def server_maps(v: Shown) -> None:
    key, acts, layer = v.key, v.acts, v.layer
    a = acts[layer]
    if a.ndim == 1 or (a.ndim == 3 and a.shape[1:] == (1, 1)):
        vec = a.reshape(-1)
        plot(figures.vector_bars(vec), key="fm.vector")
        st.caption(f"{layer} outputs {vec.size} numbers, one per class (no spatial map "
                   f"left: every unit sees the whole image).")
        return
    c = a.shape[0]
    cols = st.columns([1.3, 1.0, 1.0, 1.4])
    scale = cols[0].radio("Colour scale", ["per map", "shared"], horizontal=True, key="fm.scale",
                          help="Per map: each map stretched to its own range (compare shapes). "
                               "Shared: one range for all (compare strengths).")
    pages = (c + PAGE - 1) // PAGE
    page = 0
    if pages > 1:
        page = cols[2].number_input(f"Page (of {pages})", 1, pages, 1, key="fm.page") - 1
    cmap = cols[1].selectbox("Colours", ["cividis", "viridis", "gray"], key="fm.cmap",
                             help="cividis and viridis are readable with colour-blindness and "
                                  "in black and white.")
    weight = conv_weight(key, layer)
    show_filters = False
    if weight is not None:
        show_filters = cols[3].toggle("Show this layer's filters", key="fm.filters")
    lo, hi = page * PAGE, min(c, (page + 1) * PAGE)
    fig = figures.feature_grid(a[lo:hi], first_channel=lo, per_map=scale == "per map",
                               colorscale=cmap)
    plot(fig, key="fm.mosaic")
    st.caption(f"The {hi - lo} feature maps {lo}-{hi - 1} of {layer} ({c} channels, "
               f"{a.shape[1]}x{a.shape[2]}) for this input; bright = strong activation "
               f"({'each map on its own scale' if scale == 'per map' else 'one shared scale'}). "
               f"Hover for values.")
    if show_filters:
        w = weight
        out_c, in_c = w.shape[:2]
        fig, o_hi, i_hi = figures.filter_grid(w)
        plot(fig, key="fm.weights")
        st.caption(f"The {w.shape[2]}x{w.shape[3]} filters of {layer}: one row per output "
                   f"channel ({o_hi} of {out_c}), one column per input channel ({i_hi} of {in_c})"
                   f"; red = positive weight, blue = negative, one shared scale.")


def _on_pick() -> None:
    """A unit picked in the panel (click or Enter) becomes the explorer's unit."""
    unit = state.picked_unit()
    picked = state.component_unit("rf.panel")
    if picked is not None and unit is not None and picked.layer == unit.layer:
        state.keep_unit(unit.moved(y=picked.y, x=picked.x))


@st.fragment
def unit_panel(key: ModelRef, image: np.ndarray, acts, row: LayerInfo) -> None:
    """Pick a unit; see its theoretical field, effective field and attribution. Reruns alone.

    The browser draws the channel's map and the pictures (``ui/unitfield.py``): hovering a unit
    shows its field at once; a pick reruns this fragment for the effective field and attribution
    (guarded here: a fragment's own reruns do not pass through the caller's guard).
    """
    guard("Picking a unit", lambda: _unit_panel(key, image, acts, row))


def _unit_panel(key: ModelRef, image: np.ndarray, acts, row: LayerInfo) -> None:
    a = acts[row.name]
    spatial = a.ndim == 3 and a.shape[1] > 1
    c_total = a.shape[0]
    # (a record that is not a unit, numbers missing or not whole, reads as None: start afresh)
    unit = state.picked_unit()
    if unit is None or unit.layer != row.name:
        if spatial:  # start on the layer's most active unit: something to see at once
            cyx = tuple(int(v) for v in np.unravel_index(int(np.argmax(a)), a.shape))
        else:
            cyx = int(np.argmax(a.reshape(-1))), 0, 0
        unit = Unit.at(row.name, cyx)
        state.pick_unit(unit)
    elif not 0 <= unit.c < c_total:  # a pick or link past the layer's channels: the nearest
        unit = unit.moved(c=min(max(unit.c, 0), c_total - 1))
        state.pick_unit(unit)
    channel = state.channel_key(row.name)
    if st.session_state.get(channel) not in range(c_total):
        st.session_state[channel] = unit.c
    left, right = st.columns([1, 2.6], vertical_alignment="bottom")
    c = left.selectbox("Channel", list(range(c_total)), key=channel,
                       help="The layer's most active unit is picked first.")
    if c != unit.c:
        unit = unit.moved(c=c)
        state.keep_unit(unit)
    shown = Unit.at(row.name, fields.clamp_unit(row, c, unit.y, unit.x) if spatial else (c, 0, 0))
    _, y, x = shown.cyx
    urls.write()
    region = fields.unit_region(row, y, x)
    erf, attr = unit_maps(key, image, row.name, shown.cyx)
    right.markdown(f"**Unit (channel {c}, row {y}, col {x}) of {row.name}** · "
                   f"{fields.describe(row, region, erf)}")
    if not spatial:
        st.caption(f"{row.name} has no spatial map: each of its {c_total} units sees the whole "
                   f"image. Pick one with the channel box.")
    unitfield.render(image, row, shown, fmap=a[c] if spatial else None, erf=erf, attr=attr,
                     key="rf.panel", large=presenting(), on_pick=_on_pick)


def view_receptive_field(v: Shown) -> None:
    key, image, acts, table, row = v.key, v.image, v.acts, v.table, v.row
    unit_panel(key, image, acts, row)
    st.subheader("How far each layer sees")
    left, right = st.columns([1.25, 1])
    with left:
        every = st.toggle("Show every layer (BatchNorm, ReLU and dropout do not change the "
                          "field)", key="rf.every")
        shown = [r for r in table if every or r.name == row.name
                 or r.type not in ("bn", "relu", "dropout")]
        st.markdown(htmlviews.layer_table(shown, row.name), unsafe_allow_html=True)
        st.caption("Per layer: receptive field r, effective stride S and effective padding P in "
                   "input pixels (unit i sees pixels i·S − P to i·S − P + r − 1), parameters and "
                   "multiply-accumulates; the chosen layer is highlighted.")
        arch = context().arch
        # made when clicked, not on every run of this view (layer changes, unit picks)
        st.download_button("Download the table (CSV, every layer)",
                           lambda: fields.table_csv(table),
                           file_name=f"{arch}-receptive-fields.csv", mime="text/csv",
                           icon=":material/download:", key="rf.csv")
    with right:
        plot(growth_figure(key, row.name), key="rf.growth")
        st.caption("The receptive field r grows with depth; pooling doubles the stride S, so "
                   "each later 3x3 conv adds 2·S pixels.")


def _target_picker(probs: np.ndarray, key: str) -> int:
    pred = int(np.argmax(probs))
    options = ["predicted"] + list(range(10))
    choice = st.selectbox("Target class", options, key=key,
                          format_func=lambda o: f"predicted ({pred})" if o == "predicted" else
                          f"{o} ({probs[o]:.0%})")
    return pred if choice == "predicted" else int(choice)


def _window_defaults(row: LayerInfo) -> tuple[int, int]:
    """A sliding window's size and step: the layer's field r and effective stride S."""
    from model.saliency.occlusion import defaults
    return defaults(row.r, row.stride)


def view_saliency(v: Shown) -> None:
    """One method's map, drawn in the browser (``ui/saliencymap.py``): over the input, at an
    opacity set there without a rerun, and alone, with the value under the pointer."""
    from model.saliency import METHODS
    key, image, probs, row = v.key, v.image, v.probs, v.row
    c1, c2 = st.columns([3.2, 1])
    method = c1.radio("Method", list(METHODS), format_func=lambda k: METHODS[k].label,
                      horizontal=True, key=state.METHOD)
    with c2:
        target = _target_picker(probs, "sal.target")
    window, stride = _window_defaults(row)
    m = METHODS[method]
    if m.uses_window:
        o1, o2, _ = st.columns([1, 1, 2])
        window = o1.number_input("Window (pixels)", 1, 28, window, key=f"sal.window.{row.name}",
                                 help=f"Defaults to {row.name}'s receptive field r = {row.r} "
                                      f"(at most 14).")
        stride = o2.number_input("Stride (pixels)", 1, 28, stride, key=f"sal.stride.{row.name}",
                                 help=f"Defaults to {row.name}'s effective stride S = "
                                      f"{row.stride}.")
    attr = attribution(key, image, method, target, row.name, int(window), int(stride))
    st.markdown(f"**{m.label} for class {target}.** {m.explanation}")
    if m.uses_layer and not m.uses_window and row.stride is not None:
        st.info(f"Grad-CAM here uses **{row.name}** ({row.size}x{row.size} map). Each of its "
                f"units is {row.stride} input pixel(s) from the next (effective stride S = "
                f"{row.stride}), so the map is made of {row.stride}x{row.stride} blocks. "
                f"Pick a later layer for coarser, more class-specific maps.")
    if m.uses_window:
        st.info(f"A {window}x{window} black patch slides in steps of {stride} pixels; the "
                f"map shows how much the score of class {target} drops (red = the patch "
                f"hid evidence).")
    saliencymap.render(image, attr, f"{m.label} for class {target}", key="sal.map",
                       large=presenting())


def view_compare(v: Shown) -> None:
    from model.saliency import METHODS
    key, image, probs, row = v.key, v.image, v.probs, v.row
    c1, c2 = st.columns([1, 2])
    with c1:
        target = _target_picker(probs, "cmp.target")
    with c2:
        sanity = st.toggle("Sanity check: add a row with randomised weights", key="cmp.sanity",
                           value=True)
    window, stride = _window_defaults(row)
    rows = {"trained": {}}
    if sanity:
        rows["random weights"] = {}
    skipped: set[str] = set()
    for name in rows:
        for k, m in METHODS.items():
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


# ---------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------

register(View("maps", "Feature maps", view_feature_maps, "Feature maps",
              picks_layer=lensview.runs))
register(View("field", "Receptive field", view_receptive_field, "Receptive field"))
register(View("saliency", "Saliency", view_saliency, "Saliency"))
register(View("compare", "All methods", view_compare, "Comparison"))


def view_atlas(v: Shown) -> None:
    from ui import atlas_view
    atlas_view.render_atlas(v.key, v.layer, v.acts[v.layer].shape[0])


def view_confusion(v: Shown) -> None:
    from ui import atlas_view
    atlas_view.render_confusion(v.key)


def view_trust(v: Shown) -> None:
    from ui import atlas_view
    atlas_view.render_trust(v.key)


register(View("atlas", "Atlas", view_atlas, "Atlas"))
register(View("confusion", "Confusion", view_confusion, "Confusion", uses_layer=False))
register(View("trust", "Trust", view_trust, "Trust", uses_layer=False))


# ---------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------

@st.fragment
def explorer(key: ModelRef, image: np.ndarray, acts, probs: np.ndarray) -> None:
    """Layer picker, view selector and the chosen view.

    A fragment: switching layer or view, or any widget inside a view, reruns only this part, not
    the sidebar and the prediction above it.
    """
    from ui.atlas_view import rerun_if_opened
    rerun_if_opened()
    # One row for the views (and the link), one for the layer.
    # The views take the whole width (seven fit a projector's large type and a narrow window);
    # the layer and the link go on the row below.
    c2 = st.container()
    c1, _, c3 = st.columns([1.4, 1.4, 0.7] if presenting() else [1.35, 1.9, 0.75],
                           vertical_alignment="bottom")
    titles = list(VIEWS)
    if state.view() not in titles:
        state.show_view(titles[0])
    with c2:
        title = st.segmented_control("View", titles, key=state.VIEW, required=True,
                                     label_visibility="collapsed")
    view = VIEWS.get(title or titles[0], VIEWS[titles[0]])
    own_picker = view.uses_layer and view.picks_layer is not None and view.picks_layer(key)
    if not view.uses_layer or own_picker:
        # The whole-network views need no layer; the lens picks it in the browser (instant) and
        # sets layer.name. Keep the hidden picker's value for the other views.
        layer = _default_layer(acts)
        state.select_layer(layer)
        if own_picker:
            c1.caption("Pick the layer, channel and unit in the lens below.")
    else:
        with c1:
            layer = layer_picker(acts)
    try:
        table = field_table(key)
        shown = Shown(key, image, acts, probs, layer, table)
        guard(view.activity, lambda: view.draw(shown))
    finally:  # with the view's widgets drawn, the address bar and the link can name them
        urls.write()
        with c3.popover("Link", icon=":material/link:",
                        help="A link to exactly this view, to prepare a lesson or send to a "
                             "student"):
            st.markdown("The address bar always holds the current view; copy it, or this:")
            st.code(urls.link(), language=None, wrap_lines=True)


def page() -> None:
    """The explorer: what the network predicts for the sidebar's input, and why."""
    ctx = context()
    st.title("Inside a convolutional network")
    if ctx.image is None:
        if state.input_source() == state.DRAW and lensview.runs(ctx.key):
            st.info("Draw a digit on the pad below: the prediction and the maps follow the pen. "
                    "When you lift it, your digit becomes the input of every view.")
            lensview.feature_maps(ctx.key, None, state.layer())
            return
        st.info("Choose an input in the sidebar: a sample, a test digit, a drawing or an upload.")
        return
    acts, probs = forward(ctx.key, ctx.image)
    urls.apply_after_forward(acts)
    header(ctx.image, ctx.label, ctx.desc, probs)
    explorer(ctx.key, ctx.image, acts, probs)


if __name__ == "__main__":  # run as a page: draw with the imported module (one registry)
    from ui import explorer as _module
    _module.page()
