"""The channel atlas: top digits, units and fields checked against a direct computation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model import atlas as atlas_mod
from model.files.checkpoint import load_checkpoint, shipped_checkpoints
from model.insight.activations import activations, as_input, has_hooks
from viz.teaching import atlasdata


def _model(name: str = "compact"):
    return load_checkpoint(f"checkpoints/{name}.safetensors")[0]


def _digits(n: int = 40) -> np.ndarray:
    from model.data import load_samples
    return load_samples()[0][:n]


def test_atlas_layers_are_the_conv_relu_and_pool_layers() -> None:
    assert atlas_mod.atlas_layers(_model("fast")) == ["conv1", "relu1", "pool1", "conv2",
                                                     "relu2", "pool2"]
    names = atlas_mod.atlas_layers(_model("compact"))
    assert names[:2] == ["conv1", "relu1"] and "gap" in names and "bn1" not in names


def test_atlas_layers_take_every_activation_and_pooling_type() -> None:
    from model.zoo import build_from_config
    layers = [{"name": "conv1", "type": "conv", "in": 1, "out": 4, "kernel": 3, "groups": 1},
              {"name": "tanh1", "type": "tanh"},
              {"name": "pool1", "type": "avgpool", "kernel": 2, "padding": 1,
               "count_include_pad": False},
              {"name": "conv2", "type": "conv", "in": 4, "out": 4, "kernel": 3, "groups": 4},
              {"name": "sigmoid1", "type": "sigmoid"},
              {"name": "leaky1", "type": "leakyrelu", "negative_slope": 0.1},
              {"name": "gmp", "type": "gmp"},
              {"name": "flatten", "type": "flatten"},
              {"name": "fc", "type": "linear", "in": 4, "out": 10}]
    assert atlas_mod.atlas_layers(build_from_config("case", layers)) == [
        "conv1", "tanh1", "pool1", "conv2", "sigmoid1", "leaky1", "gmp"]
    # a dense-only network has no feature maps: no atlas layer
    mlp = [{"name": "flatten", "type": "flatten"},
           {"name": "fc1", "type": "linear", "in": 784, "out": 16},
           {"name": "relu1", "type": "relu"}, {"name": "fc2", "type": "linear", "in": 16, "out": 10}]
    assert atlas_mod.atlas_layers(build_from_config("mlp-case", mlp)) == []


def test_top_digits_match_a_direct_per_image_computation() -> None:
    model, digits = _model(), _digits()
    result = atlas_mod.compute_atlas(model, digits, sha256="abc")
    assert not has_hooks(model)  # the shared model never carries a hook
    la = result.layer("relu5")
    acts = np.stack([activations(model, as_input(d))["relu5"] for d in digits])  # (N, C, H, W)
    peaks = acts.reshape(len(digits), acts.shape[1], -1).max(axis=2)  # (N, C)
    for c in range(la.channels):
        expected = np.argsort(-peaks[:, c], kind="stable")[:9]
        assert la.index[c].tolist() == expected.tolist()
        assert la.value[c] == pytest.approx(peaks[expected, c], rel=1e-5, abs=1e-6)
        assert la.dataset_max[c] == pytest.approx(peaks[:, c].max(), rel=1e-5)
        for k in range(9):  # the unit is where the channel peaks for that digit
            y, x = la.unit[c, k]
            assert acts[la.index[c, k], c, y, x] == pytest.approx(la.value[c, k], rel=1e-5)
    assert np.all(np.diff(la.value, axis=1) <= 0)  # ordered by value


def test_regions_are_the_engine_fields_before_clipping() -> None:
    model = _model("compact")
    result = atlas_mod.compute_atlas(model, _digits(20))
    # compact: relu5 is after three valid 3x3 convs, a 1x1 and a 2x2 pool, then a 3x3: r = 12,
    # S = 2; unit (y, x) sees rows 2y .. 2y + 11
    la = result.layer("relu5")
    for c in range(la.channels):
        for k in range(9):
            y, x = la.unit[c, k]
            assert la.region[c, k].tolist() == [2 * y, 2 * y + 11, 2 * x, 2 * x + 11]
    # seed pads: conv1's unit (0, 0) sees rows -1..1 (one row of padding)
    seed = atlas_mod.compute_atlas(_model("seed"), _digits(12), layers=["conv1"])
    regions = seed.layer("conv1").region
    units = seed.layer("conv1").unit
    assert np.all(regions[..., 1] - regions[..., 0] == 2)
    assert np.all(regions[..., 0] == units[..., 0] - 1)


def test_cache_is_keyed_by_content_and_written_atomically(tmp_path) -> None:
    src = tmp_path / "net.safetensors"
    src.write_bytes(Path("checkpoints/compact.safetensors").read_bytes())
    digits = torch.from_numpy(_digits(20))
    first = atlas_mod.get_atlas(src, test_images=digits, cache_dir=tmp_path / "cache")
    path = atlas_mod.cache_path(atlas_mod.file_sha256(src), tmp_path / "cache")
    assert path.is_file() and not list((tmp_path / "cache").glob("*.part"))
    copy = tmp_path / "renamed.safetensors"
    copy.write_bytes(src.read_bytes())  # same bytes, another name: the same atlas, no compute
    again = atlas_mod.get_atlas(copy, test_images=torch.zeros(0, 28, 28, dtype=torch.uint8),
                                cache_dir=tmp_path / "cache")
    assert again.sha256 == first.sha256
    assert np.array_equal(again.layer("relu1").index, first.layer("relu1").index)


def test_shipped_atlases_are_small_and_carry_their_digits() -> None:
    total = 0
    for name, path in shipped_checkpoints().items():
        shipped = atlas_mod.shipped_path(path)
        assert shipped.is_file(), f"{name} ships no atlas"
        total += shipped.stat().st_size
        a = atlasdata.load(shipped)
        assert a.sha256 == atlas_mod.file_sha256(path), f"{name}'s atlas is out of date"
        assert set(a.layers) == set(atlas_mod.atlas_layers(load_checkpoint(path)[0]))
        assert set(a.used_indices().tolist()) == set(a.digits)
    assert total < 3_000_000  # seed-original's 22 layers of up to 512 channels: 1.1 MB of it


def test_shipped_atlas_matches_the_test_set(mnist_dir) -> None:
    from model.data import load_mnist
    images = load_mnist(mnist_dir, download=False).test_images
    fresh = atlas_mod.compute_atlas(_model("fast"), images, layers=["relu2"])
    shipped = atlasdata.load(atlas_mod.shipped_path("checkpoints/fast.safetensors"))
    assert np.array_equal(fresh.layer("relu2").index, shipped.layer("relu2").index)
    for i, img in shipped.digits.items():
        assert np.array_equal(img, images[i].numpy())


def test_cli_prints_one_record_per_channel_with_the_named_fields(capsys) -> None:
    assert atlas_mod.main(["checkpoints/fast.safetensors", "--layer", "pool2",
                           "--channels", "1", "4"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["channel"] for r in records] == [1, 4]
    for r in records:
        assert set(r) == {"layer", "channel", "top", "synthesized_value", "dataset_max"}
        assert r["layer"] == "pool2" and len(r["top"]) == 9
        assert set(r["top"][0]) == {"index", "value", "unit", "region"}
        assert r["top"][0]["value"] == pytest.approx(r["dataset_max"], rel=1e-3)
        values = [t["value"] for t in r["top"]]
        assert values == sorted(values, reverse=True)
        # pool2 of fast: r = 5 + 1 + 2*2 + 2 = 12, S = 4, no padding
        y, x = r["top"][0]["unit"]
        assert r["top"][0]["region"] == [4 * y, 4 * y + 11, 4 * x, 4 * x + 11]


def test_cli_refuses_an_unknown_layer_or_channel(capsys) -> None:
    assert atlas_mod.main(["checkpoints/fast.safetensors", "--layer", "fc"]) == 2
    assert "no atlas" in capsys.readouterr().err
    assert atlas_mod.main(["checkpoints/fast.safetensors", "--layer", "relu1",
                           "--channels", "99"]) == 2
    assert "channels 0..23" in capsys.readouterr().err


def test_atlas_in_small_batches_is_the_one_batch_atlas() -> None:
    from model.insight.activations import batch_images
    model, images = _model("fast"), _digits(40)
    assert batch_images(model, keep=True, budget=1_000_000) == 6  # 7 passes, the last of 4
    seen: list[int] = []
    whole = atlas_mod.compute_atlas(model, images, batch_bytes=10 ** 12,
                                    progress=lambda i, n, _: seen.append(i))
    assert seen == [40]
    seen.clear()
    cut = atlas_mod.compute_atlas(model, images, batch_bytes=1_000_000,
                                  progress=lambda i, n, _: seen.append(i))
    assert seen == [6, 12, 18, 24, 30, 36, 40]
    for name, layer in whole.layers.items():
        other = cut.layer(name)
        assert np.array_equal(layer.index, other.index)
        assert np.array_equal(layer.unit, other.unit)
        np.testing.assert_allclose(other.value, layer.value, rtol=1e-6)
        np.testing.assert_allclose(other.dataset_max, layer.dataset_max, rtol=1e-6)
