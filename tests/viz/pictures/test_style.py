"""The app's colours (viz/pictures/style.py): conversions, the overlay scale, the CSS filler."""

from __future__ import annotations

import pytest

from viz.pictures import style


def test_rgb_and_rgba_read_hex_colours() -> None:
    assert style.rgb(style.BLUE) == (59, 91, 146)
    assert style.rgb(style.ORANGE) == (216, 134, 42)
    assert style.rgba(style.ORANGE, 0.3) == "rgba(216,134,42,0.3)"
    assert style.rgba("#FFFFFF", 1) == "rgba(255,255,255,1)"
    with pytest.raises(ValueError, match="#rrggbb"):
        style.rgb("#888")


def test_overlay_scale_is_the_diverging_stops_with_a_clear_middle() -> None:
    assert style.OVERLAY_DIVERGING == [
        [0.0, "rgba(5,48,97,1)"], [0.25, "rgba(67,147,195,0.85)"],
        [0.5, "rgba(247,247,247,0)"], [0.75, "rgba(214,96,77,0.85)"],
        [1.0, "rgba(103,0,31,1)"]]
    assert style.YELLOW == style.CIVIDIS[-1] == "#fee838"


def test_css_fills_in_named_colours_and_refuses_unknown_ones() -> None:
    text = ".a { color: var(--cnn-blue); border: 1px solid var(--cnn-dark-orange); }"
    assert style.css(text) == ".a { color: #3b5b92; border: 1px solid #b35806; }"
    assert style.css(".b { color: var(--st-text-color, var(--cnn-text)); }") == (
        ".b { color: var(--st-text-color, #111111); }")
    assert style.css(".c { color: var(--other); }") == ".c { color: var(--other); }"
    with pytest.raises(ValueError, match="does not define: \\['purple'\\]"):
        style.css(".d { color: var(--cnn-purple); }")


# Deuteranopia (no green cones), simulated with Machado, Oliveira and Fernandes (2009), severity 1,
# on linear RGB; colours compared in CIELAB (a difference of about 10 is plain to see).
_DEUTERANOPIA = ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                 (-0.011820, 0.042940, 0.968881))


def _seen_by_deuteranope(colour: str) -> tuple[float, float, float]:
    import numpy as np
    c = np.array(style.rgb(colour)) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    seen = np.clip(np.array(_DEUTERANOPIA) @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ seen / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _difference(a: str, b: str) -> float:
    return sum((p - q) ** 2 for p, q in zip(_seen_by_deuteranope(a), _seen_by_deuteranope(b))) ** 0.5


def test_colour_scales_stay_readable_without_green_cones() -> None:
    # cividis: lightness climbs at every stop, so values read in order without hue
    light = [_seen_by_deuteranope(c)[0] for c in style.CIVIDIS]
    assert all(b - a > 5 for a, b in zip(light, light[1:])), light
    # RdBu reversed: both halves lighten towards the white middle, and a negative value never
    # looks like the positive value of the same size
    light = [_seen_by_deuteranope(c)[0] for c in style.RDBU_R]
    middle = len(light) // 2
    assert all(a < b for a, b in zip(light[:middle], light[1:middle + 1])), light
    assert all(a > b for a, b in zip(light[middle:], light[middle + 1:])), light
    pairs = list(zip(style.RDBU_R[:middle], style.RDBU_R[::-1][:middle]))
    assert min(_difference(a, b) for a, b in pairs) > 20


def test_line_colours_stay_apart_without_green_cones() -> None:
    import itertools
    assert len(style.CATEGORICAL) == len(style.MARKERS) == len(set(style.MARKERS))
    closest = min(_difference(a, b) for a, b in itertools.combinations(style.CATEGORICAL, 2))
    assert closest > 15, closest
    # the palette the trust curves had before: two of its colours merge for a deuteranope
    before = (style.BLUE, style.ORANGE, "#5b9f5b", style.DARK_ORANGE, "#7b5ea7", style.GREY,
              "#c2185b", "#222222")
    assert min(_difference(a, b) for a, b in itertools.combinations(before, 2)) < 10
