"""A page with only unit-field panels, for the browser tests.

    streamlit run tests/app/browser/unitfield_page.py -- then open ?arch=seed&sample=3

One panel per layer of the zoo architecture ``arch`` (geometry from the receptive-field engine,
no weights needed), each on unit (0, 0, 0) with a seeded random map, effective field and
attribution. Below each it writes the unit the server last heard picked, as plain text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import streamlit as st

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from model.architectures import get  # noqa: E402
from ui import state  # noqa: E402
from ui.components import unitfield  # noqa: E402
from viz.network.layers import describe  # noqa: E402
from viz.network.unit import Unit  # noqa: E402

st.set_page_config(page_title="unit-field test page", layout="wide")
q = st.query_params
arch = q.get("arch", "seed")
with np.load(ROOT / "checkpoints" / "samples.npz", allow_pickle=False) as data:
    image = data["images"][int(q.get("sample", "0"))]
rng = np.random.default_rng(0)
for row in describe(get(arch).layers()):
    key = f"uf.{row.name}"
    spatial = not row.is_global and row.size > 1
    erf = rng.random((28, 28)) ** 3
    attr = rng.normal(size=(28, 28))
    fmap = rng.random((row.size, row.size)) if spatial else None
    picked = state.component_unit(key)
    unit = picked or Unit(row.name, 0, 0, 0)
    st.markdown(f"**{row.name}**")
    unitfield.render(image, row, unit, fmap=fmap, erf=erf, attr=attr, key=key)
    if picked:
        st.text(f"server unit: {picked}")
