"""The Trust view: how far to trust each saliency method, by deletion and insertion curves and
the randomization check, in one sentence per method (computed in the background).

Session-state keys: ``trust.*``.
"""

from __future__ import annotations

import streamlit as st

from model.store import ModelRef
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


def render_trust(key: ModelRef) -> None:
    """Deletion and insertion curves, the randomization check and one sentence, per method."""
    from model.saliency import METHODS
    n = st.select_slider("Digits", [20, 50, 100], value=100, key="trust.n",
                         help="A fixed set: the first N test digits (shipped samples without "
                              "MNIST).")
    task = truststart(key, int(n))
    if not show_progress(task, "Measuring the seven methods"):
        if task.running:
            poll(task)
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


def draw(v: Shown) -> None:
    render_trust(v.key)


VIEW = View("trust", "Trust", draw, "Trust", uses_layer=False)
