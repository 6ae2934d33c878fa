"""The app's own stylesheet, injected on every page: readable from a phone (390 px) to a
projector (1920 px) without sideways scrolling, clipped text or cut controls.

Colours come from the theme (``.streamlit/config.toml``, whose ``textColor`` also sets the
captions' contrast) and from ``viz/pictures/style.py``; presenter mode adds
``viz/pictures/present.py`` on top. ``tests/app/browser/test_screens_browser.py`` walks every page
at four widths and checks the result. Streamlit-free.
"""

from __future__ import annotations

# The narrowest a column holding a control gets before its row wraps onto the next line, and a
# column holding a table (a layer table's nine columns), a chart or a data table (a confusion
# matrix whose four-digit counts fit their cells).
CONTROL_COLUMN_REM = 8.5
BUTTON_COLUMN_REM = 5  # a button's label wraps at spaces, but a word stays whole
TABLE_COLUMN_REM = 30
CHART_COLUMN_REM = 22
LAYER_COLUMN_REM = 19
RUN_COLUMN_REM = 27  # the Train page's run picker: a run's label ("20261207-133854-4e9074: ...")
LAB_TABLE_REM = 31  # the lab's per-layer table (under its "every layer" switch): eight columns whole
NUMBER_COLUMN_REM = 10  # a number input: its value and its - and + buttons
TEXT_COLUMN_REM = 16  # text under a heading (the tour's text beside its figure), a message
# A side panel beside a chart (a container keyed "side-...": the atlas's synthesized input and
# its caption); narrower, the row wraps and the panel goes under the chart.
SIDE_COLUMN_REM = 12

# Innermost columns, and any column, in selectors that weigh the same (see the CSS).
_INNER = "[data-testid=stColumn]:not(:has([data-testid=stColumn]))"
_ANY = "[data-testid=stColumn]:not(:has([data-cnn-none]))"

CSS = f"""
<style>
.block-container {{ padding-top: 3.5rem; padding-bottom: 1rem; }}
h1 {{ font-size: 1.8rem !important; padding-top: 0 !important; margin-bottom: 0 !important; }}
/* Labels of buttons, toggles and widgets wrap at spaces instead of ending in "..." */
button [data-testid=stMarkdownContainer] *, label [data-testid=stMarkdownContainer] *,
[data-testid=stWidgetLabel] [data-testid=stMarkdownContainer] * {{
  white-space: normal !important; text-overflow: clip !important; overflow: visible !important;
  overflow-wrap: break-word; }}
/* A dropdown shows its whole value (on two lines when the column is narrow) */
[data-baseweb=select] [value], [data-baseweb=select] div:has(> input[role=combobox]) > div {{
  white-space: normal !important; text-overflow: clip !important; overflow: visible !important; }}
/* The page links keep one line; the bar leaves room for its "more" button */
[data-testid=stTopNav] button [data-testid=stMarkdownContainer] * {{ white-space: nowrap !important; }}
[data-testid=stTopNav] {{ max-width: calc(100% - 1.5rem); }}
/* A row of columns too narrow for its controls, tables or charts wraps instead of squeezing
   them. Controls count in innermost columns only (an outer column's minimum would be its whole
   content). Every rule weighs the same, so the largest minimum, last, wins. */
{_INNER}:has([data-testid=stButton], [data-testid=stDownloadButton]) {{ min-width: min(100%, {BUTTON_COLUMN_REM}rem); }}
{_INNER}:has([data-testid=stWidgetLabel], [data-testid=stPopover]) {{ min-width: min(100%, {CONTROL_COLUMN_REM}rem); }}
{_ANY}:has([data-testid=stNumberInput]) {{ min-width: min(100%, {NUMBER_COLUMN_REM}rem); }}
{_INNER}:has([data-testid=stHeading]) {{ min-width: min(100%, {TEXT_COLUMN_REM}rem); }}
{_ANY}:has([data-testid=stAlert]) {{ min-width: min(100%, {TEXT_COLUMN_REM}rem); }}
{_ANY}:has([class*=st-key-side-]) {{ min-width: min(100%, {SIDE_COLUMN_REM}rem); }}
/* (the layer picker's value, "relu5 · 16x28x28 · layer 19 of 42", is an input: it cannot wrap) */
{_INNER}:has(.st-key-layer-name) {{ min-width: min(100%, {LAYER_COLUMN_REM}rem); }}
{_ANY}:has([data-testid=stPlotlyChart], [data-testid=stDataFrame]) {{ min-width: min(100%, {CHART_COLUMN_REM}rem); }}
{_ANY}:has([data-testid=stMarkdownContainer] table) {{ min-width: min(100%, {TABLE_COLUMN_REM}rem); }}
{_INNER}:has(.st-key-train-run) {{ min-width: min(100%, {RUN_COLUMN_REM}rem); }}
{_ANY}:has(.st-key-lab-every) {{ min-width: min(100%, {LAB_TABLE_REM}rem); }}
/* Tables that must scroll do it inside themselves, reachable by keyboard */
[data-testid=stMarkdownContainer] table {{ font-variant-numeric: tabular-nums; }}
@media (max-width: 640px) {{
  h1 {{ font-size: 1.45rem !important; }}
  .block-container {{ padding-left: 0.75rem; padding-right: 0.75rem; }}
}}
</style>
"""


def css() -> str:
    """The stylesheet every page gets (``st.markdown(..., unsafe_allow_html=True)``)."""
    return CSS
