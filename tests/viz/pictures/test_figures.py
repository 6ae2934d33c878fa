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
