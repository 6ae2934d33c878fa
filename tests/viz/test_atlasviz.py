"""Atlas data, patches, grids and the confusion matrix: torch-free, values checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from viz.pictures import atlasfigs
from viz.teaching import atlasdata, confusion

ROOT = Path(__file__).resolve().parents[2]


def _atlas() -> atlasdata.Atlas:
    la = atlasdata.LayerAtlas(
        name="conv1", index=np.array([[5, 2], [2, 7]]), value=np.array([[3.0, 1.0], [2.0, 0.5]]),
        unit=np.array([[[0, 0], [3, 4]], [[1, 1], [2, 2]]]),
        region=np.array([[[-1, 1, -1, 1], [2, 4, 3, 5]], [[0, 2, 0, 2], [1, 3, 1, 3]]]),
        dataset_max=np.array([3.0, 2.0]))
    digits = {i: np.full((28, 28), i, np.uint8) for i in (2, 5, 7)}
    return atlasdata.Atlas("f" * 64, {"conv1": la}, digits)


def test_atlas_round_trips_through_its_compact_file(tmp_path) -> None:
    a = _atlas()
    path = tmp_path / "a.npz"
    np.savez_compressed(path, **atlasdata.to_arrays(a, compact=True))
    b = atlasdata.load(path)
    assert b.sha256 == a.sha256 and list(b.layers) == ["conv1"]
    assert b.layer("conv1").top(0) == [
        {"index": 5, "value": 3.0, "unit": [0, 0], "region": [-1, 1, -1, 1]},
        {"index": 2, "value": 1.0, "unit": [3, 4], "region": [2, 4, 3, 5]}]
    assert b.used_indices().tolist() == [2, 5, 7]
    assert b.image(7)[0, 0] == 7
    with pytest.raises(ValueError, match="MNIST"):
        b.image(3)
    with pytest.raises(ValueError, match="channels 0..1"):
        b.layer("conv1").top(2)


def test_patch_is_the_exact_field_with_the_padding_hatched() -> None:
    img = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    inside = atlasfigs.patch_rgb(img, (2, 4, 3, 5), scale=1)
    assert inside.shape == (3, 3, 3)
    assert inside[..., 0].tolist() == img[2:5, 3:6].tolist()
    corner = atlasfigs.patch_rgb(img, (-1, 1, -1, 1), scale=4)  # one row and column of padding
    assert corner.shape == (12, 12, 3)
    assert corner[4:, 4:, 0].tolist() == np.kron(img[0:2, 0:2], np.ones((4, 4))).tolist()
    pad = corner[:4].reshape(-1, 3)
    colours = {tuple(c) for c in pad}
    assert colours == {tuple(atlasfigs.PAD_GREY.astype(int)), tuple(atlasfigs.ORANGE.astype(int))}


def test_grid_has_one_clickable_marker_and_label_per_tile() -> None:
    tiles = [[np.zeros((8, 8, 3), np.uint8)] * 3, [np.full((8, 8, 3), 255, np.uint8)] * 3]
    fig = atlasfigs.grid(tiles, [["a", "b", "c"], ["d", "e", "f"]])
    scatter = fig.data[1]
    assert [list(c) for c in scatter.customdata] == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1],
                                                     [1, 2]]
    assert [a.text for a in fig.layout.annotations] == list("abcdef")
    with pytest.raises(ValueError, match="same size"):
        atlasfigs.grid([[np.zeros((8, 8, 3)), np.zeros((9, 9, 3))]], [["a", "b"]])


def test_grid_picture_is_a_png_of_the_tiles_in_their_cells() -> None:
    import base64
    import io

    from PIL import Image
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200
    tiles = [[np.zeros((8, 8, 3), np.uint8), red], [np.full((8, 8, 3), 255, np.uint8), red]]
    fig = atlasfigs.grid(tiles, [["a", "b"], ["c", "d"]], gap=6, label_height=18)
    uri = fig.data[0].source
    assert uri.startswith("data:image/png;base64,") and fig.data[0].z is None
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    cell_h, cell_w = 8 + 18 + 6, 8 + 6
    assert png.shape == (2 * cell_h, 2 * cell_w, 3)
    assert png[0:8, 0:8].tolist() == tiles[0][0].tolist()
    assert png[0:8, cell_w:cell_w + 8].tolist() == red.tolist()
    assert png[cell_h:cell_h + 8, 0:8].tolist() == tiles[1][0].tolist()
    assert png[8:cell_h].tolist() == np.full((cell_h - 8, 2 * cell_w, 3), 255).tolist()  # gaps
    # the markers a click lands on sit at the tiles' centres
    assert list(fig.data[1].x) == [4, cell_w + 4, 4, cell_w + 4]
    assert list(fig.data[1].y) == [4, 4, cell_h + 4, cell_h + 4]


def test_confusion_counts_cells_and_per_class_accuracy() -> None:
    labels = np.array([4, 4, 4, 9, 9, 1])
    preds = np.array([4, 9, 9, 9, 4, 1])
    m = confusion.confusion(labels, preds)
    assert m[4, 9] == 2 and m[4, 4] == 1 and m[9, 4] == 1 and m.sum() == 6
    acc = confusion.per_class_accuracy(m)
    assert acc[4] == pytest.approx(1 / 3) and acc[1] == 1.0 and np.isnan(acc[0])
    assert confusion.cell(labels, preds, 4, 9).tolist() == [1, 2]
    fig = atlasfigs.confusion_figure(m, selected=(4, 9))
    overlay = fig.data[1]
    assert len(overlay.customdata) == 100
    assert list(overlay.customdata[4 * 10 + 9]) == [4, 9] and overlay.text[49] == "2"


def test_viz_modules_import_without_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None; "
            "import viz.teaching.atlasdata, viz.pictures.atlasfigs, viz.teaching.confusion; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(ROOT))
    assert out.stdout.strip() == "ok", out.stderr
