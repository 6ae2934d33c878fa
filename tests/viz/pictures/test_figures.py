"""Figures: light, labelled, colour-blind-safe scales."""

from __future__ import annotations

import numpy as np

from viz.pictures import figures
from viz.receptive_field import Region


def test_feature_grid_one_trace_per_map_with_hover() -> None:
    maps = np.random.default_rng(0).random((10, 28, 28)).astype(np.float32)
    fig = figures.feature_grid(maps, first_channel=16)
    assert len(fig.data) == 10
    assert "channel 16" in fig.data[0].hovertemplate
    assert fig.data[0].colorscale is not None
    shared = figures.feature_grid(maps, per_map=False)
    assert shared.layout.coloraxis.colorscale is not None
    assert len(fig.to_json()) < 150_000  # small enough to send on every rerun


def test_digit_with_region_in_padding() -> None:
    img = np.zeros((28, 28), np.uint8)
    fig = figures.digit(img, region=Region.box(-5, 5, -5, 5))
    assert len(fig.layout.shapes) == 3
    assert fig.layout.xaxis.range[0] < -5  # the padding part is on screen


def test_symmetric_limit() -> None:
    assert figures.symmetric_limit(np.array([-2.0, 1.0])) > 1.9
    assert figures.symmetric_limit(np.zeros(4)) == 1.0


def test_describe_says_what_a_chart_shows() -> None:
    from viz.pictures import atlasfigs
    curves = {"Saliency": np.linspace(1, 0, 5), "random order": np.linspace(1, 0.5, 5)}
    fig = atlasfigs.curves_figure(curves, "Deletion: probability as pixels are removed")
    assert figures.describe(fig) == (
        "Chart: Deletion: probability as pixels are removed; probability of the class against "
        "share of pixels removed; lines: Saliency, random order")
    m = np.diag([980, 1133, 1030, 1008, 979, 888, 946, 1021, 968, 1002])
    m[4, 9] = 3
    m[7, 2] = 2
    assert figures.describe(atlasfigs.confusion_figure(m)) == (
        "Confusion matrix of 9,960 test digits, rows the true class, columns the prediction: "
        "9,955 on the diagonal (right); the most frequent mistake: 3 digit(s) of class 4 read "
        "as 9.")
    # four-digit counts in smaller type (a phone's cells are about 30 px); the axes span the
    # cells and no more
    fig = atlasfigs.confusion_figure(m)
    assert fig.data[0].textfont.size == 12
    assert list(fig.layout.xaxis.range) == [-0.5, 9.5]
    assert list(fig.layout.yaxis.range) == [9.5, -0.5]
    assert atlasfigs.confusion_figure(np.eye(10, dtype=int) * 999).data[0].textfont.size == 14
    assert figures.describe(figures.with_alt(figures.warmup(), "x" * 400)) == "x" * 300
    assert figures.describe(figures.warmup()) == "Chart"


def test_presenter_mode_enlarges_every_text_of_a_figure() -> None:
    from viz.pictures import atlasfigs, present
    fig = present.scale_figure(atlasfigs.curves_figure({"a": np.ones(3)}, "Title"))
    assert fig.layout.title.font.size == 20.3 and fig.layout.legend.font.size == 18.8
    assert fig.layout.xaxis.tickfont.size == 17.4 and fig.layout.font.size == 18.8
    growth = present.scale_figure(figures.field_growth([], None))
    assert growth.layout.yaxis.title.font.size >= present.MIN_CHART_FONT  # "input pixels"
    fig = present.scale_figure(atlasfigs.confusion_figure(np.eye(10, dtype=int)))
    assert fig.data[0].textfont.size == 20.3  # the counts in the cells (14 px normally)
    small = figures.warmup()
    small.add_annotation(text="note", font_size=8)
    assert present.scale_figure(small).layout.annotations[0].font.size == present.MIN_CHART_FONT
