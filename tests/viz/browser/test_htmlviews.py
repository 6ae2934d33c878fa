"""The HTML views (viz/browser/htmlviews.py): the numbers they show."""

from __future__ import annotations

import re

import numpy as np
import pytest

from model.architectures import get
from viz.browser import htmlviews
from viz.network.layers import describe


def test_probability_bars() -> None:
    probs = np.array([0.004, 0.9, 0.05, 0.046, 0, 0, 0, 0, 0, 0])
    html = htmlviews.probability_bars(probs, target=2)
    heights = [float(h) for h in re.findall(r"width:70%;height:([\d.]+)%", html)]
    assert heights == pytest.approx([0.4, 90.0, 5.0, 4.6, 0, 0, 0, 0, 0, 0])
    assert re.findall(r">(\d+%)<", html) == ["90%", "5%", "5%"]  # only bars of at least 1%
    colours = re.findall(r"background:(#[0-9a-f]{6})", html)
    assert colours[1] == htmlviews.BLUE and colours[2] == htmlviews.ORANGE
    assert colours.count(htmlviews.PALE) == 8
    assert "1: 90.0%" in html  # the screen-reader label carries every value
    with pytest.raises(ValueError, match="finite"):
        htmlviews.probability_bars(np.array([np.nan, 1.0]))


def test_layer_table() -> None:
    rows = describe(get("seed").layers())
    html = htmlviews.layer_table(rows, "relu5")
    body = html.split("<tbody>")[1]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in body.split("</tr>")[:-1]]
    assert len(cells) == len(rows)
    for row, tds in zip(rows, cells):
        assert tds[0] == row.name and tds[2] == "x".join(map(str, row.shape))
        assert tds[3] == (f"{row.r} (all)" if row.is_global else str(row.r))
        assert tds[6] == f"{row.params:,}" and tds[7] == f"{row.macs:,}"
    highlighted = re.findall(r"<tr style='background:#fde9cf[^>]*><td[^>]*>(\w+)<", html)
    assert highlighted == ["relu5"]


def test_layer_table_escapes_names() -> None:
    row = describe(get("seed").layers())[0]
    from dataclasses import replace
    html = htmlviews.layer_table([replace(row, name="<b>x</b>")])
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
