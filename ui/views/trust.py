"""The Trust view: how far to trust each saliency method, by deletion and insertion curves and
the randomization check, in one sentence per method (computed in the background).

Its cost is :func:`trust_macs` per digit (every method's map on the network and on a randomized
copy, the deletion and insertion curves, the random-order bar). A network for which 20 digits
are over ``model.training.costs.BACKGROUND_MACS`` (seed-original: about 0.9 trillion
multiply-adds per digit) is offered 2 to 20 digits (the largest count within that budget
first), and the measurement starts only from a button that says what it costs.

Session-state keys: ``trust.*``.
"""

from __future__ import annotations

import streamlit as st

from model.store import ModelRef
from model.training.costs import BACKGROUND_MACS, trust_macs
from ui import checked
from ui.cache import get_model
from ui.common import plot
from ui.views import Shown, View
from ui.views.background import model_digest, poll, show_progress, start
from viz.pictures import atlasfigs


def truststart(key: ModelRef, n: int = 100):
    sha, _ = model_digest(key)

    def run(progress):
        from model import trust
        model, _ = get_model(key)
        images, source = trust.fixed_digits(n)
        rows = trust.trust_table(model, images, progress=progress)
        return {"rows": rows, "random": trust.random_order_aucs(model, images),
                "source": source, "verdict": trust.verdict(rows)}

    return start(f"trust:{sha}:{n}", run)


SMALL = (2, 5, 10, 20)  # digits offered for a network too costly for 20 in the background


def render_trust(key: ModelRef, macs: int = 0) -> None:
    """Deletion and insertion curves, the randomization check and one sentence, per method.
    ``macs``: the network's multiply-adds per digit (0: the usual 20 to 100 digits)."""
    from model.saliency import METHODS
    from model.trust import OCCLUSION
    help_ = "A fixed set: the first N test digits (shipped samples without MNIST)."
    if trust_macs(20, macs) <= BACKGROUND_MACS:
        checked.check("trust.n", checked.one_of([20, 50, 100]), "The Digits slider")
        n = st.select_slider("Digits", [20, 50, 100], value=100, key="trust.n", help=help_)
    else:
        fits = [k for k in SMALL if trust_macs(k, macs) <= BACKGROUND_MACS] or [SMALL[0]]
        checked.check("trust.n.big", checked.one_of(SMALL), "The Digits slider")
        n = st.select_slider("Digits", SMALL, value=fits[-1], key="trust.n.big", help=help_)
        cost = trust_macs(int(n), macs)
        sha, _ = model_digest(key)
        if _task_named(f"trust:{sha}:{int(n)}") is None:  # started on request only
            st.info(f"This network takes {macs / 1e6:,.0f} million multiply-adds per digit: the "
                    f"seven methods on {n} digits cost {cost / 1e12:,.1f} trillion, "
                    f"{'a minute or more' if cost <= BACKGROUND_MACS else 'many minutes'} "
                    f"of this server's CPU shared with the class.")
            if not st.button(f"Measure on {n} digits in the background", key="trust.go"):
                return
    task = truststart(key, int(n))
    if not show_progress(task, "Measuring the seven methods"):
        if task.running:
            poll(task)
        return
    res = task.result
    rows = res["rows"]
    df, fig_del, fig_ins = _shown(model_digest(key)[0], int(n), res)
    gradcam = ("Grad-CAM the last activation with a map" if any(METHODS[r.method].feature_maps for r in rows)
               else "Grad-CAM is left out: this network has no feature maps (it flattens the "
                    "image first, so every unit of its first dense layer sees the whole image)")
    st.markdown(f"**{res['verdict']}**")
    st.dataframe(df.style.format(precision=3, na_rep="—"), hide_index=True, key="trust.table",
                 placeholder="—",  # random order has no map to randomize (not "None")
                 column_config={"method": st.column_config.TextColumn(width="medium")})
    st.caption(f"On {res['source']}, target = the network's prediction. Deletion: pixels "
               f"blacked out in the order of the map (most positive first); insertion: added to "
               f"a black image in that order; AUC = area under the class probability over the "
               f"share of pixels. Randomization: Spearman rank correlation of |map| on the "
               f"trained network and on a copy with random weights (Adebayo et al. 2018). "
               f"Occlusion uses {OCCLUSION[0]}x{OCCLUSION[0]} tiles (the All methods view uses "
               f"the chosen layer's window); {gradcam}. The last row, "
               f"random order, removes and adds pixels in a random order: the bar a method "
               f"has to beat (it has no map, so no randomization check: —).")
    left, right = st.columns(2)
    with left:
        plot(fig_del, key="trust.deletion")
    with right:
        plot(fig_ins, key="trust.insertion")


@st.cache_resource(show_spinner=False, max_entries=16)
def _shown(sha: str, n: int, _res: dict):
    """The table and the two curve charts of a finished measurement (network-wide: built once
    per network and digit count, shared by every session; never changed after)."""
    import pandas as pd

    from model.saliency import METHODS
    rows = _res["rows"]
    rand_del, rand_ins = _res["random"]
    df = pd.DataFrame([{"method": METHODS[r.method].label,
                        "deletion AUC (lower is better)": r.deletion_auc,
                        "insertion AUC (higher is better)": r.insertion_auc,
                        "randomization Spearman (near 0 is better)": r.randomization_spearman}
                       for r in rows]
                      + [{"method": "random order",  # the bar to beat (caption)
                          "deletion AUC (lower is better)": rand_del,
                          "insertion AUC (higher is better)": rand_ins,
                          "randomization Spearman (near 0 is better)": float("nan")}])
    curves_del = {METHODS[r.method].label: r.deletion_curve for r in rows}
    curves_ins = {METHODS[r.method].label: r.insertion_curve for r in rows}
    return (df,
            atlasfigs.curves_figure(curves_del, "Deletion: probability as pixels are removed"),
            atlasfigs.curves_figure(curves_ins, "Insertion: probability as pixels are added"))


def _task_named(key: str):  # reads the background tasks without starting one
    from model.training.background import TASKS
    return TASKS.get(key)


def draw(v: Shown) -> None:
    render_trust(v.key, sum(int(info.macs) for info in v.table))


VIEW = View("trust", "Trust", draw, "Trust", uses_layer=False)
