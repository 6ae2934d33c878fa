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
        ".b { color: var(--st-text-color, #262730); }")
    assert style.css(".c { color: var(--other); }") == ".c { color: var(--other); }"
    with pytest.raises(ValueError, match="does not define: \\['purple'\\]"):
        style.css(".d { color: var(--cnn-purple); }")
