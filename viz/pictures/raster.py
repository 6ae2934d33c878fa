"""Receptive-field pictures as PNG images: the input, a unit's region, its padding, an overlay.

Used where the picture changes on every click (picking a unit): an image is drawn by the browser
at once, with no chart library work, so the region appears as fast as the server answers.
Colour maps are the same colour-blind-safe ones as the charts (cividis, RdBu reversed), and all
colours come from ``viz/pictures/style.py``.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from viz.pictures import style
from viz.receptive_field import Region

ORANGE = style.rgb(style.ORANGE)
PAD_GREY = style.rgb(style.PAD_GREY)
BORDER_GREY = style.rgb(style.BORDER_GREY)


def _lut(colours: tuple[str, ...]) -> np.ndarray:
    stops = np.array([style.rgb(c) for c in colours], dtype=np.float64)
    pos = np.linspace(0, 1, len(stops))
    t = np.linspace(0, 1, 256)
    return np.stack([np.interp(t, pos, stops[:, k]) for k in range(3)], axis=1)


CIVIDIS = _lut(style.CIVIDIS)
RDBU_R = _lut(style.RDBU_R)


def colourise(values: np.ndarray, lut: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values -> (H, W, 3) float RGB through a 256-entry lookup table."""
    t = np.clip((np.asarray(values, dtype=np.float64) - lo) / max(hi - lo, 1e-12), 0, 1)
    return lut[(t * 255).round().astype(int)]


YELLOW = style.rgb(style.YELLOW)  # the sensitivity overlay's colour (cividis' brightest)
SENSITIVITY_GAMMA = 0.6  # overlay opacity = level ** gamma: faint sensitivity stays visible
SIGNED_GAMMA = 0.7


def overlay_levels(overlay: np.ndarray, signed: bool) -> np.ndarray:
    """An overlay scaled for drawing: 0..1 (non-negative, divided by its largest value) or
    -1..1 (signed, divided by the 99.5th percentile of |value| so one extreme pixel does not wash
    the rest out; beyond it, clipped). An all-zero overlay stays zero. The PNG pictures here and
    the browser's unit-field panel (``viz/browser/fieldpanel.py``) both draw these levels."""
    ov = np.asarray(overlay, dtype=np.float64)
    if signed:
        lim = float(np.percentile(np.abs(ov), 99.5)) or float(np.abs(ov).max()) or 1.0
        return np.clip(ov / lim, -1, 1)
    hi = float(ov.max()) or 1.0
    return np.clip(ov / hi, 0, 1)


def input_rgb(image: np.ndarray, levels: np.ndarray | None = None,
              signed: bool = False) -> np.ndarray:
    """(H, W, 3) float RGB 0..255: the input blended with overlay ``levels`` (from
    :func:`overlay_levels`). Without an overlay or under a sensitivity one, MNIST's own look
    (white ink on black, dimmed to 85% under the overlay); under a signed one, grey ink on white
    paper, where red and blue read best. The browser's panel blends the same way."""
    img = np.asarray(image, dtype=np.float64) / 255.0
    if levels is not None and signed:
        rgb = np.repeat((1 - 0.45 * img[..., None]) * 255, 3, axis=2)
    else:
        rgb = np.repeat(img[..., None] * (0.85 if levels is not None else 1.0) * 255, 3, axis=2)
    if levels is None:
        return rgb
    t = np.asarray(levels, dtype=np.float64)
    if signed:
        colour = colourise(t, RDBU_R, -1.0, 1.0)
        alpha = np.abs(t)[..., None] ** SIGNED_GAMMA
    else:
        colour = np.broadcast_to(np.array(YELLOW, dtype=np.float64), rgb.shape)
        alpha = t[..., None] ** SENSITIVITY_GAMMA
    return rgb * (1 - alpha) + colour * alpha


def field_picture(image: np.ndarray, region: Region | None = None,
                  overlay: np.ndarray | None = None, signed: bool = False,
                  scale: int = 10) -> bytes:
    """PNG: the 28x28 input (grey), an optional overlay, and a unit's field.

    The canvas grows to show the whole field; the part of it outside the image (zero padding)
    is hatched in orange, and the field's outline is drawn in orange.
    ``overlay``: non-negative (sensitivity, cividis-like yellow, transparent at 0) or signed
    (red = positive, blue = negative, transparent at 0).
    """
    rgb = input_rgb(image, None if overlay is None else overlay_levels(overlay, signed), signed)
    n = rgb.shape[0]
    lo, hi = 0, n - 1
    if region is not None:
        lo = min(0, region.y0, region.x0)
        hi = max(n - 1, region.y1, region.x1)
    side = (hi - lo + 1) * scale
    canvas = np.empty((side, side, 3), dtype=np.float64)
    canvas[:] = PAD_GREY
    off = (0 - lo) * scale
    big = np.kron(rgb, np.ones((scale, scale, 1)))
    canvas[off:off + n * scale, off:off + n * scale] = big
    pil = Image.fromarray(canvas.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil, "RGBA")
    # the image's own border, dotted-looking thin grey
    draw.rectangle([off - 1, off - 1, off + n * scale, off + n * scale], outline=BORDER_GREY)
    if region is not None:
        x0, y0 = (region.x0 - lo) * scale, (region.y0 - lo) * scale
        x1, y1 = (region.x1 - lo + 1) * scale - 1, (region.y1 - lo + 1) * scale - 1
        if region.y0 < 0 or region.x0 < 0 or region.y1 >= n or region.x1 >= n:
            hatch = Image.new("RGBA", pil.size, (0, 0, 0, 0))
            hd = ImageDraw.Draw(hatch)
            for k in range(-side, side, 8):
                hd.line([(k, 0), (k + side, side)], fill=(*ORANGE, 150), width=2)
            mask = Image.new("L", pil.size, 0)
            md = ImageDraw.Draw(mask)
            md.rectangle([x0, y0, x1, y1], fill=255)
            md.rectangle([off, off, off + n * scale - 1, off + n * scale - 1], fill=0)
            pil.paste(hatch, (0, 0), Image.composite(hatch, Image.new("RGBA", pil.size),
                                                     mask).split()[3])
        width = max(2, scale // 3)
        draw.rectangle([x0, y0, x1, y1], outline=(*ORANGE, 255), width=width)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
