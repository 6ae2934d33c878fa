"""The concepts tour: eight concepts and five design rules, each beside a live view of the
sidebar's model and input.

Every step is one :class:`Step` record in :data:`REGISTRY`, registered by the ``@tour_step``
decorator on the function that draws its figure (its text, its figure, whether it needs an
input), and is addressable: ``?concept=convolution``. The page reads and writes only the
``concept`` query parameter. Rule checks and the arithmetic live in ``viz/concepts.py``; the
tour's figures in ``viz/tourfigs.py``.
Session-state keys: ``tour.*``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui import cache, common
from viz import concepts, figures, npforward, tourfigs, urlstate
from viz.layers import SHAPE_KEEPERS

MAX_MAPS = 32  # feature maps shown at once


@dataclass(frozen=True)
class Step:
    """One step of the tour: its text, the live figure beside it, whether it needs an input."""

    key: str  # the link name: ?concept=KEY
    title: str
    show: Callable[..., None]  # (context, layer records, activations) -> draws the figure
    text: str = ""
    visual: str = ""  # what the figure shows, in words
    needs_input: bool = False
    wide: bool = False  # the figure takes the whole width (no text column)
    doing: str = ""  # what a failure message says was being done

    @property
    def activity(self) -> str:
        return self.doing or f"Showing {self.title.lower()}"


REGISTRY: dict[str, Step] = {}  # in tour order


def register(s: Step) -> Step:
    if s.key in REGISTRY:
        raise ValueError(f"a tour step with key {s.key!r} is already registered")
    REGISTRY[s.key] = s
    return s


def tour_step(key: str, title: str, *, text: str = "", visual: str = "", needs_input: bool = False,
         wide: bool = False, doing: str = ""
         ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the decorated figure function as a tour step."""
    def deco(show: Callable[..., None]) -> Callable[..., None]:
        register(Step(key, title, show, text, visual, needs_input, wide, doing))
        return show
    return deco


def steps() -> list[str]:
    return list(REGISTRY)


# ---------------------------------------------------------------------------------------------
# Step navigation and the ?concept= link
# ---------------------------------------------------------------------------------------------

def _read_url() -> str | None:
    """Apply ?concept= when it changed outside the page (a link, the address bar).

    Returns a warning to show when the value is not a step.
    """
    value = st.query_params.get("concept")
    problem = None
    if value is not None and value != st.session_state.get("tour.written"):
        if value in steps():
            st.session_state["tour.pick"] = value
        else:
            problem = (f"There is no tour step {urlstate.shown(value)} (try "
                       f"{', '.join(steps())}). Showing "
                       f"{REGISTRY[st.session_state.get('tour.pick', steps()[0])].title}.")
            st.session_state["tour.written"] = value
    if st.session_state.get("tour.pick") not in steps():
        st.session_state["tour.pick"] = steps()[0]
    return problem


def _write_url(step: str) -> None:
    if st.query_params.get("concept") != step:
        st.query_params["concept"] = step
    st.session_state["tour.written"] = step


def _move(delta: int) -> None:
    i = steps().index(st.session_state.get("tour.pick", steps()[0]))
    st.session_state["tour.pick"] = steps()[min(max(i + delta, 0), len(steps()) - 1)]


def _label(step: str) -> str:
    return f"{steps().index(step) + 1}. {REGISTRY[step].title}"


def navigator() -> str:
    """Previous / step picker / Next; returns the chosen step."""
    i = steps().index(st.session_state["tour.pick"])
    left, mid, right = st.columns([1, 3, 1], vertical_alignment="bottom")
    left.button("← Previous", key="tour.prev", on_click=_move, args=(-1,), disabled=i == 0,
                width="stretch")
    step = mid.selectbox("Step", steps(), key="tour.pick", format_func=_label,
                         label_visibility="collapsed")
    right.button("Next →", key="tour.next", on_click=_move, args=(1,),
                 disabled=i == len(steps()) - 1, width="stretch")
    return step


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def _keep_int(key: str, lo: int, hi: int, default: int) -> None:
    """Make a slider's remembered value valid for this model (or set its default)."""
    value = st.session_state.get(key)
    if not isinstance(value, int) or not lo <= value <= hi:
        st.session_state[key] = min(max(default, lo), hi)


def _keep_choice(key: str, options: list, default) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def layer_records(key) -> list[dict]:
    """The current model's layer records."""
    return cache.layer_records(key)


def _spatial(acts: dict[str, np.ndarray]) -> list[str]:
    return [n for n, a in acts.items() if a.ndim == 3 and a.shape[1] > 1]


def _agreement(ours: float | np.ndarray, net: float | np.ndarray, what: str) -> None:
    diff = float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(net))))
    if diff < 1e-4:
        st.success(f"By hand and by the network: the same {what} (they differ by "
                   f"{diff:.1e}, float rounding).")
    else:
        st.error(f"By hand and by the network differ by {diff:.3g}: the hand computation does "
                 f"not match this layer.")


# ---------------------------------------------------------------------------------------------
# The eight concepts
# ---------------------------------------------------------------------------------------------

@tour_step('convolution', 'Convolution', needs_input=True,
      text=('A convolution slides a small grid of weights (the kernel) over the image. At'
            ' each position it multiplies the pixels under the kernel by the weights and '
            'adds the products (plus a bias): one number of the output. Because the same '
            'weights are used everywhere, the layer finds the same pattern wherever it '
            'appears.'),
      visual=('A 3x3 window on the input, the nine products and their sum, which is '
              'exactly the value of the feature map at that position.'))
def show_convolution(ctx, layers, acts) -> None:
    rec = concepts.first_conv(layers)
    if rec is None:
        st.info(f"The {ctx.arch} network has no convolution.")
        return
    name, k = rec["name"], rec["kernel"]
    pad, stride = rec.get("padding", 0), rec.get("stride", 1)
    if rec.get("dilation", 1) != 1:
        st.info(f"{name} is a dilated convolution; this step shows plain ones only.")
        return
    out = acts[name]
    c_total, h, w = out.shape
    weight = cache.conv_weight(ctx.key, name)
    bias = cache.conv_bias(ctx.key, name)
    # Start where channel 0 responds most: on a stroke, not in the empty background.
    y0, x0 = (int(v) for v in np.unravel_index(int(np.argmax(np.abs(out[0]))), (h, w)))
    _keep_int("tour.conv.y", 0, h - 1, y0)
    _keep_int("tour.conv.x", 0, w - 1, x0)
    _keep_choice("tour.conv.c", list(range(c_total)), 0)
    cols = st.columns([1, 2, 2])
    c = cols[0].selectbox("Filter (channel)", list(range(c_total)), key="tour.conv.c",
                          help=f"Which of {name}'s {c_total} filters slides over the image.")
    y = cols[1].slider("Output row", 0, h - 1, key="tour.conv.y")
    x = cols[2].slider("Output column", 0, w - 1, key="tour.conv.x")
    x_norm = npforward.normalise(ctx.image)
    demo = concepts.conv_demo(x_norm, weight, bias, c, y, x, pad, stride)
    net = float(out[c, y, x])
    left, right = st.columns([1, 1], vertical_alignment="center")
    with left:
        common.plot(tourfigs.conv_window(x_norm, y, x, k, pad, stride, height=300),
                    key="tour.conv.window")
    with right:
        st.metric(f"By hand: {k * k} products summed" + (" + bias" if bias is not None else ""),
                  f"{demo.total:.4f}")
        st.metric(f"The network: {name} output", f"{net:.4f}",
                  help=f"Channel {c} of {name} at row {y}, column {x}, from the network's own "
                       f"forward pass.")
        _agreement(demo.total, net, "number")
    common.plot(tourfigs.conv_arithmetic(demo.patch, demo.kernel, demo.products, height=230),
                key="tour.conv.arith")
    bias_txt = (f" The bias {demo.bias:.4f} is added to the sum." if bias is not None
                else f" {name} has no bias (BatchNorm follows it).")
    st.caption(f"The input as the network sees it (normalised), with the {k}x{k} window of "
               f"output ({y}, {x}) in orange"
               + (f"; the dotted square is the image, outside it {pad} pixel"
                  f"{'s' if pad > 1 else ''} of zero padding." if pad else
                  "; no padding: the window stays inside the image.")
               + f" Below: the patch under the window, {name}'s kernel {c}, and their products."
               + bias_txt)


@tour_step('filters', 'Filters and kernels', needs_input=False,
      text=('A kernel is one 2-D grid of weights; a filter is the stack of kernels, one '
            'per input channel, that produces one output channel. A layer with 16 filters'
            ' makes 16 feature maps. The weights are learned: nobody designs them by '
            'hand.'),
      visual=('The learned filters of the chosen layer.'))
def show_filters(ctx, layers, acts) -> None:
    convs = [r["name"] for r in layers if r.get("type") == "conv"]
    if not convs:
        st.info(f"The {ctx.arch} network has no convolution, so it has no kernels.")
        return
    _keep_choice("tour.filt.layer", convs, convs[0])
    name = st.selectbox("Layer", convs, key="tour.filt.layer",
                        help="The first conv reads the image; later ones read feature maps.")
    w = cache.conv_weight(ctx.key, name)
    out_c, in_c, kh, kw = w.shape
    if in_c == 1:
        cols = min(out_c, 4 if out_c <= 16 else 8)
        fig, o_hi, i_hi = figures.filter_grid(w, max_out=out_c, cols=cols,
                                              height=60 + 110 * -(-out_c // cols))
    else:
        fig, o_hi, i_hi = figures.filter_grid(w)
    common.plot(fig, key="tour.filt.tiles")
    st.markdown(f"**{name}: {out_c} filters × {in_c} kernel{'s' if in_c > 1 else ''} per "
                f"filter = {out_c * in_c:,} kernels of {kh}x{kw}, {out_c * in_c * kh * kw:,} "
                f"weights.**")
    if in_c == 1:
        shown = "one tile per filter (its single kernel, on the one input channel)"
    else:
        shown = (f"one row per filter ({o_hi} of {out_c}), one column per input channel "
                 f"({i_hi} of {in_c}): a row is one filter, each tile one of its kernels")
    st.caption(f"{shown}; red = positive weight, blue = negative, one shared scale.")
    if ctx.key.kind == "untrained":
        st.caption("These are random starting weights: training turns them into edge and "
                   "stroke detectors.")


def _train_link() -> None:
    if "train" in common.PAGES:
        st.page_link(common.PAGES["train"], label="Train a network and watch its epochs",
                     icon="🏋️")


@tour_step('epochs', 'Epochs', needs_input=False,
      text=('An epoch is one pass over every training image. Each step looks at a small '
            'batch, measures the error (the loss) and nudges every weight to reduce it. '
            'Accuracy on images held out from training shows whether the network learns '
            'or only memorises.'),
      visual=("Loss and validation accuracy per epoch, from the model's own training "
              'record.'))
def show_epochs(ctx, layers, acts) -> None:
    _, _, card = cache.model_facts(ctx.key)
    series = concepts.history_series(card)
    if card.get("untrained"):
        st.info(f"This {ctx.arch} network is untrained: its weights are random and it has seen "
                f"zero epochs, so there is no loss curve yet.")
        _train_link()
        return
    if series is None:
        st.info("This checkpoint carries no training record (no per-epoch loss or accuracy).")
        _train_link()
        return
    common.plot(tourfigs.history(series, height=340), key="tour.epochs.fig")
    n = len(series["epoch"])
    acc = [a for a in series["val_accuracy"] if a == a]
    m = st.columns(3)
    m[0].metric("Epochs", n)
    m[1].metric("Final loss", f"{series['loss'][-1]:.3f}",
                delta=f"{series['loss'][-1] - series['loss'][0]:.3f} since epoch 1",
                delta_color="inverse")
    if acc:
        m[2].metric("Best validation accuracy", f"{max(acc):.2%}")
    st.caption("Each point is one pass over the training images. The loss is measured on the "
               "training batches, the accuracy on images held out from training.")
    recipe = card.get("recipe")
    if isinstance(recipe, dict) and not common.presenting():
        with st.expander("How it was trained (the recipe)"):
            st.json(recipe, expanded=False)


@tour_step('1x1', '1x1 convolution', needs_input=True,
      text=('A 1x1 convolution looks at one pixel position at a time and mixes the '
            'channels there: each output channel is a weighted sum of the input channels '
            'at the same pixel. It changes the number of channels cheaply and does not '
            'grow the receptive field.'),
      visual=('At one pixel: the input channel values, the 1x1 weight matrix, and the '
              'output values.'))
def show_1x1(ctx, layers, acts) -> None:
    rec = concepts.one_by_one(layers)
    if rec is None:
        st.info(f"The {ctx.arch} network has no 1x1 convolution. Pick **seed** in the sidebar "
                f"to see one mixing channels.")
        return
    name = rec["name"]
    if rec.get("stride", 1) != 1 or rec.get("padding", 0) != 0:
        st.info(f"{name} is a 1x1 conv with stride or padding; this step shows plain ones only.")
        return
    prev = concepts.previous_name(layers, name)
    inp = acts[prev] if prev else npforward.normalise(ctx.image)
    out = acts[name]
    h, w = out.shape[1:]
    _keep_int("tour.mix.y", 0, h - 1, h // 2)
    _keep_int("tour.mix.x", 0, w - 1, w // 2)
    if h > 1:
        cols = st.columns(2)
        y = cols[0].slider("Pixel row", 0, h - 1, key="tour.mix.y")
        x = cols[1].slider("Pixel column", 0, w - 1, key="tour.mix.x")
    else:
        y = x = 0
    weight = cache.conv_weight(ctx.key, name)
    bias = cache.conv_bias(ctx.key, name)
    vec, mixed = concepts.channel_mix(inp, weight, bias, y, x)
    common.plot(tourfigs.channel_mix(vec, weight, mixed, height=460), key="tour.mix.fig")
    st.caption(f"At pixel ({y}, {x}): each of {name}'s {rec['out']} outputs (bottom) is its "
               f"weight column multiplied by the {rec['in']} values of {prev or 'the input'} "
               f"(left) and summed"
               + (" plus a bias" if bias is not None else "")
               + f". {rec['in']} channels become {rec['out']}; nothing from neighbouring pixels "
               f"is used.")
    _agreement(mixed, out[:, y, x], f"{rec['out']} values as {name}")
    if concepts.head(layers) is rec:
        st.caption("Here the 1x1 conv is the output layer, after a global pool.")


@tour_step('3x3', '3x3 convolution', needs_input=False,
      text=("A 3x3 kernel is the smallest that sees a pixel's neighbours on every side. "
            'Two stacked 3x3 layers see a 5x5 patch with 18 weights per channel pair '
            'instead of 25, with a non-linearity in between; three see 7x7 with 27 '
            'instead of 49.'),
      visual=('The receptive field growing by 2 input pixels per 3x3 layer (times the '
              'effective stride).'))
def show_3x3(ctx, layers, acts) -> None:
    steps = concepts.growth_steps(layers)
    threes = [s for s in steps if s.kernel == 3 and s.kind == "conv"]
    two, three = concepts.stacked_3x3(2), concepts.stacked_3x3(3)
    st.markdown(f"Two stacked 3x3 convs see **{two[0]}x{two[0]}** with **{two[1]}** weights per "
                f"channel pair instead of **{two[2]}**; three see **{three[0]}x{three[0]}** with "
                f"**{three[1]}** instead of **{three[2]}**.")
    if not threes:
        st.info(f"The {ctx.arch} network has no 3x3 convolution.")
        return
    table = [r for r in cache.field_table(ctx.key)
             if r.type not in SHAPE_KEEPERS and not r.is_global]
    common.plot(figures.field_growth(table, threes[-1].name), key="tour.3x3.growth")
    by_stride: dict[int, list[str]] = {}
    for s in threes:
        by_stride.setdefault(s.stride_in, []).append(s.name)
    parts = [f"{len(names)} at S = {stride} (each adds {2 * stride})"
             for stride, names in by_stride.items()]
    st.markdown(f"**{ctx.arch}** has {len(threes)} 3x3 convs: {'; '.join(parts)}. Its field "
                f"reaches r = {steps[-1].r_out} pixels.")
    if not common.presenting():
        import pandas as pd
        df = pd.DataFrame([{"layer": s.name, "kernel": f"{s.kernel}x{s.kernel}",
                            "S before": s.stride_in, "r before": s.r_in, "adds": s.added,
                            "r after": s.r_out} for s in steps])
        st.dataframe(df, hide_index=True, height=min(420, 38 + 35 * len(df)),
                     key="tour.3x3.table")
        st.caption("r after = r before + (kernel − 1) × S. A pool multiplies the effective "
                   "stride S, so every 3x3 conv after it adds twice as much.")


@tour_step('feature-maps', 'Feature maps', needs_input=True,
      text=('A feature map is the output of one filter over the whole image: bright where'
            " the filter's pattern is present. Early maps respond to edges and strokes, "
            'deeper ones to larger parts of digits.'),
      visual=('All feature maps of the chosen layer for the current input.'))
def show_feature_maps(ctx, layers, acts) -> None:
    names = _spatial(acts)
    if not names:
        st.info("This network has no layer with a spatial map.")
        return
    default = next((n for n in names if n.startswith("relu")), names[0])
    _keep_choice("tour.fm.layer", names, default)
    shapes = {n: "x".join(map(str, acts[n].shape)) for n in names}
    name = st.selectbox("Layer", names, key="tour.fm.layer",
                        format_func=lambda n: f"{n} · {shapes[n]}")
    a = acts[name]
    shown = a[:MAX_MAPS]
    common.plot(figures.feature_grid(shown, height=None if len(shown) > 8 else 280),
                key="tour.fm.grid")
    more = f" (the first {MAX_MAPS} of {a.shape[0]})" if a.shape[0] > MAX_MAPS else ""
    st.caption(f"The {len(shown)} feature maps{more} of {name} ({a.shape[1]}x{a.shape[2]}) for "
               f"this input, each on its own scale: bright = strong response. Hover for values.")


@tour_step('activation', 'Activation function', needs_input=True,
      text=('Without a non-linearity, any stack of convolutions collapses into a single '
            'linear map. ReLU keeps positive values and sets negative ones to zero: '
            'cheap, and it lets a deep network build complicated decisions out of simple '
            'pieces.'),
      visual=('One feature map before ReLU (negative values in one colour) and after '
              '(they are gone).'))
def show_activation(ctx, layers, acts) -> None:
    pairs = [(p, r) for p, r in concepts.relu_pairs(layers)
             if acts[p].ndim == 3 and acts[p].shape[1] > 1]
    if not pairs:
        st.info(f"The {ctx.arch} network has no ReLU on a spatial map.")
        return
    labels = {r: f"{p} → {r}" for p, r in pairs}
    _keep_choice("tour.act.relu", list(labels), pairs[0][1])
    cols = st.columns(2)
    relu = cols[0].selectbox("ReLU", list(labels), key="tour.act.relu", format_func=labels.get)
    pre_name = dict((r, p) for p, r in pairs)[relu]
    pre, post = acts[pre_name], acts[relu]
    _keep_choice("tour.act.c", list(range(pre.shape[0])), 0)
    c = cols[1].selectbox("Channel", list(range(pre.shape[0])), key="tour.act.c")
    split = concepts.relu_split(pre[c])
    common.plot(tourfigs.relu_pair(pre[c], post[c], f"{pre_name}, channel {c}",
                                   f"{relu}, channel {c}", height=340), key="tour.act.fig")
    m = st.columns(3)
    m[0].metric("Values set to 0", f"{split['negative_share']:.0%}")
    m[1].metric("Lowest before", f"{split['min']:.3g}")
    m[2].metric("Highest (kept)", f"{split['max']:.3g}")
    same = bool(np.array_equal(post[c], np.maximum(pre[c], 0)))
    st.caption(f"Blue = negative before ReLU; after it those pixels are 0 and the positive ones "
               f"are unchanged ({relu} = max({pre_name}, 0): "
               f"{'checked on every pixel' if same else 'NOT the case here'}).")


@tour_step('receptive-field', 'Receptive field', needs_input=True,
      text=('The receptive field of a unit is the patch of the input it can possibly see.'
            ' It grows by (kernel - 1) x (effective stride) at every layer; pooling '
            'multiplies the stride, so later layers grow faster. Within it, the unit is '
            'most sensitive near the centre: the effective receptive field is smaller '
            'than the theoretical one.'),
      visual=("The chosen unit's exact region on the input, and its sensitivity map "
              'inside it.'))
def show_receptive_field(ctx, layers, acts) -> None:
    from ui import state, unitfield
    from viz import fields
    from viz.unit import Unit
    table = [r for r in cache.field_table(ctx.key)
             if len(r.shape) == 3 and not r.is_global and r.size > 1
             and r.type not in SHAPE_KEEPERS]
    if not table:
        st.info("This network has no spatial layer.")
        return
    names = [r.name for r in table]
    _keep_choice("tour.rf.layer", names, names[min(4, len(names) - 1)])
    name = st.select_slider("Layer", names, key="tour.rf.layer",
                            help="Slide through the layers and watch the field grow.")
    row = fields.row_for(table, name)
    centre = row.size // 2
    c = int(np.argmax(acts[name][:, centre, centre])) if name in acts else 0
    # the centre unit, or the unit last picked on this layer's map (click or Enter)
    picked = state.component_unit("tour.rf.panel")
    y = x = centre
    if picked is not None and picked.layer == name:
        c, y, x = fields.clamp_unit(row, picked.c, picked.y, picked.x)
    unit = Unit(name, c, y, x)
    px = "pixel" if row.stride == 1 else "pixels"
    erf, _ = cache.unit_maps(ctx.key, ctx.image, name, unit.cyx)
    st.markdown(f"**Unit ({y}, {x}) of {name}, channel {c}:** hover the map to see any unit's "
                f"field at once; click one to see its sensitivity.")
    unitfield.render(ctx.image, row, unit, fmap=acts[name][c] if name in acts else None,
                     erf=erf, attr=None, key="tour.rf.panel", large=common.presenting())
    m = st.columns(2)
    m[0].metric("Field size r", f"{row.r}x{row.r} pixels")
    m[1].metric("Effective stride S", f"{row.stride} {px}")
    region = fields.unit_region(row, y, x)
    st.caption(f"Unit ({y}, {x}) of {name} ({row.size}x{row.size} map): theoretical field "
               f"{row.r}x{row.r} pixels, rows {region.y0}..{region.y1}, columns "
               f"{region.x0}..{region.x1} (orange); any part outside the image is zero padding "
               f"(hatched). Neighbouring units' fields are {row.stride} {px} apart."
               + (" The field now covers the whole digit: this unit can use all of it."
                  if row.r >= 28 else ""))


# ---------------------------------------------------------------------------------------------
# The five design rules
# ---------------------------------------------------------------------------------------------

@tour_step("rules", "The five design rules", wide=True, doing="Checking the design rules")
def show_rules(ctx, layers, acts) -> None:
    checks = concepts.check_rules(layers)
    kept = sum(c.followed for c in checks)
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.markdown(f"**{ctx.arch}** follows **{kept} of {len(checks)}** rules.")
        for i, check in enumerate(checks, start=1):
            mark = (":green[:material/check_circle:]" if check.followed
                    else ":orange[:material/cancel:]")
            st.markdown(f"{mark} **{i}. {check.title}.** {check.text}")
            st.caption(f"{'Followed' if check.followed else 'Not followed'}: {check.detail}.")
    with right:
        rows = concepts.rules_table(layers)
        import pandas as pd
        st.dataframe(pd.DataFrame(rows), hide_index=True,
                     height=min(640, 38 + 35 * len(rows)), key="tour.rules.table")
        st.caption(f"The layers of {ctx.arch} (BatchNorm, ReLU and dropout left out): what the "
                   f"checks read.")


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------

def show_step(ctx, key: str) -> None:
    s = REGISTRY[key]
    if s.wide:
        st.subheader(_label(key))
        common.guard(s.activity, lambda: s.show(ctx, layer_records(ctx.key), {}))
        return
    text, visual = st.columns([1, 1.8], gap="large")
    with text:
        st.subheader(_label(key))
        st.markdown(s.text)
        if not common.presenting() and s.visual:
            st.caption(f"Beside it: {s.visual[0].lower()}{s.visual[1:]}")
    with visual:
        if ctx.image is None and s.needs_input:
            st.info("Pick an input in the sidebar (a sample, a test digit, a drawing or an "
                    "upload) to see this on a real digit.")
            return

        def draw() -> None:
            layers = layer_records(ctx.key)
            acts = cache.forward(ctx.key, ctx.image)[0] if ctx.image is not None else {}
            s.show(ctx, layers, acts)

        common.guard(s.activity, draw)


def page() -> None:
    """The guided tour of the concepts and design rules, on the current model and input."""
    ctx = common.context()
    problem = _read_url()
    if not common.presenting():
        st.title("Concepts tour")
    if problem:
        st.warning(problem)
    step = navigator()
    _write_url(step)
    show_step(ctx, step)


if __name__ == "__main__":  # run as a page: draw with the imported module (one registry)
    from ui import tour as _module
    _module.page()
