"""Explorer views: what each channel learned (atlas and feature visualization), the confusion
matrix, and how far to trust each saliency map. Self-contained: each ``render_*`` draws one view.

Long computations (an atlas, a layer's feature visualizations, the trust table) run in the
background (``model.background.TASKS``, one per server and key) while the view shows progress;
shipped checkpoints carry their atlas and test predictions, so these views work offline.
Session-state keys: ``atlas.*``, ``cm.*``, ``trust.*``; a click that opens a test digit sets the
sidebar's input (``in.*``), the unit (``rf.*``) and the view, as a ``test:N`` link would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from model import store
from model.shipped import load_shipped
from model.store import ModelRef
from ui import state
from ui.cache import get_model, test_predictions, test_set
from ui.common import plot
from viz import atlasfigs, confusion, urlstate
from viz.unit import Unit

PAGE = 8  # channels per page of the layer grid


# ---------------------------------------------------------------------------------- sources


@st.cache_data(show_spinner=False, max_entries=64)
def _file_sha(path: str, mtime: float) -> str:
    return store.file_sha256(path)


def model_digest(key: ModelRef) -> tuple[str, Path | None]:
    """(content key, checkpoint file or None) of the sidebar's model."""
    if key.kind == "checkpoint":
        path = key.path
        return _file_sha(str(path), path.stat().st_mtime), path
    if key.kind == "upload":
        return key.target, None  # the sha256 of the uploaded bytes
    return f"untrained-{key.target}", None


def _mnist() -> bool:
    from model.data import mnist_available
    return mnist_available()


def _test_images() -> np.ndarray | None:
    return test_set()[0] if _mnist() else None


def _task(key: ModelRef, fn):
    from model.background import TASKS
    return TASKS.start(key, fn)


def _show_progress(task, what: str) -> bool:
    """True when the task is done; otherwise a progress bar (and the page polls)."""
    if task.error:
        st.error(f"{what} failed: {task.error}")
        return False
    if task.running:
        st.progress(task.fraction, text=f"{what} in the background: {task.message}. The rest of "
                                        f"the app keeps working.")
        return False
    return True


def atlas_task(key: ModelRef):
    """The atlas of the current model: stored at once, else computed in the background."""
    from model import atlas as atlas_mod
    sha, path = model_digest(key)
    if path is not None:
        stored = atlas_mod.stored_atlas(path, sha)
        if stored is not None:
            return _Done(stored)

    def run(progress):
        from model.data import load_mnist
        model, _ = get_model(key)
        images = load_mnist(download=False).test_images
        atlas = atlas_mod.compute_atlas(model, images, sha, progress=progress)
        if path is not None:
            atlas_mod.save_atlas(atlas, atlas_mod.cache_path(sha))
        return atlas

    if not _mnist():
        return _Done(None)
    return _task(f"atlas:{sha}", run)


class _Done:
    """A finished task stand-in for results that were already stored."""

    running = False
    error = None
    fraction = 1.0
    message = "done"

    def __init__(self, result):
        self.result = result


def featvis_task(key: ModelRef, layer: str):
    from model import featvis
    sha, path = model_digest(key)
    cache = sha if path is not None else ""  # only checkpoint files are cached on disk
    if cache and featvis.cache_path(cache, layer).is_file():
        return _Done(featvis.layer_grid(get_model(key)[0], cache, layer))
    return _task(f"featvis:{sha}:{layer}",
                 lambda progress: featvis.layer_grid(get_model(key)[0], cache, layer, progress))


# ---------------------------------------------------------------------------------- clicks


def open_test_digit(index: int, unit: Unit | None = None) -> None:
    """Select test digit ``index`` in the sidebar (and a unit, shown in the field view).

    Call from a widget callback: it sets widget state before the widgets are drawn.
    """
    if not _mnist():
        st.session_state["atlas.notice"] = (
            f"Test digit #{index} can only be opened with the MNIST test set on this machine "
            f"(set MNIST_DIR); the patch above is all the shipped atlas holds.")
        return
    state.select_test_digit(index)
    if unit is not None:
        state.select_layer(unit.layer)
        state.pick_unit(unit)
        state.show_view("Receptive field")
    else:
        state.show_view("Feature maps")
    st.session_state["atlas.rerun"] = True  # the sidebar must redraw: see rerun_if_opened


def rerun_if_opened() -> None:
    """Call first in the explorer fragment: after a click opened a test digit, rerun the whole
    app (a fragment rerun would leave the sidebar, and so the input, as it was)."""
    if st.session_state.pop("atlas.rerun", False):
        st.rerun(scope="app")


CLICK_MISREAD = "That click could not be read (the chart sent no point this page drew); click again."


def _clicked(chart_key: str, n: int = 2) -> list[int] | None:
    """The first ``n`` numbers of the clicked point's customdata, or None (no click). The
    selection is the browser's to send: anything but ``n`` whole numbers (strings, Infinity,
    fractions, negative or huge values, a missing or odd structure) is refused with a notice
    (``atlas.notice``), never raised: this runs in a callback."""
    try:
        points = st.session_state[chart_key]["selection"]["points"]
    except Exception:  # noqa: BLE001 - KeyError, TypeError, AttributeError on a forged state
        return None
    if not points:
        return None
    point = points[0] if isinstance(points, (list, tuple)) else None
    cd = point.get("customdata") if isinstance(point, dict) else None
    if isinstance(cd, dict):  # plotly >= 6 may send a list as {"0": .., "1": ..}
        cd = [cd.get(str(i)) for i in range(n)]
    values = ([urlstate.whole(v) for v in cd[:n]] if isinstance(cd, (list, tuple))
              and len(cd) >= n else None)
    if values is None or any(v is None for v in values):
        st.session_state["atlas.notice"] = CLICK_MISREAD
        return None
    return values  # type: ignore[return-value]


def _notice() -> None:
    """The notice a click left (a test digit that cannot be opened, a click not understood)."""
    notice = st.session_state.pop("atlas.notice", None)
    if notice:
        st.info(notice)


# ---------------------------------------------------------------------------------- atlas


def _patches(atlas, layer: str, channel: int, images: np.ndarray | None, scale: int):
    la = atlas.layer(layer)
    return [atlasfigs.patch_rgb(atlas.image(int(i), images), la.region[channel, k], scale)
            for k, i in enumerate(la.index[channel])]


def _on_patch(layer: str, channel: int, chart_key: str) -> None:
    cd = _clicked(chart_key)
    atlas = st.session_state.get("atlas.current")
    if cd is None or atlas is None:
        return
    la = atlas.layer(layer)
    k = cd[1]
    if not 0 <= channel < la.index.shape[0] or k >= la.index.shape[1]:
        st.session_state["atlas.notice"] = CLICK_MISREAD
        return
    y, x = (int(v) for v in la.unit[channel, k])
    open_test_digit(int(la.index[channel, k]), Unit(layer, channel, y, x))


def render_atlas(key: ModelRef, layer: str, channels: int) -> None:
    """The atlas view: a channel's top-9 patches, its synthesized input, and the layer grid."""
    task = atlas_task(key)
    if task.result is None and not task.running and task.error is None:
        st.info("This network has no stored atlas and the MNIST test set is not on this machine "
                "(set MNIST_DIR): the atlas needs the 10,000 test digits once.")
        return
    if not _show_progress(task, "Computing the atlas over the 10,000 test digits"):
        if task.running:
            _poll(task)
        return
    atlas = task.result
    if layer not in atlas.layers:
        st.info(f"{layer} is not in the atlas: it covers the conv, ReLU and pooling layers "
                f"with feature maps ({', '.join(atlas.layers)}). Pick one of them above.")
        return
    st.session_state["atlas.current"] = atlas
    la = atlas.layer(layer)
    unit = state.picked_unit()
    default = unit.c if unit is not None and unit.layer == layer else 0
    left, right = st.columns([3.2, 1])
    with left:
        c = st.selectbox("Channel", list(range(la.channels)), index=min(max(default, 0), la.channels - 1),
                         key=f"atlas.channel.{layer}")
        images = _test_images()
        r = int(la.region[c, 0, 1] - la.region[c, 0, 0] + 1)
        patches = _patches(atlas, layer, c, images, atlasfigs.tile_scale(r, 84))
        chart = f"atlas.row.{layer}.{c}"
        plot(atlasfigs.channel_figure(patches, la.value[c], la.index[c]), key=chart,
             on_select=lambda: _on_patch(layer, c, chart), selection_mode="points")
        st.caption(
            f"The 9 test digits (of 10,000) that excite channel {c} of {layer} most, each cropped "
            f"to the exact {r}x{r} receptive field of the unit where it peaks (orange hatching: "
            f"zero padding outside the image); its activation under each. The largest over the "
            f"test set is {la.dataset_max[c]:.2f}. Click a patch to open that digit with that "
            f"unit picked.")
        _notice()
    with right:
        st.markdown("**Synthesized input**")
        ftask = featvis_task(key, layer)
        if _show_progress(ftask, f"Feature visualization of {layer}"):
            synth = ftask.result
            r_syn = synth.regions[c]
            st.image(atlasfigs.to_png(atlasfigs.patch_rgb(
                synth.images[c], r_syn, atlasfigs.tile_scale(r, 84))), width=84,
                output_format="PNG")
            st.image(_png(synth.images[c]), width=112, output_format="PNG")
            st.caption(f"Top: the synthesized input cropped like the patches, to the field of "
                       f"the unit where it peaks (row {synth.units[c][0]}, col "
                       f"{synth.units[c][1]}); below, all of it. The 28x28 input that excites "
                       f"channel {c} most, by gradient ascent "
                       f"(jitter, total-variation penalty, pixels in 0..255): activation "
                       f"{synth.values[c]:.2f}, {synth.values[c] / max(la.dataset_max[c], 1e-6):.1f}"
                       f"x the best test digit." if la.dataset_max[c] > 0 else
                       f"The 28x28 input found by gradient ascent: activation "
                       f"{synth.values[c]:.2f}; no test digit excites this channel at all.")
        elif ftask.running:
            _poll(ftask)
    if st.toggle("Show the whole layer (every channel's top 9)", key="atlas.grid"):
        render_layer_grid(key, atlas, layer)


def render_layer_grid(key: ModelRef, atlas, layer: str) -> None:
    la = atlas.layer(layer)
    pages = (la.channels + PAGE - 1) // PAGE
    page = 0
    if pages > 1:
        page = st.number_input(f"Channels page (of {pages})", 1, pages, 1,
                               key=f"atlas.page.{layer}") - 1
    lo, hi = page * PAGE, min(la.channels, (page + 1) * PAGE)
    images = _test_images()
    r = int(la.region[0, 0, 1] - la.region[0, 0, 0] + 1)
    scale = atlasfigs.tile_scale(r, 56)
    rows = [_patches(atlas, layer, c, images, scale) for c in range(lo, hi)]
    ftask = featvis_task(key, layer)
    synth = None
    if not ftask.running and ftask.error is None and ftask.result is not None:
        size = rows[0][0].shape[:2]
        res = ftask.result
        synth = [atlasfigs.resize_rgb(atlasfigs.patch_rgb(res.images[c], res.regions[c], scale),
                                      size) for c in range(lo, hi)]
    plot(atlasfigs.layer_figure(rows, la.value[lo:hi], la.index[lo:hi], lo, synth),
         key=f"atlas.grid.{layer}.{page}")
    st.caption(f"Channels {lo}-{hi - 1} of {layer}: each row is one channel's top 9 patches "
               f"({r}x{r} fields)" + (", then its synthesized input, cropped the same way to "
                                       "the field of its strongest unit." if synth else "."))


def _png(image: np.ndarray) -> bytes:
    from viz import preprocess
    return preprocess.to_png(image, 160)


@st.fragment(run_every=1.0)
def _poller(keys: tuple[str, ...]) -> None:
    from model.background import TASKS
    tasks = [TASKS.get(k) for k in keys]
    if not any(t is not None and t.running for t in tasks):
        st.rerun(scope="app")


def _poll(task) -> None:
    """Rerun the page once ``task`` (running in the background) is done."""
    _poller((task.key,))


# ---------------------------------------------------------------------------------- confusion


def _predictions(key: ModelRef) -> tuple[np.ndarray, np.ndarray] | None:
    sha, path = model_digest(key)
    if path is not None:
        shipped = load_shipped(path)
        if shipped is not None:
            return shipped
    if not _mnist():
        return None
    return test_set()[1], test_predictions(key)


def _on_cell() -> None:
    cd = _clicked("cm.matrix")
    if cd is None:
        return
    if max(cd) >= confusion.CLASSES:
        st.session_state["atlas.notice"] = CLICK_MISREAD
        return
    st.session_state["cm.cell"] = (cd[0], cd[1])


def _on_digit(indices: list[int]) -> None:
    cd = _clicked("cm.digits")
    if cd is None:
        return
    k = cd[0] * 10 + cd[1]
    if cd[1] < 10 and k < len(indices):
        open_test_digit(indices[k])
    else:
        st.session_state["atlas.notice"] = CLICK_MISREAD


def render_confusion(key: ModelRef) -> None:
    """Confusion matrix on the test set, per-class accuracy, a cell's digits (click to open)."""
    data = _predictions(key)
    if data is None:
        st.info("The confusion matrix needs this network's test predictions: shipped networks "
                "carry theirs; for others, put the MNIST test set on this machine (MNIST_DIR).")
        return
    labels, preds = data
    _notice()
    m = confusion.confusion(labels, preds)
    acc = confusion.per_class_accuracy(m)
    cell = st.session_state.get("cm.cell")
    left, right = st.columns([1.1, 1])
    with left:
        plot(atlasfigs.confusion_figure(m, selected=cell), key="cm.matrix", on_select=_on_cell,
             selection_mode="points")
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
    images = _test_images()
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


# ---------------------------------------------------------------------------------- trust


def trust_task(key: ModelRef, n: int = 100):
    sha, _ = model_digest(key)

    def run(progress):
        from model import trust
        model, _ = get_model(key)
        images, source = trust.fixed_digits(n)
        rows = trust.trust_table(model, images, progress=progress)
        return {"rows": rows, "random": trust.random_order_aucs(model, images),
                "source": source, "verdict": trust.verdict(rows)}

    return _task(f"trust:{sha}:{n}", run)


def render_trust(key: ModelRef) -> None:
    """Deletion and insertion curves, the randomization check and one sentence, per method."""
    from model.saliency import METHODS
    n = st.select_slider("Digits", [20, 50, 100], value=100, key="trust.n",
                         help="A fixed set: the first N test digits (shipped samples without "
                              "MNIST).")
    task = trust_task(key, int(n))
    if not _show_progress(task, "Measuring the seven methods"):
        if task.running:
            _poll(task)
        return
    res = task.result
    rows = res["rows"]
    import pandas as pd
    rand_del, rand_ins = res["random"]
    df = pd.DataFrame([{"method": METHODS[r.method].label,
                        "deletion AUC (lower is better)": r.deletion_auc,
                        "insertion AUC (higher is better)": r.insertion_auc,
                        "randomization Spearman (near 0 is better)": r.randomization_spearman}
                       for r in rows]
                      + [{"method": "random pixel order (the bar to beat)",
                          "deletion AUC (lower is better)": rand_del,
                          "insertion AUC (higher is better)": rand_ins,
                          "randomization Spearman (near 0 is better)": float("nan")}])
    st.markdown(f"**{res['verdict']}**")
    st.dataframe(df.style.format(precision=3, na_rep="-"), hide_index=True, key="trust.table")
    st.caption(f"On {res['source']}, target = the network's prediction. Deletion: pixels "
               f"blacked out in the order of the map (most positive first); insertion: added to "
               f"a black image in that order; AUC = area under the class probability over the "
               f"share of pixels. Randomization: Spearman rank correlation of |map| on the "
               f"trained network and on a copy with random weights (Adebayo et al. 2018). "
               f"Occlusion uses 4x4 tiles; Grad-CAM the last ReLU with a map.")
    left, right = st.columns(2)
    curves_del = {METHODS[r.method].label: r.deletion_curve for r in rows}
    curves_ins = {METHODS[r.method].label: r.insertion_curve for r in rows}
    with left:
        plot(atlasfigs.curves_figure(curves_del, "Deletion: probability as pixels are removed"),
             key="trust.deletion")
    with right:
        plot(atlasfigs.curves_figure(curves_ins, "Insertion: probability as pixels are added"),
             key="trust.insertion")
