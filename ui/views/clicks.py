"""Clicks in the whole-network views' charts: read them (the browser's to send) and open the
clicked test digit in the explorer, as a ``test:N`` link would.

Session-state keys: ``atlas.notice`` (what a click could not do), ``atlas.rerun``.
"""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.views.background import mnist
from viz.inputs import urlstate
from viz.network.unit import Unit


def open_test_digit(index: int, unit: Unit | None = None) -> None:
    """Select test digit ``index`` in the sidebar (and a unit, shown in the field view).

    Call from a widget callback: it sets widget state before the widgets are drawn.
    """
    if not mnist():
        st.session_state["atlas.notice"] = (
            f"Test digit #{index} can only be opened with the MNIST test set on this machine "
            f"(set MNIST_DIR); the patch above is all the shipped atlas holds.")
        return
    state.select_test_digit(index)
    if unit is not None:
        state.select_layer(unit.layer)
        state.pick_unit(unit)
        state.show_view("Receptive field")
    else:
        state.show_view("Feature maps")
    st.session_state["atlas.rerun"] = True  # the sidebar must redraw: see rerun_if_opened


def rerun_if_opened() -> None:
    """Call first in the explorer fragment: after a click opened a test digit, rerun the whole
    app (a fragment rerun would leave the sidebar, and so the input, as it was)."""
    if st.session_state.pop("atlas.rerun", False):
        st.rerun(scope="app")


CLICK_MISREAD = "That click could not be read (the chart sent no point this page drew); click again."


def clicked(chart_key: str, n: int = 2) -> list[int] | None:
    """The first ``n`` numbers of the clicked point's customdata, or None (no click). The
    selection is the browser's to send: anything but ``n`` whole numbers (strings, Infinity,
    fractions, negative or huge values, a missing or odd structure) is refused with a notice
    (``atlas.notice``), never raised: this runs in a callback."""
    try:
        points = st.session_state[chart_key]["selection"]["points"]
    except Exception:  # noqa: BLE001 - KeyError, TypeError, AttributeError on a forged state
        return None
    if not points:
        return None
    point = points[0] if isinstance(points, (list, tuple)) else None
    cd = point.get("customdata") if isinstance(point, dict) else None
    if isinstance(cd, dict):  # plotly >= 6 may send a list as {"0": .., "1": ..}
        cd = [cd.get(str(i)) for i in range(n)]
    values = ([urlstate.whole(v) for v in cd[:n]] if isinstance(cd, (list, tuple))
              and len(cd) >= n else None)
    if values is None or any(v is None for v in values):
        st.session_state["atlas.notice"] = CLICK_MISREAD
        return None
    return values  # type: ignore[return-value]


def misread() -> None:
    """Say (above the chart, on the next run) that a click could not be read."""
    st.session_state["atlas.notice"] = CLICK_MISREAD


def notice() -> None:
    """The notice a click left (a test digit that cannot be opened, a click not understood)."""
    notice = st.session_state.pop("atlas.notice", None)
    if notice:
        st.info(notice)
