"""Presenter mode: large type, high contrast, no clutter, for a projector at the front of a room.

``css()`` is injected into the page; ``scale_figure`` enlarges a plotly figure's text in place.
Streamlit-free.
"""

from __future__ import annotations

from typing import Any

FONT_SCALE = 1.45

CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 20px; }
[data-testid="stAppViewContainer"], [data-testid="stSidebar"] { color: #000; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.15rem; }
[data-testid="stCaptionContainer"] { font-size: 1.0rem !important; color: #111 !important; }
[data-testid="stWidgetLabel"] p { font-size: 1.05rem !important; font-weight: 600; }
h1 { font-size: 2.6rem !important; } h2 { font-size: 2.0rem !important; }
h3 { font-size: 1.6rem !important; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * { font-size: 2.6rem !important; line-height: 1.2 !important; }
[data-testid="stMetricLabel"] p { font-size: 1.0rem !important; }
[data-testid="stSelectbox"] input, [data-testid="stMultiSelect"] input,
[data-testid="stTextInput"] input, [data-testid="stNumberInputField"],
[data-testid="stSelectbox"] [role="combobox"] { font-size: 1.1rem !important; }
button [data-testid="stMarkdownContainer"] *, [data-testid="stPopover"] button *,
[data-testid="stMultiSelectTagsContainer"] span, [data-testid="stMarkdownContainer"] code {
  font-size: 1rem !important; }
/* The pictures in the first screen: no page title (the page links say where we are), less
   room above the page */
[data-testid="stMainBlockContainer"] h1 { display: none; }
.block-container { padding-top: 3rem !important; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.5rem; }
.block-container { padding-left: 2.5rem !important; padding-right: 2.5rem !important; }
/* The explorer's header in one short row: the bars lower, their explanations left to the
   teacher (the input and the prediction stay) */
[data-testid="stHorizontalBlock"]:has([aria-label^="Class probabilities"]) [data-testid="stCaptionContainer"] {
  display: none; }
[aria-label^="Class probabilities"] { height: 110px !important; }
[aria-label^="Class probabilities"] div { font-size: 1rem !important; }
[data-testid="stMainMenu"], [data-testid="stAppDeployButton"], [data-testid="stDecoration"],
footer, [data-testid="stElementToolbar"], .modebar-container { display: none !important; }
[data-testid="stNavSectionHeader"], [data-testid="stTopNavLinkContainer"] span { font-size: 1.1rem; }
[data-testid="stWidgetLabel"] [data-testid="stTooltipIcon"], [data-testid="stMetricLabel"] [data-testid="stTooltipIcon"] { display: none !important; }
</style>
"""


def css() -> str:
    """The stylesheet that turns presenter mode on."""
    return CSS


MIN_CHART_FONT = 16  # px: the smallest text of a chart on a projector


def _scaled(size: Any, default: float) -> float:
    return max(MIN_CHART_FONT,
               round((size if isinstance(size, (int, float)) else default) * FONT_SCALE, 1))


def scale_figure(fig: Any) -> Any:
    """Enlarge every text of a plotly figure (layout font, title, legend, axis titles and ticks,
    annotations, the numbers written in cells)."""
    base = fig.layout.font.size
    fig.update_layout(font_size=_scaled(base, 12), font_color="#000")
    if fig.layout.title.text:
        fig.update_layout(title_font_size=_scaled(fig.layout.title.font.size or base, 14))
    # (always: Streamlit's chart theme sets its own legend size where the figure sets none)
    fig.update_layout(legend_font_size=_scaled(fig.layout.legend.font.size or base, 12))
    for ann in fig.layout.annotations or ():
        ann.font.size = _scaled(ann.font.size or base, 12)
    for trace in fig.data:
        if getattr(trace, "texttemplate", None) or getattr(trace, "text", None) is not None:
            font = getattr(trace, "textfont", None)
            if font is not None:
                font.size = _scaled(font.size or base, 12)
    fig.update_xaxes(tickfont_size=_scaled(None, 12))
    fig.update_yaxes(tickfont_size=_scaled(None, 12))
    # axis titles too (where a figure sets none, Streamlit's chart theme would set its own 14 px)
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        axis.title.font.size = _scaled(axis.title.font.size or base, 14)
    return fig
