"""Feature visualization: the synthesized input excites its channel at least as much as the best
test digit (the shipped atlas's dataset maximum, or MNIST's when present)."""

from __future__ import annotations

import numpy as np
import pytest

from model.atlas import shipped_path
from model.files.checkpoint import load_checkpoint
from model.insight import featvis
from model.insight.activations import has_hooks
from viz.teaching import atlasdata

# For each shipped model: its first pooling layer and its last ReLU with a map, four channels
# each. (Over every channel of every layer the rate is in bench/results/atlas_speed.json: a few
# weak channels of seed's 28x28 layers end below their best digit.)
CASES = {"seed": ["pool", "relu10"], "seed-3x3": ["pool", "relu16"],
         "compact": ["pool", "relu7"], "fast": ["pool1", "relu2"]}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_synthesized_input_beats_the_best_test_digit(name: str) -> None:
    model, _ = load_checkpoint(f"checkpoints/{name}.safetensors")
    atlas = atlasdata.load(shipped_path(f"checkpoints/{name}.safetensors"))
    for layer in CASES[name]:
        channels = [0, 1, 2, 3]
        synth = featvis.synthesize(model, layer, channels)
        best = atlas.layer(layer).dataset_max[channels]
        assert synth.images.dtype == np.uint8 and synth.images.shape == (4, 28, 28)
        # float16 storage of the shipped maximum: allow its rounding (1e-3 relative)
        assert np.all(synth.values >= best - 1e-3 * np.abs(best) - 1e-4), (
            f"{name} {layer}: synthesized {synth.values} < best test digit {best}")
    assert not has_hooks(model)


def test_pixels_stay_in_range_and_the_value_is_the_real_activation() -> None:
    import torch

    from model.insight.activations import forward_to
    model, _ = load_checkpoint("checkpoints/compact.safetensors")
    synth = featvis.synthesize(model, "relu2", [3], featvis.Settings(steps=30, polish=10))
    x = (torch.from_numpy(synth.images).float()[:, None] / 255.0 - 0.1307) / 0.3081
    with torch.no_grad():
        direct = forward_to(model, x, "relu2")[0, 3].max().item()
    assert synth.values[0] == pytest.approx(direct, rel=1e-5)


def test_layer_grid_is_cached(tmp_path) -> None:
    model, _ = load_checkpoint("checkpoints/fast.safetensors")
    first = featvis.layer_grid(model, "abc", "relu1", cache_dir=tmp_path)
    assert featvis.cache_path("abc", "relu1", tmp_path).is_file()
    again = featvis.layer_grid(model, "abc", "relu1", cache_dir=tmp_path)
    assert np.array_equal(first.images, again.images) and len(first.channels) == 24


def test_unknown_channel_is_refused() -> None:
    model, _ = load_checkpoint("checkpoints/fast.safetensors")
    with pytest.raises(ValueError, match="channels 0..23"):
        featvis.synthesize(model, "relu1", [24])


def test_channels_in_small_batches_are_the_one_batch_result() -> None:
    from model.insight.activations import batch_images
    model, _ = load_checkpoint("checkpoints/fast.safetensors")
    settings = featvis.Settings(steps=12, polish=4)
    channels = [0, 3, 5, 7, 11]  # 10 rows: two starts per channel
    whole = featvis.synthesize(model, "relu2", channels, settings, batch_bytes=10 ** 12)
    done: list[tuple[int, int]] = []
    cut = featvis.synthesize(model, "relu2", channels, settings, batch_bytes=1_000_000,
                             progress=lambda i, n, _: done.append((i, n)))
    per = batch_images(model, backward=True, budget=1_000_000)
    assert per == 3 and done[-1] == (4 * 12, 4 * 12)  # 10 rows: 4 batches of at most 3
    assert np.array_equal(cut.images, whole.images)
    np.testing.assert_allclose(cut.values, whole.values, rtol=1e-5)
    assert np.array_equal(cut.units, whole.units) and np.array_equal(cut.regions, whole.regions)
