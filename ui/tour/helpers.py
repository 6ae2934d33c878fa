"""What the tour's steps share: keeping their widgets' values valid for the current model,
the model's layer records, and the check that a computation by hand matches the network."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import cache, common


def keep_int(key: str, lo: int, hi: int, default: int) -> None:
    """Make a slider's remembered value valid for this model (or set its default)."""
    value = st.session_state.get(key)
    if not isinstance(value, int) or not lo <= value <= hi:
        st.session_state[key] = min(max(default, lo), hi)


def keep_choice(key: str, options: list, default) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def layer_records(key) -> list[dict]:
    """The current model's layer records."""
    return cache.layer_records(key)


def spatial(acts: dict[str, np.ndarray]) -> list[str]:
    return [n for n, a in acts.items() if a.ndim == 3 and a.shape[1] > 1]


def agreement(ours: float | np.ndarray, net: float | np.ndarray, what: str) -> None:
    diff = float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(net))))
    if diff < 1e-4:
        st.success(f"By hand and by the network: the same {what} (they differ by "
                   f"{diff:.1e}, float rounding).")
    else:
        st.error(f"By hand and by the network differ by {diff:.3g}: the hand computation does "
                 f"not match this layer.")


def train_link() -> None:
    if "train" in common.PAGES:
        st.page_link(common.PAGES["train"], label="Train a network and watch its epochs",
                     icon="🏋️")
