"""Presenter mode: large type, high contrast, no clutter, for a projector at the front of a room.

``css()`` is injected into the page; ``scale_figure`` enlarges a plotly figure's text in place.
Streamlit-free.
"""

from __future__ import annotations

from typing import Any

FONT_SCALE = 1.45

CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
[data-testid="stAppViewContainer"], [data-testid="stSidebar"] { color: #000; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.15rem; }
[data-testid="stCaptionContainer"] { font-size: 1.0rem !important; color: #111 !important; }
[data-testid="stWidgetLabel"] p { font-size: 1.05rem !important; font-weight: 600; }
h1 { font-size: 2.6rem !important; } h2 { font-size: 2.0rem !important; }
h3 { font-size: 1.6rem !important; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * { font-size: 2.6rem !important; line-height: 1.2 !important; }
[data-testid="stMetricLabel"] p { font-size: 1.0rem !important; }
[data-baseweb="select"] div, [data-testid="stNumberInputField"] { font-size: 1.1rem !important; }
[data-testid="stMainMenu"], [data-testid="stAppDeployButton"], [data-testid="stDecoration"],
footer, [data-testid="stElementToolbar"], .modebar-container { display: none !important; }
[data-testid="stNavSectionHeader"], [data-testid="stTopNavLinkContainer"] span { font-size: 1.1rem; }
[data-testid="stWidgetLabel"] [data-testid="stTooltipIcon"], [data-testid="stMetricLabel"] [data-testid="stTooltipIcon"] { display: none !important; }
</style>
"""


def css() -> str:
    """The stylesheet that turns presenter mode on."""
    return CSS


def _scaled(size: Any, default: float) -> float:
    return round((size if isinstance(size, (int, float)) else default) * FONT_SCALE, 1)


def scale_figure(fig: Any) -> Any:
    """Enlarge every text of a plotly figure (layout font, axis titles and ticks, annotations)."""
    base = fig.layout.font.size
    fig.update_layout(font_size=_scaled(base, 12), font_color="#000")
    for ann in fig.layout.annotations or ():
        ann.font.size = _scaled(ann.font.size or base, 12)
    fig.update_xaxes(tickfont_size=_scaled(None, 12))
    fig.update_yaxes(tickfont_size=_scaled(None, 12))
    return fig
