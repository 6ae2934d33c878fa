"""The lab's comparison: two or three architectures (zoo networks or the table being edited)
side by side, their numbers and how their receptive fields grow."""

from __future__ import annotations

import streamlit as st

from model.architectures import ARCHITECTURES, COMPARE
from ui import state
from ui.common import plot, presenting
from viz.pictures import figures
from viz.teaching.lab import LabReport, analyse, compare_sentence, growth, millions, summarise

YOURS = "your table"  # the table being edited, among the networks to compare


@st.cache_data(show_spinner=False, max_entries=64)
def _card_accuracy(path: str, mtime: float) -> float | None:
    from viz.network.card import read_header_file
    try:
        value = read_header_file(path)[0].get("test_accuracy")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def shipped_accuracy(name: str) -> float | None:
    """The test accuracy on the card of the checkpoint shipped for architecture ``name`` (read
    from its header), or None: no trained checkpoint ships for it."""
    from model.store import shipped_checkpoints
    path = shipped_checkpoints().get(name)
    if path is None or name not in ARCHITECTURES:
        return None
    return _card_accuracy(str(path), path.stat().st_mtime)


def compare(mine: LabReport | None) -> None:
    import pandas as pd
    st.subheader("Compare architectures")
    options = list(ARCHITECTURES) + [YOURS]
    state.remembered("lab.compare", list(COMPARE))
    st.session_state["lab.compare"] = [o for o in st.session_state["lab.compare"]
                                       if o in options]
    chosen = st.multiselect("Networks (2 or 3; the first is the reference)", options,
                            key="lab.compare", max_selections=3,
                            help=None if presenting() else
                            "Zoo architectures, or the table above ('your table').")
    state.remember("lab.compare")
    reports: dict[str, LabReport] = {}
    for name in chosen:
        if name == YOURS:
            if mine is None:
                st.info("Your table is not a valid network yet, so it is left out.")
                continue
            reports[name] = mine
        else:
            reports[name] = analyse(ARCHITECTURES[name].layers())
    if len(reports) < 2:
        st.info("Pick at least two networks to compare.")
        return
    summaries = [summarise(name, rep, shipped_accuracy(name)) for name, rep in reports.items()]
    left, right = st.columns([1, 1.25])
    with left:
        table = pd.DataFrame([s.row() for s in summaries]).set_index("network").T
        table.index.name = ""
        formatted = table.map(lambda v: f"{v:,}" if isinstance(v, int) else v)
        formatted.loc["MACs"] = [millions(v) for v in table.loc["MACs"]]  # fits a narrow column
        st.dataframe(formatted, key="lab.compare_table", width="stretch")
        st.markdown(f"**{compare_sentence(summaries)}**")
        if not presenting():
            st.caption("MACs: multiply-accumulates for one digit; final r: the field of the "
                       "last layer with a map; before the head: what the last conv or linear "
                       "layer reads.")
    with right:
        plot(figures.field_growth_compare({n: growth(r) for n, r in reports.items()}),
             key="lab.compare_growth")
        if not presenting():
            st.caption("Receptive field r after each conv and pooling layer. Same end, "
                       "different paths: the cost is in the parameters and MACs on the left.")
