"""The Atlas view: what each channel learned, as its top-9 test patches and its synthesized
input (feature visualization), one channel or the whole layer.

An atlas and a layer's feature visualizations are long computations: shipped checkpoints carry
their atlas; otherwise they run in the background (``ui/views/background.py``). A layer's
feature visualizations cost :func:`featvis_macs`; over ``BACKGROUND_MACS`` (seed-original's
wide layers: hours of a core) only the shown channel is synthesized, on request (a button
saying what it costs), and over it even for one channel, none. Clicking a patch opens that test digit with that unit picked
(``ui/views/clicks.py``).
Session-state keys: ``atlas.*``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from model.store import ModelRef
from model.training.costs import BACKGROUND_MACS, featvis_macs, macs_to
from ui import checked, state
from ui.cache import get_model
from ui.common import plot
from ui.views import Shown, View
from ui.views.background import (
    Done,
    mnist,
    model_digest,
    poll,
    show_progress,
    start,
    test_images,
)
from ui.views.clicks import clicked, misread, notice, open_test_digit
from viz.network.unit import Unit
from viz.pictures import atlasfigs
from viz.teaching import fields

PAGE = 8  # channels per page of the layer grid


def atlasstart(key: ModelRef):
    """The atlas of the current model: stored at once, else computed in the background."""
    from model import atlas as atlas_mod
    sha, path = model_digest(key)
    if path is not None:
        stored = _stored_atlas(str(path), sha, _stamp(atlas_mod.cache_path(sha)),
                               _stamp(atlas_mod.shipped_path(path)))
        if stored is not None:
            return Done(stored)

    def run(progress):
        from model.data import load_mnist
        model, _ = get_model(key)
        images = load_mnist(download=False).test_images
        atlas = atlas_mod.compute_atlas(model, images, sha, progress=progress)
        if path is not None:
            atlas_mod.save_atlas(atlas, atlas_mod.cache_path(sha))
        return atlas

    if not mnist():
        return Done(None)
    return start(f"atlas:{sha}", run)


def _stamp(path: Path) -> tuple[int, int] | None:
    """(mtime, size) of a file, or None: an atlas read once is re-read only when its file
    changes (or appears: one computed since)."""
    try:
        st_ = path.stat()
    except OSError:
        return None
    return st_.st_mtime_ns, st_.st_size


@st.cache_resource(show_spinner=False, max_entries=16)
def _stored_atlas(path: str, sha: str, cached: tuple | None, shipped: tuple | None):
    """The stored atlas of a checkpoint, read from disk once per file version (every session
    opening the Atlas shares it; an Atlas is never changed once read)."""
    from model import atlas as atlas_mod
    return atlas_mod.stored_atlas(path, sha)


def featvisstart(key: ModelRef, layer: str):
    from model.insight import featvis
    sha, path = model_digest(key)
    cache = sha if path is not None else ""  # only checkpoint files are cached on disk
    if cache and featvis.cache_path(cache, layer).is_file():
        return Done(featvis.layer_grid(get_model(key)[0], cache, layer))
    return start(f"featvis:{sha}:{layer}",
                 lambda progress: featvis.layer_grid(get_model(key)[0], cache, layer, progress))


def _task_named(name: str):
    """The background task called ``name`` if one was started (never starts one)."""
    from model.training.background import TASKS
    return TASKS.get(name)


def channelstart(key: ModelRef, layer: str, channel: int):
    """One channel's feature visualization, in the background (for a layer too costly whole)."""
    from model.insight import featvis
    sha, _ = model_digest(key)
    return start(f"featvis:{sha}:{layer}:{channel}",
                 lambda progress: featvis.synthesize(get_model(key)[0], layer, [channel],
                                                     progress=progress))


def _patches(atlas, layer: str, channel: int, images: np.ndarray | None, scale: int):
    la = atlas.layer(layer)
    return [atlasfigs.patch_rgb(atlas.image(int(i), images), la.region[channel, k], scale)
            for k, i in enumerate(la.index[channel])]


@st.cache_resource(show_spinner=False, max_entries=64)
def _channel_figure(sha: str, atlas_id: int, layer: str, channel: int, _atlas):
    """A channel's row of top patches (the same for every session and digit: built once per
    network, layer and channel; never changed after)."""
    la = _atlas.layer(layer)
    r = int(la.region[channel, 0, 1] - la.region[channel, 0, 0] + 1)
    patches = _patches(_atlas, layer, channel, test_images(), atlasfigs.tile_scale(r, 84))
    return atlasfigs.channel_figure(patches, la.value[channel], la.index[channel])


def _on_patch(layer: str, channel: int, chart_key: str) -> None:
    cd = clicked(chart_key)
    atlas = st.session_state.get("atlas.current")
    if cd is None or atlas is None:
        return
    la = atlas.layer(layer)
    k = cd[1]
    if not 0 <= channel < la.index.shape[0] or k >= la.index.shape[1]:
        misread()
        return
    y, x = (int(v) for v in la.unit[channel, k])
    open_test_digit(int(la.index[channel, k]), Unit(layer, channel, y, x))


def render_atlas(key: ModelRef, layer: str, channels: int, layer_macs: int = 0) -> None:
    """The atlas view: a channel's top-9 patches, its synthesized input, and the layer grid.
    ``layer_macs``: multiply-adds of one image up to ``layer`` (sizes the feature visualization;
    0: always the whole layer)."""
    task = atlasstart(key)
    if task.result is None and not task.running and task.error is None:
        st.info("This network has no stored atlas and the MNIST test set is not on this machine "
                "(set MNIST_DIR): the atlas needs the 10,000 test digits once.")
        return
    if not show_progress(task, "Computing the atlas over the 10,000 test digits"):
        if task.running:
            poll(task)
        return
    atlas = task.result
    if layer not in atlas.layers:
        st.info(f"{layer} is not in the atlas: it covers the conv, activation and pooling layers "
                f"with feature maps ({', '.join(atlas.layers)}). Pick one of them above.")
        return
    st.session_state["atlas.current"] = atlas
    la = atlas.layer(layer)
    unit = state.picked_unit()
    default = unit.c if unit is not None and unit.layer == layer else 0
    left, right = st.columns([3.2, 1])
    with left:
        checked.check(f"atlas.channel.{layer}", checked.one_of(range(la.channels)),
                      "The Channel picker")
        c = st.selectbox("Channel", list(range(la.channels)), index=min(max(default, 0), la.channels - 1),
                         key=f"atlas.channel.{layer}")
        r = int(la.region[c, 0, 1] - la.region[c, 0, 0] + 1)
        chart = f"atlas.row.{layer}.{c}"
        plot(_channel_figure(atlas.sha256, id(atlas), layer, c, atlas), key=chart,
             on_select=lambda: _on_patch(layer, c, chart), selection_mode="points")
        st.caption(
            f"The 9 test digits (of 10,000) that excite channel {c} of {layer} most, each cropped "
            f"to the exact {r}x{r} receptive field of the unit where it peaks (orange hatching: "
            f"zero padding outside the image); its activation under each. The largest over the "
            f"test set is {la.dataset_max[c]:.2f}. Click a patch to open that digit with that "
            f"unit picked.")
        notice()
    whole = featvis_macs(la.channels, layer_macs) <= BACKGROUND_MACS
    one = featvis_macs(1, layer_macs) <= BACKGROUND_MACS
    with right, st.container(key="side-atlas-synth"):  # under the chart when the page is narrow
        st.markdown("**Synthesized input**")
        if not one:
            st.caption(f"Not synthesized: {featvis_macs(1, layer_macs) / 1e12:,.1f} trillion "
                       f"multiply-adds for one channel of {layer}, more than this server "
                       f"gives one view ({BACKGROUND_MACS / 1e12:,.0f} trillion).")
            ftask = None
        elif whole:
            ftask, what = featvisstart(key, layer), f"Feature visualization of {layer}"
        else:  # one channel, on request: browsing the layers starts nothing this costly
            ftask = _task_named(f"featvis:{model_digest(key)[0]}:{layer}:{c}")
            what = (f"Feature visualization of channel {c} of {layer} (the whole layer would "
                    f"take {featvis_macs(la.channels, layer_macs) / 1e12:,.0f} trillion "
                    f"multiply-adds)")
            if ftask is None:
                st.caption(f"Too costly for all {la.channels} channels of {layer} "
                           f"({featvis_macs(la.channels, layer_macs) / 1e12:,.0f} trillion "
                           f"multiply-adds); channel {c} alone takes "
                           f"{featvis_macs(1, layer_macs) / 1e12:,.1f} trillion: one to several "
                           f"minutes of one core, with the class's load.")
                if st.button(f"Synthesize channel {c}", key=f"atlas.synth.{layer}.{c}"):
                    ftask = channelstart(key, layer, c)
        if ftask is not None and show_progress(ftask, what):
            synth = ftask.result
            i = synth.channels.index(c)
            r_syn = synth.regions[i]
            st.image(atlasfigs.to_png(atlasfigs.patch_rgb(
                synth.images[i], r_syn, atlasfigs.tile_scale(r, 84))), width=84,
                output_format="PNG", alt=f"The synthesized input of channel {c} of {layer}, "
                                         f"cropped to the field of its strongest unit")
            st.image(_png(synth.images[i]), width=112, output_format="PNG",
                     alt=f"The whole 28x28 input synthesized to excite channel {c} of {layer}")
            st.caption(f"Top: the synthesized input cropped like the patches, to the field of "
                       f"the unit where it peaks (row {synth.units[i][0]}, col "
                       f"{synth.units[i][1]}); below, all of it. The 28x28 input gradient ascent "
                       f"found to excite channel {c} "
                       f"(jitter, total-variation penalty, pixels in 0..255): activation "
                       f"{synth.values[i]:.2f}, {synth.values[i] / max(la.dataset_max[c], 1e-6):.1f}"
                       f"x the best test digit." if la.dataset_max[c] > 0 else
                       f"The 28x28 input found by gradient ascent: activation "
                       f"{synth.values[i]:.2f}; no test digit excites this channel at all.")
        elif ftask is not None and ftask.running:
            poll(ftask)
    checked.check("atlas.grid", checked.SWITCH, "The whole-layer switch")
    if st.toggle("Show the whole layer (every channel's top 9)", key="atlas.grid"):
        render_layer_grid(key, atlas, layer, synthesize=whole)


def render_layer_grid(key: ModelRef, atlas, layer: str, synthesize: bool = True) -> None:
    la = atlas.layer(layer)
    pages = (la.channels + PAGE - 1) // PAGE
    page = 0
    if pages > 1:
        checked.check(f"atlas.page.{layer}", checked.whole(1, pages), "The Channels page box")
        page = st.number_input(f"Channels page (of {pages})", 1, pages, 1,
                               key=f"atlas.page.{layer}") - 1
    lo, hi = page * PAGE, min(la.channels, (page + 1) * PAGE)
    images = test_images()
    r = int(la.region[0, 0, 1] - la.region[0, 0, 0] + 1)
    scale = atlasfigs.tile_scale(r, 56)
    rows = [_patches(atlas, layer, c, images, scale) for c in range(lo, hi)]
    ftask = featvisstart(key, layer) if synthesize else None
    synth = None
    if (ftask is not None and not ftask.running and ftask.error is None
            and ftask.result is not None):
        size = rows[0][0].shape[:2]
        res = ftask.result
        synth = [atlasfigs.resize_rgb(atlasfigs.patch_rgb(res.images[c], res.regions[c], scale),
                                      size) for c in range(lo, hi)]
    plot(atlasfigs.layer_figure(rows, la.value[lo:hi], la.index[lo:hi], lo, synth),
         key=f"atlas.grid.{layer}.{page}")
    st.caption(f"Channels {lo}-{hi - 1} of {layer}: each row is one channel's top 9 patches "
               f"({r}x{r} fields)" + (", then its synthesized input, cropped the same way to "
                                       "the field of its strongest unit." if synth else
                                       " (no synthesized inputs: too costly for every channel "
                                       "of this layer)." if not synthesize else "."))


def _png(image: np.ndarray) -> bytes:
    from viz.inputs import preprocess
    return preprocess.to_png(image, 160)


def draw(v: Shown) -> None:
    dense = fields.dense_only(v.table)
    if dense:  # nothing to compute over the test set
        st.info(f"The atlas shows what excites each channel of a conv, activation or pooling "
                f"layer. {dense} Saliency shows which pixels a class score depends on.")
        return
    render_atlas(v.key, v.layer, v.acts[v.layer].shape[0], macs_to(v.table, v.layer))


VIEW = View("atlas", "Atlas", draw, "Atlas")
