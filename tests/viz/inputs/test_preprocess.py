"""MNIST-style preprocessing of uploads and drawings."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from viz.inputs import preprocess as pp


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


def _paper_with_bar(h: int = 200, w: int = 120) -> np.ndarray:
    """Dark ink (a thick off-centre bar) on white paper."""
    img = np.full((h, w), 255, np.uint8)
    img[20:150, 10:40] = 0
    return img


def test_centre_of_mass_lands_in_the_middle() -> None:
    out = pp.to_mnist(_paper_with_bar())
    cy, cx = pp.centre_of_mass(out.astype(float))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_dark_on_light_is_inverted_and_fits_20x20() -> None:
    out = pp.to_mnist(_paper_with_bar())
    assert out[0, 0] == 0 and out.max() == 255  # background black, ink white
    rows = np.flatnonzero(out.max(axis=1) > 0)
    cols = np.flatnonzero(out.max(axis=0) > 0)
    assert rows[-1] - rows[0] + 1 <= 21  # 20 px plus anti-aliasing
    assert cols[-1] - cols[0] + 1 <= 21
    assert rows[-1] - rows[0] + 1 >= 19  # the long side fills the 20x20 box


def test_light_on_dark_is_kept() -> None:
    img = 255 - _paper_with_bar()
    a, b = pp.to_mnist(img), pp.to_mnist(_paper_with_bar())
    assert np.array_equal(a, b)


def test_exact_on_a_single_pixel_square() -> None:
    img = np.zeros((28, 28), np.uint8)
    img[3:7, 3:7] = 255  # a 4x4 square in a corner
    out = pp.to_mnist(img)
    assert out.sum() > 0
    cy, cx = pp.centre_of_mass(out.astype(float))
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


@pytest.mark.parametrize("value", [0, 255, 128])
def test_blank_images_are_refused(value: int) -> None:
    with pytest.raises(ValueError, match="no digit found"):
        pp.image_bytes_to_mnist(_png(np.full((50, 50), value, np.uint8)), "blank.png")


def test_rgba_drawing_on_transparent_canvas() -> None:
    rgba = np.zeros((100, 100, 4), np.uint8)
    rgba[20:80, 45:55] = (0, 0, 0, 255)  # black stroke, transparent ground
    out = pp.canvas_to_mnist(rgba)
    assert out.max() == 255 and out[0, 0] == 0


def test_empty_canvas_is_refused() -> None:
    with pytest.raises(ValueError, match="canvas is empty"):
        pp.canvas_to_mnist(np.zeros((100, 100, 4), np.uint8))
    with pytest.raises(ValueError, match="canvas is empty"):
        pp.canvas_to_mnist(None)
    white = np.full((100, 100, 4), 255, np.uint8)
    with pytest.raises(ValueError, match="no digit"):
        pp.canvas_to_mnist(white)


def test_non_image_and_empty_files() -> None:
    with pytest.raises(ValueError, match="not an image"):
        pp.decode_image(b"hello, I am a text file" * 10, "notes.txt")
    with pytest.raises(ValueError, match="empty"):
        pp.decode_image(b"", "empty.png")


def test_truncated_png() -> None:
    data = _png(_paper_with_bar())
    with pytest.raises(ValueError, match="truncated|corrupt|not an image"):
        pp.decode_image(data[: len(data) // 2], "cut.png")


def _png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's signature)."""
    data = bytearray(_png(np.zeros((4, 4), np.uint8)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def test_huge_image_is_refused_before_decoding() -> None:
    with pytest.raises(ValueError, match="too large|not an image"):
        pp.decode_image(_png_header_claiming(60_000, 60_000), "huge.png")


def test_large_real_image_is_downscaled() -> None:
    img = np.full((2400, 1800), 255, np.uint8)
    img[300:2100, 700:1100] = 0
    out = pp.image_bytes_to_mnist(_png(img), "big.png")
    cy, cx = pp.centre_of_mass(out.astype(float))
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_too_many_bytes() -> None:
    with pytest.raises(ValueError, match="too big"):
        pp.decode_image(b"\0" * (pp.MAX_UPLOAD_BYTES + 1), "big.bin")


# ---------------------------------------------------------------------------------------------
# Drawings from the browser: bounded before decoding
# ---------------------------------------------------------------------------------------------

def _data_url(data: bytes) -> str:
    import base64
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _pad(side: int = pp.PAD) -> np.ndarray:
    """A pad drawing: dark strokes on a transparent ground, RGBA."""
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[side // 5: side * 4 // 5, side * 2 // 5: side // 2, 3] = 255
    return rgba


def test_a_pad_drawing_is_read_like_an_upload() -> None:
    data = _png(_pad(), "RGBA")
    assert pp.png_size(data) == (pp.PAD, pp.PAD)
    assert (pp.drawing_to_mnist(_data_url(data)) == pp.image_bytes_to_mnist(data)).all()
    rgba = pp.drawing_rgba(_data_url(data))
    assert rgba.shape == (pp.PAD, pp.PAD, 4) and (rgba == _pad()).all()


def test_a_larger_drawing_is_kept_at_the_pads_size() -> None:
    rgba = pp.drawing_rgba(_data_url(_png(_pad(pp.MAX_DRAWING_SIDE), "RGBA")))
    assert rgba.shape == (pp.PAD, pp.PAD, 4)
    assert rgba[..., 3].max() == 255 and rgba[0, 0, 3] == 0


@pytest.mark.parametrize("value,message", [
    (None, "no picture"),
    (12, "no picture"),
    ("A" * (pp.MAX_DRAWING_CHARS + 1), "far more than the drawing pad makes"),
    ("data:image/png;base64,!!!not base64!!!", "not base64"),
    ("data:image/png;base64,", "empty"),
    ("data:image/png;base64,aGVsbG8gd29ybGQ=", "not a PNG"),  # "hello world"
    ("GIF89a", "not base64"),
])
def test_bad_drawing_states_are_refused(value, message) -> None:
    for fn in (pp.drawing_bytes, pp.drawing_to_mnist, pp.drawing_rgba):
        with pytest.raises(ValueError, match=message):
            fn(value)


def test_a_jpeg_is_not_a_drawing() -> None:
    buf = io.BytesIO()
    Image.fromarray(_paper_with_bar()).save(buf, format="JPEG")
    with pytest.raises(ValueError, match="not a PNG"):
        pp.drawing_bytes(_data_url(buf.getvalue()))


@pytest.mark.parametrize("width,height", [(9000, 9000), (pp.MAX_DRAWING_SIDE + 1, 10),
                                          (10, 60_000), (0, 240), (2 ** 31, 2 ** 31)])
def test_huge_drawings_are_refused_from_the_header(width, height) -> None:
    value = _data_url(_png_header_claiming(width, height))
    for fn in (pp.drawing_bytes, pp.drawing_to_mnist, pp.drawing_rgba):
        with pytest.raises(ValueError, match=f"{width}x{height} pixels is not a drawing"):
            fn(value)


def test_a_real_9000_pixel_drawing_is_refused_before_decoding(monkeypatch) -> None:
    big = _png(np.full((9000, 9000), 255, np.uint8))  # compresses to ~80 kB
    assert len(big) < pp.MAX_DRAWING_BYTES

    def never(*args, **kwargs):
        raise AssertionError("decoded a drawing larger than the pad")

    monkeypatch.setattr(pp.Image, "open", never)
    with pytest.raises(ValueError, match="9000x9000 pixels"):
        pp.drawing_rgba(_data_url(big))


def test_a_corrupt_drawing_says_so() -> None:
    data = _png(_pad(), "RGBA")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        pp.drawing_rgba(_data_url(data[: len(data) // 2]))


@pytest.mark.parametrize("array", [np.zeros((5000, 5000), np.uint8), np.zeros(10, np.uint8),
                                   np.array(["x"], dtype=object)])
def test_canvas_arrays_that_are_not_drawings_are_refused(array) -> None:
    with pytest.raises(ValueError, match="not a drawing"):
        pp.canvas_to_mnist(array)
