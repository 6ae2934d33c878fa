"""Atlas pictures: each top digit cropped to its unit's exact receptive field (numpy and plotly).

A patch is the unit's field in input pixels, unclipped: where the field runs past the image the
pixels are zero padding, drawn hatched (grey with orange stripes), so a border unit's patch shows
how much of what it "sees" is not the digit. All patches of one layer have the same size (its
field r). A grid is one PNG image (fast to send and draw) with the activation under every patch and
an invisible scatter on top, whose ``customdata`` is ``[row, column]``, so a click reaches
Python. The confusion matrix's figure (:func:`confusion_figure`) is drawn the same way. Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.pictures import style

ORANGE = np.array(style.rgb(style.ORANGE), np.float64)
PAD_GREY = np.array(style.rgb(style.PAD_GREY), np.float64)
GAP = np.array([255, 255, 255], np.float64)
FONT = dict(family="Source Sans Pro, sans-serif", size=13)


def patch_rgb(image: np.ndarray, region: Sequence[int], scale: int = 4) -> np.ndarray:
    """uint8 RGB (r * scale, r * scale, 3): the input under ``region`` (y0, y1, x0, x1,
    inclusive, may run outside the image), white ink on black, padding hatched."""
    img = np.asarray(image, dtype=np.float64)
    y0, y1, x0, x1 = (int(v) for v in region)
    if y1 < y0 or x1 < x0:
        raise ValueError(f"empty region {tuple(region)}")
    h, w = y1 - y0 + 1, x1 - x0 + 1
    ys, xs = np.arange(y0, y1 + 1), np.arange(x0, x1 + 1)
    inside = ((ys >= 0) & (ys < img.shape[0]))[:, None] & ((xs >= 0) & (xs < img.shape[1]))[None]
    grey = np.zeros((h, w))
    grey[inside] = img[np.clip(ys, 0, img.shape[0] - 1)][:, np.clip(xs, 0, img.shape[1] - 1)][inside]
    rgb = np.repeat(grey[..., None], 3, axis=2)
    big = np.kron(rgb, np.ones((scale, scale, 1)))
    pad = np.kron(~inside, np.ones((scale, scale), bool))
    if pad.any():
        yy, xx = np.indices(pad.shape)
        stripe = ((yy + xx) % 8) < 3
        big[pad] = PAD_GREY
        big[pad & stripe] = ORANGE
    return big.clip(0, 255).astype(np.uint8)


def to_png(rgb: np.ndarray) -> bytes:
    """An RGB tile as PNG bytes (for ``st.image``)."""
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def png_uri(rgb: np.ndarray) -> str:
    """An RGB picture as a ``data:image/png;base64`` URI (a plotly Image's ``source``)."""
    import base64
    return "data:image/png;base64," + base64.b64encode(to_png(rgb.clip(0, 255))).decode("ascii")


def tile_scale(r: int, target: int = 84) -> int:
    """Upscaling so a field of r pixels is drawn about ``target`` screen pixels wide."""
    return max(1, int(round(target / max(int(r), 1))))


def grid(tiles: Sequence[Sequence[np.ndarray]], labels: Sequence[Sequence[str]],
         row_titles: Sequence[str] | None = None, hover: Sequence[Sequence[str]] | None = None,
         gap: int = 6, label_height: int = 18, selected: tuple[int, int] | None = None,
         height: int | None = None) -> go.Figure:
    """Equal-size RGB tiles in rows, a label under each, click-able (customdata [row, col])."""
    rows = len(tiles)
    cols = max((len(r) for r in tiles), default=0)
    if rows == 0 or cols == 0:
        raise ValueError("nothing to draw: no tiles")
    th, tw = tiles[0][0].shape[:2]
    cell_h, cell_w = th + label_height + gap, tw + gap
    canvas = np.empty((rows * cell_h, cols * cell_w, 3), np.float64)
    canvas[:] = GAP
    xs, ys, cd, texts, notes = [], [], [], [], []
    for i, row in enumerate(tiles):
        for j, tile in enumerate(row):
            if tile.shape[:2] != (th, tw):
                raise ValueError("all tiles of a grid must have the same size")
            top, left = i * cell_h, j * cell_w
            canvas[top:top + th, left:left + tw] = tile[..., :3]
            if selected == (i, j):
                canvas[top:top + th, left:left + 3] = ORANGE
                canvas[top:top + th, left + tw - 3:left + tw] = ORANGE
                canvas[top:top + 3, left:left + tw] = ORANGE
                canvas[top + th - 3:top + th, left:left + tw] = ORANGE
            xs.append(left + tw / 2)
            ys.append(top + th / 2)
            cd.append([i, j])
            texts.append(hover[i][j] if hover else labels[i][j])
            notes.append(dict(x=left + tw / 2, y=top + th + 2, text=labels[i][j],
                              showarrow=False, yanchor="top", font=dict(size=11)))
    # The canvas goes as a PNG: as numbers it was about 1 MB a page (the Atlas page's nine rows),
    # as PNG tens of kB, cheaper to build, to send and to draw.
    fig = go.Figure(go.Image(source=png_uri(canvas), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", customdata=cd, text=texts,
                             marker=dict(size=max(8, min(th, 60)), symbol="square",
                                         color="rgba(0,0,0,0)"),
                             hovertemplate="%{text}<extra></extra>", showlegend=False))
    for note in notes:
        fig.add_annotation(**note)
    if row_titles:
        for i, title in enumerate(row_titles):
            fig.add_annotation(x=-4, y=i * cell_h + th / 2, text=title, showarrow=False,
                               xanchor="right", font=dict(size=12))
    fig.update_xaxes(visible=False, range=[-(70 if row_titles else 2), cols * cell_w])
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_layout(height=height or min(2400, 40 + rows * (cell_h + 4) * 1.25),
                      margin=dict(l=0, r=0, t=0, b=0), plot_bgcolor="white", font=FONT,
                      dragmode=False, clickmode="event+select")
    return fig


def channel_figure(patches: Sequence[np.ndarray], values: Sequence[float],
                   indices: Sequence[int], selected: int | None = None) -> go.Figure:
    """One channel's top patches in a row, the activation (and test index) under each."""
    labels = [[f"{v:.2f}" for v in values]]
    hover = [[f"test digit #{i}: activation {v:.3f}. Click to open it." for i, v in
              zip(indices, values, strict=True)]]
    th = patches[0].shape[0] if len(patches) else 60
    return grid([list(patches)], labels, hover=hover, height=int(th * 1.35 + 40),
                selected=None if selected is None else (0, selected))


def layer_figure(patches: Sequence[Sequence[np.ndarray]], values: np.ndarray,
                 indices: np.ndarray, first_channel: int = 0,
                 synthesized: Sequence[np.ndarray] | None = None) -> go.Figure:
    """A layer's grid: one row per channel, its top patches (and, when given, the synthesized
    input as the last tile), activation under each."""
    tiles, labels, hover = [], [], []
    for c, row in enumerate(patches):
        ch = first_channel + c
        tiles.append(list(row))
        labels.append([f"{v:.2f}" for v in values[c]])
        hover.append([f"channel {ch}, test digit #{i}: {v:.3f}"
                      for i, v in zip(indices[c], values[c], strict=True)])
        if synthesized is not None:
            tiles[-1].append(synthesized[c])
            labels[-1].append("synth.")
            hover[-1].append(f"channel {ch}: the synthesized input")
    titles = [f"ch {first_channel + c}" for c in range(len(patches))]
    return grid(tiles, labels, row_titles=titles, hover=hover)


def digit_rgb(image: np.ndarray, size: int) -> np.ndarray:
    """A whole 28x28 digit as an RGB tile of about ``size`` pixels (nearest neighbour)."""
    img = np.asarray(image, dtype=np.float64)
    scale = max(1, size // img.shape[0])
    return np.repeat(np.kron(img, np.ones((scale, scale)))[..., None], 3, axis=2).astype(np.uint8)


def resize_rgb(tile: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an RGB tile to ``size`` (h, w)."""
    h, w = tile.shape[:2]
    ys = (np.arange(size[0]) * h // size[0]).clip(0, h - 1)
    xs = (np.arange(size[1]) * w // size[1]).clip(0, w - 1)
    return tile[ys][:, xs]


def curves_figure(curves: dict[str, np.ndarray], title: str, height: int = 420) -> go.Figure:
    """Deletion or insertion curves: target-class probability against the share of pixels."""
    fig = go.Figure()
    palette, markers = style.CATEGORICAL, style.MARKERS  # colour-blind safe, and a marker each
    for k, (name, c) in enumerate(curves.items()):
        xs = np.linspace(0, 1, len(c))
        fig.add_trace(go.Scatter(x=xs, y=c, mode="lines+markers", name=name,
                                 marker=dict(symbol=markers[k % len(markers)], size=7),
                                 line=dict(color=palette[k % len(palette)],
                                           dash="dot" if name.startswith("random") else None),
                                 hovertemplate=f"{name}: %{{y:.2f}} at %{{x:.0%}}<extra></extra>"))
    fig.update_xaxes(title="share of pixels " + ("removed" if "eletion" in title else "added"),
                     tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title="probability of the class", range=[0, 1.02])
    # The legend under the chart, in rows: beside it, it covered the curves in a narrow column.
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white", font=FONT,
                      legend=dict(font=dict(size=13), orientation="h", yanchor="top", y=-0.22,
                                  x=0))
    return fig


def confusion_figure(matrix: np.ndarray, selected: tuple[int, int] | None = None,
                     height: int = 460) -> go.Figure:
    """The confusion matrix (``viz/teaching/confusion.py``): a heatmap of the counts (log colour so single
    errors show), the count in every cell, and an invisible scatter with one marker per cell on
    top (a click on a plain heatmap never reaches Python), whose ``customdata`` is
    ``[true, predicted]``."""
    m = np.asarray(matrix)
    classes = list(range(m.shape[0]))
    text = [[str(int(v)) if v else "" for v in row] for row in m]
    # A phone's cells are about 30 px wide: four digits fit them at 12 px (unset, plotly
    # shrinks the text to fit its cells, much smaller).
    size = 14 if m.max(initial=0) < 1000 else 12
    fig = go.Figure(go.Heatmap(
        z=np.log10(m + 1.0), x=classes, y=classes, text=text, texttemplate="%{text}",
        textfont=dict(size=size),
        colorscale=style.SEQUENTIAL, showscale=False, xgap=1, ygap=1, hoverinfo="skip"))
    ys, xs = np.meshgrid(classes, classes, indexing="ij")
    fig.add_trace(go.Scatter(
        x=xs.ravel().tolist(), y=ys.ravel().tolist(), mode="markers",
        marker=dict(size=34, symbol="square", color="rgba(0,0,0,0)"),
        customdata=np.stack([ys.ravel(), xs.ravel()], axis=1).tolist(),
        hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}: "
                      "%{text} digit(s)<extra></extra>",
        text=[str(int(v)) for v in m.ravel()], showlegend=False))
    if selected is not None:
        t, p = selected
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5,
                      line=dict(color=style.ORANGE, width=3))
    # The ranges are the cells' (autorange would pad them for the invisible markers, shrinking
    # the cells by a fifth).
    edge = [-0.5, len(classes) - 0.5]
    fig.update_xaxes(title="predicted", tickmode="array", tickvals=classes, side="top",
                     constrain="domain", range=edge)
    fig.update_yaxes(title="true", tickmode="array", tickvals=classes, range=edge[::-1],
                     scaleanchor="x", constrain="domain")  # the labels stay beside the cells
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                      clickmode="event+select", dragmode=False, font=FONT)
    off = m * (1 - np.eye(len(classes), dtype=m.dtype))
    t, p = (int(v) for v in np.unravel_index(int(np.argmax(off)), off.shape))
    worst = (f"; the most frequent mistake: {int(off[t, p])} digit(s) of class {t} read as {p}"
             if off[t, p] else "; no mistakes")
    fig.update_layout(meta={"alt": f"Confusion matrix of {int(m.sum()):,} test digits, rows the "
                                   f"true class, columns the prediction: {int(np.trace(m)):,} "
                                   f"on the diagonal (right){worst}."})
    return fig
