"""The train page: train a network live, watch it learn, scrub through its epochs.

Training runs in a background thread owned by one :class:`model.jobs.JobManager` per server
(``st.cache_resource``): one job at a time, per-epoch snapshots under ``runs/``, never in
``checkpoints/``. Session-state keys: ``train.*``.
"""

from __future__ import annotations

import uuid

import streamlit as st


@st.cache_resource(show_spinner=False)
def manager():
    """The server's one job manager (shared by every session)."""
    from model.jobs import JobManager
    return JobManager()


def session_name() -> str:
    """A short name for this browser session, shown to others while its job runs."""
    return st.session_state.setdefault("train.session", uuid.uuid4().hex[:6])


def _load_data():
    from model.data import load_mnist
    return load_mnist(download=False)


def start(cfg) -> bool:
    """Start training ``cfg`` (a model.train.TrainConfig) in the background.

    Returns True when it started; otherwise says why on the page (MNIST missing, or another
    session's job running) and returns False.
    """
    from model.data import mnist_available
    from model.jobs import JobBusy
    if not mnist_available():
        st.error("Training needs the MNIST files, which are not on this server. Set MNIST_DIR to "
                 "a folder holding the four files (train-images-idx3-ubyte.gz, ...) and restart, "
                 "or run `python -m model.data --download` where there is internet.")
        return False
    try:
        manager().start(cfg, _load_data, owner=session_name())
    except JobBusy as exc:
        st.error(str(exc))
        return False
    return True


def page() -> None:
    st.title("Train a network")


if __name__ == "__main__":
    page()
