"""MNIST's own preprocessing for uploaded images and drawings.

MNIST digits were made like this (LeCun et al.): white ink on black, the digit's bounding box
fitted into 20x20 pixels keeping its aspect ratio (anti-aliased, so grey levels appear), then
placed in a 28x28 frame so that its centre of mass sits in the middle. :func:`to_mnist` does the
same to any picture of a digit, so the network sees what it was trained on.

Every failure raises ``ValueError`` with a message a student can act on.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from viz.limits import DRAWING_BYTES, DRAWING_CHARS, DRAWING_SIDE, PHOTO_FILE_BYTES, PHOTO_PIXELS
from viz.network.layers import INPUT_SHAPE

MEAN, STD = 0.1307, 0.3081  # MNIST pixel mean and std (in [0, 1]): every normaliser reads these
FRAME = INPUT_SHAPE[-1]  # the network's input side (28)
BOX = 20
CENTRE = 14.0
MAX_UPLOAD_BYTES = PHOTO_FILE_BYTES
MAX_PIXELS = PHOTO_PIXELS
INK_THRESHOLD = 0.15  # fraction of the strongest ink that still counts as ink when cropping
PAD = 240  # the drawing pad's side in pixels (ui/components/lens/lens.js): what the session keeps
MAX_DRAWING_SIDE = DRAWING_SIDE
MAX_DRAWING_BYTES = DRAWING_BYTES
MAX_DRAWING_CHARS = DRAWING_CHARS
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_image(data: bytes, source: str = "image") -> np.ndarray:
    """Bytes of an image file -> float grayscale array in [0, 1] (1 = white).

    Transparent pixels are composited onto white (a drawing on a transparent canvas becomes dark
    ink on white paper). Raises ``ValueError`` for empty, non-image, truncated or huge files.
    """
    if not data:
        raise ValueError(f"{source}: the file is empty. Upload a PNG or JPEG picture of a digit.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"{source}: {len(data) / 1e6:.0f} MB is too big; upload an image under "
                         f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ValueError(f"{source}: {w}x{h} pixels is too large; upload an image under "
                                 f"{MAX_PIXELS // 1_000_000} megapixels (a digit needs only 28x28).")
            if max(w, h) > 1024:
                img.draft("L", (1024, 1024))  # JPEG: decode at reduced size, fast
            img.load()
    except ValueError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{source}: not an image Pillow can read. Upload a PNG, JPEG, BMP or GIF "
                         f"picture of a digit.") from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f"{source}: the image is truncated or corrupt ({exc}). Save it again "
                         f"and re-upload.") from None
    if max(img.size) > 1024:
        img.thumbnail((1024, 1024))
    return rgba_to_gray(np.asarray(img.convert("RGBA")))


def png_size(data: bytes, source: str = "image") -> tuple[int, int]:
    """(width, height) read from a PNG's header (its IHDR chunk) without decoding anything.

    Raises ``ValueError`` when ``data`` is not a PNG.
    """
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        raise ValueError(f"{source}: not a PNG picture. Draw on the pad again.")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def drawing_bytes(value: object, source: str = "drawing") -> bytes:
    """The PNG bytes of a drawing pad's state (a ``data:image/png;base64,...`` text from the
    browser), checked before anything large is made: the text's length before decoding it, then
    the PNG header's width and height (at most :data:`MAX_DRAWING_SIDE` a side, and the uploads'
    :data:`MAX_PIXELS`). Raises ``ValueError`` saying what was wrong."""
    if not isinstance(value, str):
        raise ValueError(f"{source}: the pad sent no picture ({type(value).__name__}). Draw the "
                         f"digit again.")
    if len(value) > MAX_DRAWING_CHARS:
        raise ValueError(f"{source}: {len(value) / 1e6:.1f} MB of picture data is far more than "
                         f"the drawing pad makes (at most {MAX_DRAWING_BYTES // (1024 * 1024)} "
                         f"MB). Draw the digit again.")
    text = value.split(",", 1)[-1] if value.startswith("data:") else value
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{source}: the picture data is not base64. Draw the digit "
                         f"again.") from None
    if not data:
        raise ValueError(f"{source}: the picture is empty. Draw a digit on the pad first.")
    width, height = png_size(data, source)
    if not (0 < width <= MAX_DRAWING_SIDE and 0 < height <= MAX_DRAWING_SIDE
            and width * height <= MAX_PIXELS):
        raise ValueError(f"{source}: {width}x{height} pixels is not a drawing from the pad "
                         f"({PAD}x{PAD}; at most {MAX_DRAWING_SIDE}x{MAX_DRAWING_SIDE} is "
                         f"read). Draw the digit again.")
    return data


def drawing_to_mnist(value: object) -> np.ndarray:
    """A drawing pad's state (base64 PNG text) -> uint8 (28, 28), checked as
    :func:`drawing_bytes` says before decoding."""
    return image_bytes_to_mnist(drawing_bytes(value), "drawing")


def drawing_rgba(value: object, keep: int = PAD) -> np.ndarray:
    """A drawing pad's state (base64 PNG text) -> its RGBA pixels, at most ``keep`` pixels a
    side (what the session keeps of a drawing); checked as :func:`drawing_bytes` says."""
    data = drawing_bytes(value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if max(img.size) > MAX_DRAWING_SIDE:  # (checked above; the header is the file's)
                    raise ValueError(f"drawing: {img.size[0]}x{img.size[1]} pixels is too large.")
                img.load()
                if max(img.size) > keep:
                    img.thumbnail((keep, keep))
                return np.asarray(img.convert("RGBA"))
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder error of a browser's bytes
        raise ValueError(f"drawing: the picture is truncated or corrupt ({type(exc).__name__})."
                         f" Draw the digit again.") from None


def rgba_to_gray(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) or (H, W, 3) uint8 or (H, W) -> float grayscale in [0, 1] on white paper."""
    a = np.asarray(rgba)
    if a.ndim == 2:
        gray = a.astype(np.float64)
        return gray / 255.0 if a.dtype == np.uint8 or gray.max() > 1 else gray
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected a grayscale, RGB or RGBA image, got shape {a.shape}")
    rgb = a[..., :3].astype(np.float64) / 255.0
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    if a.shape[2] == 4:
        alpha = a[..., 3].astype(np.float64) / 255.0
        gray = gray * alpha + 1.0 * (1.0 - alpha)  # composite onto white paper
    return gray


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Grayscale in [0, 1] -> ink in [0, 1] (MNIST polarity: ink bright, background 0).

    The background is the median of the border: light paper means dark ink (inverted), a dark
    background means bright ink (kept). The background level is subtracted.
    """
    g = np.asarray(gray, dtype=np.float64)
    if g.ndim != 2 or g.size == 0:
        raise ValueError(f"expected a 2-D image, got shape {g.shape}")
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    background = float(np.median(border))
    ink = (background - g) if background >= 0.5 else (g - background)
    return np.clip(ink, 0.0, None)


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass of a non-negative image, in pixel-index coordinates."""
    a = np.asarray(img, dtype=np.float64)
    total = a.sum()
    if total <= 0:
        raise ValueError("the image is empty: no ink to centre")
    rows, cols = np.indices(a.shape)
    return float((rows * a).sum() / total), float((cols * a).sum() / total)


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(a)
    h, w = a.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = a[ys, xs]
    return out


def to_mnist(gray: np.ndarray, source: str = "image") -> np.ndarray:
    """Any grayscale digit picture (float [0, 1] or uint8) -> uint8 (28, 28) the MNIST way.

    Inverts dark-on-light, crops to the ink, fits it into 20x20 keeping the aspect ratio, puts it
    in a 28x28 frame and moves its centre of mass to the middle (14, 14).
    """
    g = np.asarray(gray)
    if g.dtype == np.uint8:
        g = g.astype(np.float64) / 255.0
    ink = ink_map(g)
    peak = float(ink.max())
    if peak < 0.1:
        what = "all one shade" if float(np.ptp(g)) < 0.1 else "too faint"
        raise ValueError(f"{source}: no digit found (the picture is {what}). Draw or upload a "
                         f"digit in dark ink on light paper, or light ink on dark.")
    ink = ink / peak
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    crop = np.where(crop > INK_THRESHOLD * 0.5, crop, 0.0)  # drop faint paper texture
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    pil = Image.fromarray((crop * 255).astype(np.uint8))
    small = np.asarray(pil.resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.float64)
    frame = np.zeros((FRAME, FRAME))
    top, left = (FRAME - nh) // 2, (FRAME - nw) // 2
    frame[top:top + nh, left:left + nw] = small
    cy, cx = centre_of_mass(frame)
    frame = _shift(frame, int(round(CENTRE - cy)), int(round(CENTRE - cx)))
    out = np.clip(frame / max(frame.max(), 1e-9) * 255.0, 0, 255)
    return out.round().astype(np.uint8)


def image_bytes_to_mnist(data: bytes, source: str = "image") -> np.ndarray:
    """An uploaded image file -> uint8 (28, 28) ready for the network."""
    return to_mnist(decode_image(data, source), source)


def canvas_to_mnist(rgba: np.ndarray | None) -> np.ndarray:
    """The RGBA array of a drawing canvas (dark strokes, transparent or white ground) -> 28x28."""
    if rgba is None:
        raise ValueError("the canvas is empty: draw a digit with the mouse first.")
    a = np.asarray(rgba)
    if (a.dtype == object or a.ndim not in (2, 3)
            or a.shape[0] * a.shape[1] > MAX_DRAWING_SIDE * MAX_DRAWING_SIDE):
        raise ValueError(f"the canvas holds an array of shape {a.shape}, not a drawing of at most "
                         f"{MAX_DRAWING_SIDE}x{MAX_DRAWING_SIDE} pixels: draw the digit again.")
    if a.ndim == 3 and a.shape[2] == 4 and not a[..., 3].any():
        raise ValueError("the canvas is empty: draw a digit with the mouse first.")
    return to_mnist(rgba_to_gray(a), "drawing")


def to_png(img: np.ndarray, size: int | None = None) -> bytes:
    """uint8 grayscale image -> PNG bytes (optionally upscaled with nearest neighbour)."""
    pil = Image.fromarray(np.asarray(img, dtype=np.uint8))
    if size:
        pil = pil.resize((size, size), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


__all__ = ["decode_image", "rgba_to_gray", "ink_map", "centre_of_mass", "to_mnist",
           "image_bytes_to_mnist", "canvas_to_mnist", "to_png", "png_size", "drawing_bytes",
           "drawing_to_mnist", "drawing_rgba"]
