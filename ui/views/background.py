"""What the whole-network views (atlas, confusion, trust) share: the model's content key, the
test set when it is here, and their long computations run in the background
(``model.training.background.TASKS``, one per server and key) while the view shows progress and polls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from model import store
from model.store import ModelRef
from ui.cache import test_set


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


def mnist() -> bool:
    from model.data import mnist_available
    return mnist_available()


def test_images() -> np.ndarray | None:
    return test_set()[0] if mnist() else None


def start(key: ModelRef, fn):
    from model.training.background import TASKS
    return TASKS.start(key, fn)


def show_progress(task, what: str) -> bool:
    """True when the task is done; otherwise a progress bar (and the page polls)."""
    if task.error:
        st.error(f"{what} failed: {task.error}")
        return False
    if task.running:
        st.progress(task.fraction, text=f"{what} in the background: {task.message}. The rest of "
                                        f"the app keeps working.")
        return False
    return True


class Done:
    """A finished task stand-in for results that were already stored."""

    running = False
    error = None
    fraction = 1.0
    message = "done"

    def __init__(self, result):
        self.result = result


@st.fragment(run_every=1.0)
def _poller(keys: tuple[str, ...]) -> None:
    from model.training.background import TASKS
    tasks = [TASKS.get(k) for k in keys]
    if not any(t is not None and t.running for t in tasks):
        st.rerun(scope="app")


def poll(task) -> None:
    """Rerun the page once ``task`` (running in the background) is done."""
    _poller((task.key,))
