"""Figures for the concepts tour: a kernel's window, its arithmetic, a channel mix, training
history, ReLU before and after. Plotly, colour-blind safe (cividis, RdBu reversed), large numbers
for a projector. Streamlit-free.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.pictures.figures import FONT, symmetric_limit
from viz.pictures.style import BLUE, DIVERGING, GREY, GRID_GREY, ORANGE, SEQUENTIAL


def _clean(fig: go.Figure, height: int, top: int = 40) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=top, b=10), font=FONT,
                      plot_bgcolor="white", paper_bgcolor="white", dragmode=False)
    return fig


def _hide_axes(fig: go.Figure, **kw) -> None:
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="",
                     constrain="domain", **kw)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="",
                     autorange="reversed", constrain="domain", **kw)


def conv_window(normalised: np.ndarray, y: int, x: int, kernel: int, padding: int,
                stride: int = 1, height: int = 420) -> go.Figure:
    """The (normalised) input with its zero padding and the kernel's window outlined."""
    img = np.asarray(normalised, dtype=np.float32)
    if img.ndim == 3:
        img = img[0]
    padded = np.pad(img, padding)
    n = padded.shape[0]
    coords = np.arange(n) - padding
    fig = go.Figure(go.Heatmap(
        z=padded, x=coords, y=coords, colorscale="gray", showscale=False,
        hovertemplate="pixel (%{y}, %{x}): %{z:.2f}<extra></extra>"))
    if padding:
        lo, hi = -0.5, img.shape[0] - 0.5
        fig.add_shape(type="rect", x0=lo, x1=hi, y0=lo, y1=hi,
                      line=dict(color=GREY, width=1, dash="dot"))
    top, left = y * stride - padding, x * stride - padding
    fig.add_shape(type="rect", x0=left - 0.5, x1=left + kernel - 0.5, y0=top - 0.5,
                  y1=top + kernel - 0.5, line=dict(color=ORANGE, width=4))
    _hide_axes(fig)
    fig.update_yaxes(scaleanchor="x")
    return _clean(fig, height, top=10)


def _grid_trace(z: np.ndarray, colorscale: str, lim: float | None, fmt: str) -> go.Heatmap:
    z = np.asarray(z, dtype=np.float64)
    kw = dict(zmin=-lim, zmax=lim) if lim is not None else {}
    return go.Heatmap(z=z, colorscale=colorscale, showscale=False, texttemplate=fmt,
                      textfont=dict(size=13), hovertemplate="%{z:.4f}<extra></extra>", **kw)


def conv_arithmetic(patch: np.ndarray, kernel: np.ndarray, products: np.ndarray,
                    height: int = 280) -> go.Figure:
    """Patch values, kernel weights and their products, side by side, with the numbers."""
    fig = make_subplots(1, 3, subplot_titles=("input patch", "× kernel", "= products"),
                        horizontal_spacing=0.08)  # room between the grids on a phone
    lim_k = symmetric_limit(kernel)
    lim_p = symmetric_limit(products)
    fig.add_trace(_grid_trace(patch, "gray", None, "%{z:.2f}"), 1, 1)
    fig.add_trace(_grid_trace(kernel, DIVERGING, lim_k, "%{z:.2f}"), 1, 2)
    fig.add_trace(_grid_trace(products, DIVERGING, lim_p, "%{z:.2f}"), 1, 3)
    for i in (1, 2, 3):
        _hide_axes(fig, row=1, col=i)
        fig.update_yaxes(scaleanchor=f"x{'' if i == 1 else i}", row=1, col=i)
    fig.update_annotations(font_size=14)
    fig.update_layout(meta={"alt": f"The {len(patch)}x{len(patch)} input patch under the "
                                   f"window, the kernel's weights and their products, which "
                                   f"sum to {float(np.sum(products)):.4f}."})
    return _clean(fig, height)


def channel_mix(vector: np.ndarray, weight: np.ndarray, out: np.ndarray,
                height: int = 380) -> go.Figure:
    """A 1x1 conv at one pixel, laid out as the arithmetic goes.

    Left: the input channels (a column). Middle: the weights transposed, one row per input
    channel and one column per output channel. Below each weight column: that output channel,
    the column multiplied by the inputs beside it and summed (plus the bias).
    """
    w = np.asarray(weight, dtype=np.float64).reshape(weight.shape[0], -1)
    c_out, c_in = w.shape
    numbers = c_in <= 16 and c_out <= 16
    fmt = "%{z:.2f}" if numbers else ""
    fig = make_subplots(2, 2, column_widths=[1, max(c_out, 2)], row_heights=[c_in, 1.6],
                        horizontal_spacing=0.03, vertical_spacing=0.08,
                        subplot_titles=("in",
                                        f"1x1 weights: {c_in} in x {c_out} out", "",
                                        f"out ({c_out} channels)"))
    fig.add_trace(_grid_trace(np.asarray(vector)[:, None], SEQUENTIAL, None, fmt), 1, 1)
    fig.add_trace(_grid_trace(w.T, DIVERGING, symmetric_limit(w), fmt), 1, 2)
    lim = symmetric_limit(np.asarray(out))
    fig.add_trace(_grid_trace(np.asarray(out)[None, :], DIVERGING, lim, fmt), 2, 2)
    for r, c in ((1, 1), (1, 2), (2, 2)):
        _hide_axes(fig, row=r, col=c)
        fig.update_yaxes(autorange="reversed", row=r, col=c)
    fig.update_xaxes(visible=False, row=2, col=1)
    fig.update_yaxes(visible=False, row=2, col=1)
    fig.update_traces(textfont=dict(size=11 if numbers else 1))
    return _clean(fig, height)


def history(series: dict[str, list[float]], height: int = 360) -> go.Figure:
    """Training loss (left axis) and validation accuracy (right axis) per epoch."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=series["epoch"], y=series["loss"], name="training loss",
                             mode="lines+markers", line=dict(color=ORANGE, width=3),
                             hovertemplate="epoch %{x}: loss %{y:.4f}<extra></extra>"),
                  secondary_y=False)
    fig.add_trace(go.Scatter(x=series["epoch"], y=series["val_accuracy"],
                             name="validation accuracy", mode="lines+markers",
                             line=dict(color=BLUE, width=3),
                             hovertemplate="epoch %{x}: %{y:.2%}<extra></extra>"),
                  secondary_y=True)
    fig.update_xaxes(title="epoch", dtick=1 if len(series["epoch"]) <= 25 else None,
                     showgrid=False)
    fig.update_yaxes(title="loss", rangemode="tozero", secondary_y=False, gridcolor=GRID_GREY)
    fig.update_yaxes(title="validation accuracy", tickformat=".1%", secondary_y=True,
                     showgrid=False)
    fig.update_layout(legend=dict(orientation="h", y=1.12, x=0))
    return _clean(fig, height)


def relu_pair(pre: np.ndarray, post: np.ndarray, pre_name: str, post_name: str,
              height: int = 380) -> go.Figure:
    """One map before ReLU (negatives blue, positives red) and after it (cividis, from 0)."""
    fig = make_subplots(1, 2, horizontal_spacing=0.08,
                        subplot_titles=(f"before: {pre_name}", f"after: {post_name}"))
    lim = symmetric_limit(pre)
    fig.add_trace(go.Heatmap(z=np.asarray(pre, dtype=np.float32), colorscale=DIVERGING,
                             zmin=-lim, zmax=lim, colorbar=dict(x=0.45, thickness=12, len=0.8),
                             hovertemplate="(%{y}, %{x}): %{z:.3g}<extra></extra>"), 1, 1)
    top = float(np.max(post)) or 1.0
    fig.add_trace(go.Heatmap(z=np.asarray(post, dtype=np.float32), colorscale=SEQUENTIAL,
                             zmin=0, zmax=top, colorbar=dict(x=1.0, thickness=12, len=0.8),
                             hovertemplate="(%{y}, %{x}): %{z:.3g}<extra></extra>"), 1, 2)
    for i in (1, 2):
        _hide_axes(fig, row=1, col=i)
        fig.update_yaxes(scaleanchor=f"x{'' if i == 1 else i}", row=1, col=i)
    fig.update_layout(meta={"alt": f"One map before the activation ({pre_name}, from "
                                   f"{float(np.min(pre)):.2f} to {float(np.max(pre)):.2f}) and "
                                   f"after it ({post_name}, from {float(np.min(post)):.2f} to "
                                   f"{top:.2f})."})
    return _clean(fig, height)


def join_fields(image: np.ndarray, boxes: list[tuple[str, tuple[int, int, int, int], bool]],
                height: int = 380) -> go.Figure:
    """The input digit with the field of one unit of a join and of each of its branches.

    ``boxes``: ``(label, (y0, y1, x0, x1), is_join)`` per field, inclusive and unclipped (the
    engine's regions; the part outside the image is zero padding, drawn grey). The join is
    solid orange and thick, drawn first; the branches dashed blue over it (the widest branch's
    square lies on the join's): aligned fields are concentric squares, the join's the largest.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3:
        img = img[0]
    n = img.shape[0]
    lo = min([0] + [b[1][0] for b in boxes] + [b[1][2] for b in boxes])
    hi = max([n - 1] + [b[1][1] for b in boxes] + [b[1][3] for b in boxes])
    pad = np.full((hi - lo + 1, hi - lo + 1), np.nan, dtype=np.float32)
    pad[-lo:-lo + n, -lo:-lo + n] = img
    coords = np.arange(lo, hi + 1)
    fig = go.Figure(go.Heatmap(z=pad, x=coords, y=coords, colorscale="gray", showscale=False,
                               hoverongaps=False,
                               hovertemplate="pixel (%{y}, %{x})<extra></extra>"))
    fig.add_shape(type="rect", x0=-0.5, x1=n - 0.5, y0=-0.5, y1=n - 0.5,
                  line=dict(color=GREY, width=1, dash="dot"))
    dashes = ("dash", "dot", "dashdot", "longdash")
    branch = 0
    for label, (y0, y1, x0, x1), is_join in sorted(boxes, key=lambda b: not b[2]):
        if is_join:
            line = dict(color=ORANGE, width=5)
        else:
            line = dict(color=BLUE, width=3, dash=dashes[branch % len(dashes)])
            branch += 1
        fig.add_shape(type="rect", x0=x0 - 0.5, x1=x1 + 0.5, y0=y0 - 0.5, y1=y1 + 0.5,
                      line=line)
        # a legend entry per field (shapes have none)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line,
                                 name=f"{label}: {y1 - y0 + 1}x{x1 - x0 + 1}"))
    _hide_axes(fig)
    fig.update_yaxes(scaleanchor="x")
    fig.update_layout(plot_bgcolor=GRID_GREY, showlegend=True,
                      legend=dict(orientation="h", y=-0.02, yanchor="top", x=0))
    return _clean(fig, height, top=10)
