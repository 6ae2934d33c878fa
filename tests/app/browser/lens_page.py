"""A page with only the lens, for the browser tests and the lens benchmark.

    streamlit run tests/app/browser/lens_page.py -- then open ?model=seed&sample=3[&draw=1][&large=1]

``model``: a shipped checkpoint name, ``untrained:ARCH`` (a seeded random zoo network) or
``thin:ARCH`` (the architecture with one channel per conv, for geometry only). Below the lens it
writes what the server made of the last pick and drawing, as plain text the tests read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import streamlit as st

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from ui.components import lens  # noqa: E402
from viz.network import npforward  # noqa: E402


@st.cache_resource(show_spinner=False)
def _net(spec: str) -> npforward.NumpyNet:
    kind, _, name = spec.rpartition(":")
    if not kind:
        return npforward.load(ROOT / "checkpoints" / f"{name}.safetensors")
    import torch

    from model.files.export import numpy_net
    from model.zoo import ARCHITECTURES, build_from_config
    torch.manual_seed(0)
    layers = ARCHITECTURES[name].layers()
    if kind == "thin":  # same geometry, one channel per hidden conv
        for rec in layers:
            if rec["type"] == "conv":
                rec["in"] = 1
                rec["out"] = 10 if rec["name"] == "head" else 1
            elif rec["type"] == "bn":
                rec["channels"] = 1
    model = build_from_config(name, layers).eval()
    return numpy_net(model, {"arch": name})


st.set_page_config(page_title="lens test page", layout="wide")
q = st.query_params
spec = q.get("model", "seed")
net = _net(spec)
with np.load(ROOT / "checkpoints" / "samples.npz", allow_pickle=False) as data:
    image = data["images"][int(q.get("sample", "0"))]
result = lens.render(f"test:{spec}", image, net=net, layer=q.get("layer"),
                     large=q.get("large") == "1", draw=q.get("draw") == "1")
if result.unit:
    st.text(f"server unit: {result.unit}")
if result.drawing is not None:
    acts = npforward.forward(net, result.drawing)
    pred = int(np.argmax(next(reversed(acts.values()))))
    same = result.live_digit is not None and bool((result.live_digit == result.drawing).all())
    st.text(f"server drawing: prediction {pred}, live {result.live_prediction}, same digit {same}")
elif result.error:
    st.text(f"server drawing error: {result.error}")
