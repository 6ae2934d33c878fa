"""Plotly figures for the explorer: light (one or few traces), readable on a projector.

Colour maps are colour-blind safe: ``cividis`` for activations and images of values, ``RdBu``
reversed (red = positive, blue = negative, white = 0) for signed attributions and weights; they
and every colour here come from ``viz/pictures/style.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from viz.network.layers import INPUT_SHAPE
from viz.pictures import style
from viz.pictures.style import DIVERGING, OVERLAY_DIVERGING, SEQUENTIAL

if TYPE_CHECKING:
    from viz.network.layers import LayerInfo
    from viz.receptive_field import Region

SIDE = INPUT_SHAPE[-1]  # the input's side in pixels
FONT = dict(size=15)
GAP = 1  # NaN pixels between tiles of a mosaic


def _base(fig: go.Figure, height: int, title: str | None = None, top: int = 10) -> go.Figure:
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40 if title else top, b=10), font=FONT,
        title=dict(text=title, x=0.01, font=dict(size=16)) if title else None,
        plot_bgcolor="white", paper_bgcolor="white", dragmode=False,
    )
    return fig


def _image_axes(fig: go.Figure, n: int | None = None, row=None, col=None) -> None:
    kw = dict(row=row, col=col) if row else {}
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain",
                     ticks="", showline=False, **kw)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed",
                     ticks="", showline=False,
                     scaleanchor="x" if not row else None, constrain="domain", **kw)


def symmetric_limit(*maps: np.ndarray) -> float:
    """A shared symmetric colour limit for signed maps (99.5th percentile of |values|)."""
    values = np.concatenate([np.abs(np.asarray(m, dtype=np.float64)).ravel() for m in maps])
    if values.size == 0:
        return 1.0
    lim = float(np.percentile(values, 99.5))
    return lim if lim > 0 else float(values.max()) or 1.0


def warmup() -> go.Figure:
    """A tiny, empty chart: makes the browser load its chart library while the model loads."""
    return go.Figure(layout=dict(height=10, margin=dict(l=0, r=0, t=0, b=0),
                                 xaxis=dict(visible=False), yaxis=dict(visible=False)))


def digit(image: np.ndarray, height: int = 300, region: Region | None = None,
          overlay: np.ndarray | None = None, opacity: float = 0.6, limit: float | None = None,
          overlay_scale: str | list = OVERLAY_DIVERGING, overlay_name: str = "value",
          show_scale: bool = False) -> go.Figure:
    """The 28x28 input in grey, optionally with a signed or positive overlay and an RF region.

    The region is drawn as a rectangle; where it extends past the image (into the zero padding)
    the axes grow to show it and the padding part is shaded with hatching.
    """
    img = np.asarray(image, dtype=np.float64)
    n = img.shape[0]
    paper = overlay is not None and overlay_scale is OVERLAY_DIVERGING
    # Red and blue read badly on black: under a signed overlay the digit is grey ink on paper.
    shown = 255 - 0.5 * img if paper else img
    fig = go.Figure(go.Heatmap(
        z=shown, customdata=img, colorscale="gray", zmin=0, zmax=255, showscale=False,
        hovertemplate="pixel (row %{y}, col %{x}): %{customdata:.0f}<extra></extra>"))
    if overlay is not None:
        ov = np.asarray(overlay, dtype=np.float64)
        if overlay_scale in (DIVERGING, OVERLAY_DIVERGING):
            lim = limit or symmetric_limit(ov)
            zmin, zmax = -lim, lim
        else:
            zmin, zmax = 0.0, (limit or float(ov.max()) or 1.0)
        fig.add_trace(go.Heatmap(
            z=ov, colorscale=overlay_scale, zmin=zmin, zmax=zmax, opacity=opacity,
            showscale=show_scale, colorbar=dict(thickness=12, len=0.8),
            hovertemplate=f"(row %{{y}}, col %{{x}}) {overlay_name}: %{{z:.3g}}<extra></extra>"))
    lo, hi = -0.5, n - 0.5
    if region is not None:
        ry0, ry1, rx0, rx1 = region.y0 - 0.5, region.y1 + 0.5, region.x0 - 0.5, region.x1 + 0.5
        lo, hi = min(lo, ry0, rx0) - 0.5, max(hi, ry1, rx1) + 0.5
        # The padding: everything around the image, shaded; the image sits on top of it.
        fig.add_shape(type="rect", x0=rx0, x1=rx1, y0=ry0, y1=ry1,
                      line=dict(width=0), fillcolor=style.rgba(style.ORANGE, 0.3), layer="below")
        fig.add_shape(type="rect", x0=rx0, x1=rx1, y0=ry0, y1=ry1,
                      line=dict(color=style.ORANGE, width=3), fillcolor="rgba(0,0,0,0)",
                      name="receptive field")
        fig.add_shape(type="rect", x0=-0.5, x1=n - 0.5, y0=-0.5, y1=n - 0.5,
                      line=dict(color=style.GREY, width=1, dash="dot"))
        fig.update_layout(plot_bgcolor="#f2f2f2")
    fig.update_xaxes(range=[lo, hi])
    fig.update_yaxes(range=[hi, lo])
    _image_axes(fig)
    fig.update_yaxes(autorange=False)
    return _base(fig, height)


def feature_grid(maps: np.ndarray, first_channel: int = 0, per_map: bool = True,
                 colorscale: str = SEQUENTIAL, cols: int | None = None,
                 height: int | None = None) -> go.Figure:
    """Feature maps (C, H, W) as a grid of small heatmaps, one trace and axis pair per map.

    Hover shows the channel, the unit (row, col) and its raw value. ``per_map``: every map on its
    own min..max (shapes comparable); otherwise one shared scale with a colour bar (strengths
    comparable). Built as plain dicts with float32 data: small JSON, fast to send and draw.
    """
    maps = np.asarray(maps, dtype=np.float32)
    c, h, w = maps.shape
    cols = cols or min(c, max(1, math.ceil(math.sqrt(c * 1.6))))
    rows = math.ceil(c / cols)
    lo_all, hi_all = float(maps.min()), float(maps.max())
    if hi_all <= lo_all:
        hi_all = lo_all + 1e-6
    gx, gy = 0.012, 0.09 / max(rows, 1) + 0.02  # gaps between tiles (paper fraction)
    data, annotations = [], []
    layout: dict = {}
    for i in range(c):
        r, q = divmod(i, cols)
        ax = "" if i == 0 else str(i + 1)
        m = maps[i]
        lo, hi = (float(m.min()), float(m.max())) if per_map else (lo_all, hi_all)
        if hi <= lo:
            hi = lo + 1e-6
        trace = dict(type="heatmap", z=m, xaxis=f"x{ax}", yaxis=f"y{ax}",
                     hovertemplate=(f"channel {first_channel + i}, unit (%{{y}}, %{{x}}): "
                                    "%{z:.3g}<extra></extra>"))
        if per_map:
            trace.update(colorscale=colorscale, zmin=lo, zmax=hi, showscale=False)
        else:
            trace.update(coloraxis="coloraxis")
        data.append(trace)
        x0, x1 = q / cols + gx / 2, (q + 1) / cols - gx / 2
        y1, y0 = 1 - r / rows - gy, 1 - (r + 1) / rows
        layout[f"xaxis{ax}"] = dict(domain=[x0, x1], anchor=f"y{ax}", visible=False,
                                    range=[-0.5, w - 0.5], constrain="domain")
        layout[f"yaxis{ax}"] = dict(domain=[y0, y1], anchor=f"x{ax}", visible=False,
                                    range=[h - 0.5, -0.5], scaleanchor=f"x{ax}",
                                    constrain="domain")
        annotations.append(dict(text=f"{first_channel + i}", xref=f"x{ax} domain",
                                yref=f"y{ax} domain", x=0.5, y=1.0, yanchor="bottom",
                                showarrow=False, font=dict(size=13, color="#444")))
    tile_px = 120 if h > 3 else 60
    layout.update(
        height=height or min(900, 30 + rows * tile_px), annotations=annotations,
        margin=dict(l=10, r=10, t=10, b=10), font=FONT, plot_bgcolor="white",
        paper_bgcolor="white", dragmode=False)
    if not per_map:
        layout["coloraxis"] = dict(colorscale=colorscale, cmin=lo_all, cmax=hi_all,
                                   colorbar=dict(thickness=12, len=0.8))
    return go.Figure(data=data, layout=layout)


def tiled(maps: np.ndarray, cols: int, colorscale: str = DIVERGING, height: int | None = None,
          label: str = "weight") -> go.Figure:
    """Many tiny maps (e.g. 3x3 filters) tiled into ONE heatmap on one shared symmetric scale."""
    maps = np.asarray(maps, dtype=np.float32)
    c, h, w = maps.shape
    rows = math.ceil(c / cols)
    th, tw = h + GAP, w + GAP
    z = np.full((rows * th - GAP, cols * tw - GAP), np.nan, dtype=np.float32)
    for i in range(c):
        r, q = divmod(i, cols)
        z[r * th:r * th + h, q * tw:q * tw + w] = maps[i]
    lim = symmetric_limit(maps)
    fig = go.Figure(go.Heatmap(
        z=z, colorscale=colorscale, zmin=-lim, zmax=lim, hoverongaps=False,
        colorbar=dict(thickness=12, len=0.8),
        hovertemplate=f"{label} %{{z:.3g}}<extra></extra>"))
    _image_axes(fig)
    return _base(fig, height or min(900, 40 + rows * max(18, 6 * th)))


def field_growth(table: Sequence[LayerInfo], chosen: str) -> go.Figure:
    """Receptive field r (and effective stride S) against depth, chosen layer marked."""
    names = [row.name for row in table]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=names, y=[row.r for row in table], mode="lines+markers",
                             name="r (field size)", line=dict(color=style.BLUE, width=3),
                             hovertemplate="%{x}: r = %{y}<extra></extra>"))
    fig.add_trace(go.Scatter(x=names, y=[row.stride for row in table], mode="lines+markers",
                             name="S (effective stride)", line=dict(color=style.ORANGE, width=2,
                                                                   dash="dot"),
                             hovertemplate="%{x}: S = %{y}<extra></extra>"))
    fig.add_hline(y=SIDE, line=dict(color=style.GREY, dash="dash"),
                  annotation_text=f"image size {SIDE}",
                  annotation_position="top left")
    if chosen in names:
        fig.add_vline(x=names.index(chosen), line=dict(color=style.ORANGE, width=2))
    fig.update_xaxes(type="category", tickangle=-60, tickfont=dict(size=11))
    fig.update_yaxes(title="input pixels", rangemode="tozero")
    fig.update_layout(legend=dict(orientation="h", y=1.12, x=0))
    return _base(fig, 340)


COMPARE_COLOURS = (style.BLUE, style.ORANGE, "#2a9d8f", "#8e44ad")
COMPARE_DASHES = ("solid", "dash", "dot", "dashdot")


def field_growth_compare(curves: dict[str, Sequence]) -> go.Figure:
    """Receptive field r against depth (conv and pooling layers counted) for several networks.

    ``curves`` maps a network's name to its points in order (objects with ``name`` and ``r``,
    e.g. viz.teaching.lab.growth). Colours and dash styles both differ, so the lines stay apart in black
    and white.
    """
    fig = go.Figure()
    for i, (label, points) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(
            x=list(range(1, len(points) + 1)), y=[p.r for p in points], mode="lines+markers",
            name=label, customdata=[p.name for p in points],
            line=dict(color=COMPARE_COLOURS[i % len(COMPARE_COLOURS)], width=3,
                      dash=COMPARE_DASHES[i % len(COMPARE_DASHES)]),
            hovertemplate=f"{label}<br>%{{customdata}} (layer %{{x}}): r = %{{y}}<extra></extra>"))
    fig.add_hline(y=SIDE, line=dict(color=style.GREY, dash="dash"),
                  annotation_text=f"image size {SIDE}",
                  annotation_position="top left")
    fig.update_xaxes(title="depth (conv and pooling layers)", dtick=1 if max(
        (len(p) for p in curves.values()), default=0) <= 20 else None)
    fig.update_yaxes(title="receptive field r (input pixels)", rangemode="tozero")
    fig.update_layout(legend=dict(orientation="h", y=1.12, x=0))
    return _base(fig, 360)


def filter_grid(weight: np.ndarray, max_out: int = 16, max_in: int = 16, cols: int | None = None,
                height: int | None = None) -> tuple[go.Figure, int, int]:
    """A conv's kernels (out, in, kh, kw) as one tiled heatmap: one row per output channel.

    At most ``max_out`` output and ``max_in`` input channels are shown; ``cols`` defaults to one
    column per input channel. Returns (figure, output channels shown, input channels shown).
    """
    w = np.asarray(weight)
    out_c, in_c, kh, kw = w.shape
    o_hi, i_hi = min(out_c, max_out), min(in_c, max_in)
    tiles = w[:o_hi, :i_hi].reshape(o_hi * i_hi, kh, kw)
    return tiled(tiles, cols=cols or i_hi, height=height), o_hi, i_hi


def vector_bars(vec: np.ndarray) -> go.Figure:
    """A layer's output vector as bars (one per unit; blue >= 0, orange < 0)."""
    vec = np.asarray(vec).reshape(-1)
    fig = go.Figure(go.Bar(x=[str(i) for i in range(vec.size)], y=vec,
                           marker_color=[style.BLUE if v >= 0 else style.ORANGE for v in vec],
                           hovertemplate="%{x}: %{y:.3g}<extra></extra>"))
    fig.update_xaxes(type="category")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), font=FONT,
                      plot_bgcolor="white")
    return fig


_KINDS = {"heatmap": "picture", "scatter": "chart", "bar": "bar chart", "image": "picture"}


def describe(fig: go.Figure, limit: int = 300) -> str:
    """A figure's text alternative (what a screen reader says for it): the description its
    builder put in ``layout.meta["alt"]``, else one made from its title, subplot titles, axis
    titles and line names. At most ``limit`` characters."""
    meta = fig.layout.meta
    if isinstance(meta, dict) and meta.get("alt"):
        return str(meta["alt"])[:limit]
    kinds = sorted({_KINDS.get(t.type or "scatter", "chart") for t in fig.data
                    if t.visible is not False and not (t.type == "scatter" and t.mode == "markers"
                                                       and t.showlegend is False)})
    parts = [" and ".join(kinds) or "chart"]
    title = fig.layout.title.text if fig.layout.title else None
    if title:
        parts.append(title)
    notes = [a.text for a in fig.layout.annotations or () if a.text]
    if notes:
        parts.append("; ".join(notes[:12]))
    x = fig.layout.xaxis.title.text if fig.layout.xaxis and fig.layout.xaxis.title else None
    y = fig.layout.yaxis.title.text if fig.layout.yaxis and fig.layout.yaxis.title else None
    if x or y:
        parts.append(" against ".join(t for t in (y, x) if t))
    names = [t.name for t in fig.data if t.name and t.showlegend is not False]
    if names:
        parts.append("lines: " + ", ".join(names[:10]))
    text = ": ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if parts[2:] else "")
    return (text[0].upper() + text[1:])[:limit]


def with_alt(fig: go.Figure, text: str) -> go.Figure:
    """Give ``fig`` its text alternative (read by :func:`describe`); returns ``fig``."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    fig.update_layout(meta={**meta, "alt": text})
    return fig
