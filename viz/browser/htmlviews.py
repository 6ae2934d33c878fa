"""Small views as HTML strings (``st.markdown(..., unsafe_allow_html=True)``), Streamlit-free.

Every page opening draws the class probabilities and the per-layer table. As HTML they cost the
server a few hundred microseconds and no chart or dataframe machinery (a classroom opening one
link at once queues for that time), and they read the same on a projector.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from viz.network.layers import TABLE_COLUMNS, LayerInfo
from viz.pictures.style import BLUE, ORANGE

PALE = "#b9c3d6"  # the other classes' bars


def probability_bars(probs: np.ndarray, target: int | None = None, height: int = 150) -> str:
    """The class probabilities as a bar chart: the predicted class dark blue, ``target`` (when
    another class) orange, the percentage above every bar of at least 1%."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.size == 0 or not np.isfinite(p).all():
        raise ValueError("probabilities must be a non-empty vector of finite numbers")
    pred = int(np.argmax(p))
    label = ", ".join(f"{i}: {v:.1%}" for i, v in enumerate(p))
    cols = []
    for i, v in enumerate(p):
        colour = BLUE if i == pred else ORANGE if i == target else PALE
        share = float(np.clip(v, 0, 1))
        text = f"{share:.0%}" if share >= 0.01 else ""
        cols.append(
            f"<div style='flex:1;display:flex;flex-direction:column;justify-content:flex-end;"
            f"align-items:center;height:100%'>"
            f"<div style='font-size:0.85em;color:#444;min-height:1.2em'>{text}</div>"
            f"<div style='width:70%;height:{share * 100:.1f}%;background:{colour};"
            f"border-radius:2px 2px 0 0'></div>"
            f"<div style='font-size:1.05em;border-top:1px solid #999;width:100%;"
            f"text-align:center'>{i}</div></div>")
    return (f"<div role='img' aria-label='Class probabilities: {label}' "
            f"style='display:flex;gap:3px;height:{int(height)}px;align-items:stretch'>"
            + "".join(cols) + "</div>")


def _number(v: int) -> str:
    return f"{v:,}"


def layer_table(rows: Sequence[LayerInfo], chosen: str | None = None) -> str:
    """The per-layer table (layer, type, output, r, S, P, params, MACs), ``chosen`` highlighted.

    Numbers are right-aligned with thousands separators; a global layer's r reads "28 (all)".
    """
    head = TABLE_COLUMNS
    right = {"r", "S", "P", "params", "MACs"}
    th = "".join(f"<th style='text-align:{'right' if h in right else 'left'};padding:3px 8px'>"
                 f"{h}</th>" for h in head)
    body = []
    for r in rows:
        cells = (escape(r.name), escape(r.type), "x".join(map(str, r.shape)),
                 f"{r.r} (all)" if r.is_global else str(r.r),
                 "-" if r.stride is None else str(r.stride),
                 "-" if r.padding is None else str(r.padding),
                 _number(r.params), _number(r.macs))
        style = (" style='background:#fde9cf;font-weight:600'" if r.name == chosen else "")
        tds = "".join(f"<td style='text-align:{'right' if h in right else 'left'};"
                      f"padding:2px 8px'>{c}</td>" for h, c in zip(head, cells))
        body.append(f"<tr{style}>{tds}</tr>")
    # When the window is too narrow the table scrolls inside its box, which a keyboard reaches.
    return ("<div style='overflow-x:auto' tabindex='0' role='region' aria-label='Layer table'>"
            "<table style='border-collapse:collapse;width:100%;white-space:nowrap;"
            "font-variant-numeric:tabular-nums'>"
            f"<thead><tr style='border-bottom:2px solid #999'>{th}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")
