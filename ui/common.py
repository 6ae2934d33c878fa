"""What every page shares besides the sidebar: guards, charts, presenter mode, training.

Streamlit UI code; the logic lives in ``viz/`` and ``model/``, the caches in ``ui/cache.py`` and
the model and input pickers in ``ui/sidebar.py``.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from model import store
from ui.sidebar import Context, context
from ui.state import presenting
from viz.pictures import figures, present

__all__ = ["PAGES", "PLOT_CONFIG", "Context", "context", "guard", "job_manager", "plot",
           "presenting", "session_name", "start_training"]

PLOT_CONFIG = {"displaylogo": False, "displayModeBar": "hover", "modeBarButtons": [["toImage"]],
               "toImageButtonOptions": {"format": "png", "scale": 2}}
PAGES: dict[str, object] = {}  # "explore", "tour", "lab", "train" -> st.Page, set by app.py


def guard(what: str, fn: Callable[[], None]) -> None:
    """Run one part of the page; on any error say what failed and keep the rest working."""
    try:
        fn()
    except ValueError as exc:
        st.error(f"{what}: {exc}")
    except Exception as exc:  # noqa: BLE001 - never show a traceback to a class
        # A folder the app writes (runs, caches) that is read-only, full or not allowed: name it
        # and say what to do (another input or layer would not help).
        from model.files.atomic import not_writable
        problem = not_writable(exc) if isinstance(exc, OSError) else None
        if problem is not None:
            st.error(f"{what}: {problem}")
            return
        st.error(f"{what} failed unexpectedly ({type(exc).__name__}: {exc}). Try another input "
                 f"or layer; the rest of the app keeps working.")
        print(traceback.format_exc())


def plot(fig, key: str | None = None, alt: str | None = None, **kw):
    """A plotly chart; its camera button (on hover) saves it as a PNG. Larger text when presenting.
    ``alt``: what it shows, for a screen reader (default: ``figures.describe``)."""
    alt = alt or figures.describe(fig)
    if presenting():  # (on a copy: figures may be shared from a cache)
        import plotly.graph_objects as go
        fig = go.Figure(fig)
        present.scale_figure(fig)
    return st.plotly_chart(fig, width="stretch", config=PLOT_CONFIG, key=key, alt=alt, **kw)


# ---------------------------------------------------------------------------------------------
# Background training, shared by the train page and the lab
# ---------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _job_manager(folder: str):
    from model.training.jobs import JobManager
    return JobManager(Path(folder))


def job_manager():
    """The server's one job manager (shared by every session)."""
    return _job_manager(str(store.runs_dir()))


def session_name() -> str:
    """A short name for this browser session, shown to others while its job runs."""
    return st.session_state.setdefault("train.session", uuid.uuid4().hex[:6])


def _load_data():
    from model.data import load_mnist
    return load_mnist(download=False)


def start_training(cfg) -> bool:
    """Start training ``cfg`` (a model.train.TrainConfig) in the background.

    Returns True when it started; otherwise says why on the page (MNIST missing, another
    session's job running, or the run over this server's training budget) and returns False.
    """
    from model.data import mnist_available
    from model.training.jobs import JobBusy
    if not mnist_available():
        st.error("Training needs the four MNIST files, which are not on this server. Set "
                 "MNIST_DIR to the folder that holds them (train-images-idx3-ubyte.gz, ...) and "
                 "restart the app, or run `python -m model.data` once where there is internet to "
                 "download them into .cache/mnist.")
        return False
    try:
        job_manager().start(cfg, _load_data, owner=session_name())
    except (JobBusy, ValueError) as exc:  # another job runs, or over the budget (OverBudget)
        st.error(str(exc))
        return False
    return True


def training_estimate(name: str, layers: list, epochs: int, batch_size: int = 128,
                      max_steps: int | None = None):
    """(estimate, None) for a run on this server, or (None, the message refusing it)."""
    from model.training import budget
    try:
        return budget.check(name, layers, epochs, store.runs_dir(), batch_size, max_steps), None
    except ValueError as exc:  # OverBudget
        return None, str(exc)
