"""CNN lens: see inside a convolutional network. Run with ``streamlit run app.py``.

This file lays out what every page shares (navigation, the model and input in the sidebar,
presenter mode) and runs the chosen page from ``ui/``. The logic lives in Streamlit-free modules
under ``viz/`` and ``model/``.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

# Every session imports pandas here, before any chart is built. Plotly checks for pandas in
# sys.modules without importing it: while another thread is still importing pandas (another
# session, a background task) it would find a half-initialised module and fail. An import
# statement waits for the other thread instead.
import pandas  # noqa: F401
import streamlit as st

import ui.explorer  # noqa: F401 - registers the explorer's views before a link names one
from model import store
from model.architectures import descriptions
from model.cache import process
from ui import cache, common, sidebar, state, urls, warm
from ui.classroom import follow as classroom
from ui.classroom import panel as classroom_panel
from viz.pictures import figures, present, screens

# Python's AST builder, one thread at a time, before this process starts threads (the preload,
# the other sessions' page compiles): model/cache/process.py.
process.serialize_ast_parse()


@st.cache_resource(show_spinner=False)
def _clean_up_after_a_crash(runs: str) -> threading.Thread:
    """Once per server process and runs folder, in the background (it imports torch): delete
    the temp files a crash left mid-write (model.training.jobs.clean_runs_folder)."""
    def work() -> None:
        try:
            from model.training.jobs import clean_runs_folder
            removed = clean_runs_folder(Path(runs))
        except Exception as exc:  # noqa: BLE001 - housekeeping never stops the app
            print(f"Cleaning up {runs} failed: {type(exc).__name__}: {exc}")
            return
        if removed:
            print(f"Deleted {len(removed)} file(s) left by an interrupted write: "
                  + ", ".join(map(str, removed[:5])))
    thread = threading.Thread(target=work, name="clean-runs", daemon=True)
    thread.start()
    return thread


_presenting = st.session_state.get(state.PRESENT, st.query_params.get("present") == "1")
st.set_page_config(page_title="CNN lens: inside an MNIST network", page_icon="🔍",
                   layout="wide",
                   initial_sidebar_state="collapsed" if _presenting else "auto")

# A page computes in one of a few slots (ui/cache.py: page_slot): when a whole class opens
# costly pages at once, they are drawn a few at a time in the order they came, each sent as soon
# as it is done, instead of all 30 sharing the cores and arriving together at the end.
with cache.page_slot():
    _warmup = None
    if "torch" not in sys.modules:
        # First run in this server process: an invisible chart lets the browser fetch and start its
        # chart library while the model loads.
        _warmup = st.sidebar.empty()
        _warmup.plotly_chart(figures.warmup(), config=common.PLOT_CONFIG, key="warmup")

    # Each page is a short file in ui/pages/ that draws it with a module of ui/ (ui/explorer.py,
    # ui/tour/, ui/lab.py, ui/train.py).
    PAGES = {
        "explore": st.Page("ui/pages/explorer.py", title="Explore", icon=":material/search:",
                           default=True),
        "tour": st.Page("ui/pages/tour.py", title="Concepts tour", icon=":material/school:",
                        url_path="tour"),
        "lab": st.Page("ui/pages/lab.py", title="Architecture lab", icon=":material/account_tree:",
                       url_path="lab"),
        "train": st.Page("ui/pages/train.py", title="Train", icon=":material/model_training:",
                         url_path="train"),
        "class": st.Page("ui/pages/classroom.py", title="Class", icon=":material/groups:",
                         url_path="class"),
    }
    common.PAGES.update(PAGES)
    page = st.navigation(list(PAGES.values()), position="top")
    if page.url_path == "lab":  # the lab hides the input pickers; keep their values
        sidebar.keep_sidebar_state()
    classroom.before_sidebar(page.url_path)  # ?class=..., and a following student's catching up
    urls.apply_before_sidebar()

    st.markdown(screens.css(), unsafe_allow_html=True)  # every width, phone to projector
    ctx, about = sidebar.sidebar(with_input=page.url_path != "lab")
    classroom_panel.sidebar_section(page.url_path)
    st.sidebar.divider()
    state.start_presenting(_presenting)
    st.sidebar.toggle("Presenter mode", key=state.PRESENT,
                      help="Large type, high contrast and no toolbars, for a projector. "
                           "Add ?present=1 to a link to open it this way.")
    if state.presenting():
        st.markdown(present.css(), unsafe_allow_html=True)

    classroom_panel.status_bar(page.url_path)
    page.run()
    classroom.publish({"": "explore"}.get(page.url_path, page.url_path))  # a teacher's new view

    # Only now, with the page sent, warm the process in the background (ui/warm.py: torch, the
    # pages' modules, the shipped models; it would slow the first paint). A server started with
    # ``python -m ui.launch`` did so before it reported ready: this finds it done.
    warm.start()
    _clean_up_after_a_crash(str(store.runs_dir()))
    about.caption(descriptions().get(ctx.arch, ""))
    cache.freeze_after_run()
    if _warmup is not None:
        _warmup.empty()
