"""The app's receptive-field layer on top of the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.insight.activations import as_input, has_hooks
from model.insight.erf import effective_field
from model.zoo import build
from viz.teaching import fields


@pytest.fixture(scope="module")
def seed():
    torch.manual_seed(0)
    return build("seed").eval()


def test_table_numbers(seed) -> None:
    table = fields.field_table(seed.layer_config)
    assert [r.name for r in table] == [n for n, _ in seed.named_children()]
    conv1, relu5 = fields.row_for(table, "conv1"), fields.row_for(table, "relu5")
    assert (conv1.r, conv1.stride, conv1.padding, conv1.shape) == (3, 1, 1, (8, 28, 28))
    assert (relu5.r, relu5.stride, relu5.padding) == (11, 1, 5)
    pool = fields.row_for(table, "pool")
    assert (pool.r, pool.stride, pool.shape) == (12, 2, (8, 14, 14))
    assert conv1.params == 72 and conv1.macs == 72 * 28 * 28
    assert fields.row_for(table, "flatten").is_global


def test_region_and_padding(seed) -> None:
    row = fields.row_for(fields.field_table(seed.layer_config), "relu5")
    corner = fields.unit_region(row, 0, 0)
    assert (corner.y0, corner.y1, corner.x0, corner.x1) == (-5, 5, -5, 5)
    assert corner.clipped == (0, 5, 0, 5)
    assert corner.padding_fraction == pytest.approx(1 - 36 / 121)
    centre = fields.unit_region(row, 14, 14)
    assert (centre.y0, centre.y1) == (9, 19) and centre.padding_fraction == 0
    with pytest.raises(ValueError, match="outside"):
        fields.unit_region(row, 28, 0)


def test_effective_field_lies_inside_the_region(seed) -> None:
    table = fields.field_table(seed.layer_config)
    row = fields.row_for(table, "relu3")
    x = as_input(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8))
    erf = effective_field(seed, "relu3", (1, 10, 12), x)
    region = fields.unit_region(row, 10, 12)
    y0, y1, x0, x1 = region.clipped
    outside = erf.copy()
    outside[y0:y1 + 1, x0:x1 + 1] = 0
    assert outside.max() == 0
    assert not has_hooks(seed) and not seed.training
    text = fields.describe(row, region, erf)
    assert text.startswith("This unit can only see 7x7 pixels")


def test_describe_whole_image(seed) -> None:
    table = fields.field_table(seed.layer_config)
    row = fields.row_for(table, "flatten")
    assert "whole 28x28 image" in fields.describe(row, fields.unit_region(row, 0, 0))


def test_table_csv(seed) -> None:
    import csv
    import io

    table = fields.field_table(seed.layer_config)
    rows = list(csv.DictReader(io.StringIO(fields.table_csv(table))))
    assert list(rows[0]) == list(fields.CSV_COLUMNS)
    assert len(rows) == len(table)
    assert rows[0] == {"layer": "conv1", "type": "conv", "output": "8x28x28",
                       "receptive_field": "3", "effective_stride": "1", "effective_padding": "1",
                       "sees_whole_input": "no", "params": "72", "macs": str(72 * 28 * 28)}
    pool = next(r for r in rows if r["layer"] == "pool")
    assert (pool["receptive_field"], pool["effective_stride"], pool["output"]) == ("12", "2",
                                                                                   "8x14x14")
    head = next(r for r in rows if r["layer"] == "head")
    assert head["output"] == "10x1x1" and head["receptive_field"] == "54"
    assert rows[-1]["sees_whole_input"] == "yes"


def test_clamp_unit() -> None:
    from model.architectures import get
    from viz.network.layers import describe
    table = describe(get("seed").layers())
    relu5 = fields.row_for(table, "relu5")  # 16x28x28
    assert fields.clamp_unit(relu5, 3, 5, 7) == (3, 5, 7)
    assert fields.clamp_unit(relu5, -1, -4, 99) == (0, 0, 27)
    assert fields.clamp_unit(relu5, 16, 28, 28) == (15, 27, 27)
    flat = next(r for r in table if len(r.shape) == 1)  # a vector: one row and column
    assert fields.clamp_unit(flat, flat.shape[0] + 5, 3, 3) == (flat.shape[0] - 1, 0, 0)
