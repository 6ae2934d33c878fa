"""The app's colours, colour scales and overlay levels, each defined once (plain Python).

The figures, PNG pictures and browser panels read them here; the copies that cannot import
Python (the components' JavaScript and CSS, Streamlit's theme) are checked against them by tests.
The colour maps (cividis, RdBu reversed, Okabe and Ito's lines) are colour-blind safe.
"""

from __future__ import annotations

import re

BLUE = "#3b5b92"  # the app's accent (Streamlit's primaryColor): positive values, chosen buttons
ORANGE = "#d8862a"  # a picked unit: its outline, its field, the hatching; a highlighted choice
DARK_ORANGE = "#b35806"  # a wrong prediction; a unit's name in the panels' readouts
PALE_BLUE = "#c9d3e6"  # the raw loss of every step; the lens's probability bars
GREY = "#888888"  # reference lines (the image's size, its border in the charts)
GRID_GREY = "#eeeeee"  # a chart's grid lines
PAD_GREY = "#ececec"  # the zero padding drawn around the input
BORDER_GREY = "#969696"  # the input's border in the pictures
PANEL = "#f6f6f9"  # the background of a readout in the browser panels
TEXT = "#111111"  # the page's text colour (.streamlit/config.toml's textColor; the panels use the page's own when it has one)
CAPTION = "#555555"  # the browser panels' captions and labels

SEQUENTIAL = "cividis"  # plotly's name of the scale CIVIDIS copies
DIVERGING = "RdBu_r"  # plotly's name of the scale RDBU_R copies
CIVIDIS = ("#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8678", "#a59c74",
           "#c3b369", "#e1cc55", "#fee838")
RDBU_R = ("#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7",
          "#f4a582", "#d6604d", "#b2182b", "#67001f")
YELLOW = CIVIDIS[-1]  # the sensitivity overlay's colour (cividis' brightest)
# Lines of several methods in one chart: Okabe and Ito's eight colours, chosen to stay apart for
# every kind of colour-blindness (tests/viz/pictures/test_style.py simulates deuteranopia); the
# charts also give each line its own marker.
CATEGORICAL = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000",
               "#f0e442")
MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down")

LEVELS = 1000  # overlay levels sent to the browser per sign: finer than a canvas's 256 colours


def rgb(colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> ``(r, g, b)``, ints 0..255."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise ValueError(f"a colour here is written #rrggbb, not {colour!r}")
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def rgba(colour: str, alpha: float) -> str:
    """``"#rrggbb"`` and an opacity -> ``"rgba(r,g,b,alpha)"`` (as plotly writes it)."""
    r, g, b = rgb(colour)
    return f"rgba({r},{g},{b},{alpha:g})"


# For overlays: the diverging colours, fully transparent at 0 so the digit shows through.
OVERLAY_DIVERGING = [[0.0, rgba(RDBU_R[0], 1)], [0.25, rgba(RDBU_R[2], 0.85)],
                     [0.5, rgba(RDBU_R[5], 0)], [0.75, rgba(RDBU_R[8], 0.85)],
                     [1.0, rgba(RDBU_R[10], 1)]]
OVERLAY_SEQUENTIAL = [[0.0, "rgba(255,233,69,0)"], [0.15, "rgba(255,233,69,0.35)"],
                      [1.0, "rgba(255,233,69,1)"]]

CSS_COLOURS = {"blue": BLUE, "orange": ORANGE, "dark-orange": DARK_ORANGE, "pale-blue": PALE_BLUE,
               "panel": PANEL, "text": TEXT, "caption": CAPTION}  # what a stylesheet may name, as var(--cnn-NAME)
_CSS_NAME = re.compile(r"var\(--cnn-([a-z-]+)\)")


def css(text: str) -> str:
    """A component's stylesheet with every ``var(--cnn-NAME)`` replaced by the colour ``NAME``
    here (``var(--cnn-blue)`` -> :data:`BLUE`); an unknown name raises ValueError."""
    unknown = sorted(set(_CSS_NAME.findall(text)) - set(CSS_COLOURS))
    if unknown:
        raise ValueError(f"the stylesheet names colours viz/pictures/style.py does not define: {unknown}; "
                         f"known: {sorted(CSS_COLOURS)}")
    return _CSS_NAME.sub(lambda m: CSS_COLOURS[m.group(1)], text)
