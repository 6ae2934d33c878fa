"""The tour's numbers agree with torch (the oracle)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from viz.teaching.concepts import RULES, channel_mix, conv_step, relu_split


def test_five_rules():
    assert len(RULES) == 5


@pytest.mark.parametrize("y,x", [(0, 0), (5, 7), (27, 27), (0, 27)])
def test_conv_step_matches_conv2d(y, x):
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(28, 28)), rng.normal(size=(3, 3))
    out = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None], padding=1)
    patch, products, total = conv_step(image, kernel, y, x, padding=1, bias=0.5)
    assert patch.shape == (3, 3) and np.allclose(products, patch * kernel)
    assert total == pytest.approx(float(out[0, 0, y, x]) + 0.5)


def test_conv_step_errors():
    with pytest.raises(ValueError, match="outside the 28x28 output"):
        conv_step(np.zeros((28, 28)), np.ones((3, 3)), 28, 0)
    with pytest.raises(ValueError, match="square"):
        conv_step(np.zeros((28, 28)), np.ones((3, 2)), 0, 0)


def test_channel_mix_matches_1x1_conv():
    rng = np.random.default_rng(1)
    acts, w, b = rng.normal(size=(16, 5, 5)), rng.normal(size=(8, 16, 1, 1)), rng.normal(size=8)
    ref = F.conv2d(torch.tensor(acts)[None], torch.tensor(w), torch.tensor(b))[0, :, 2, 3]
    v, out = channel_mix(acts, w, b, 2, 3)
    assert np.allclose(v, acts[:, 2, 3]) and np.allclose(out, ref.numpy())
    with pytest.raises(ValueError, match="expects 16 channels"):
        channel_mix(acts[:4], w, b, 0, 0)


def test_relu_split():
    assert relu_split(np.array([[-1.0, 2.0], [0.0, -3.0]])) == {
        "negative_share": 0.5, "min": -3.0, "max": 2.0}


# ---------------------------------------------------------------------------------------------
# Layer records, the five rules, and the first conv worked out by hand
# ---------------------------------------------------------------------------------------------

from pathlib import Path  # noqa: E402

from model.zoo import ARCHITECTURES, build  # noqa: E402
from viz.network import npforward  # noqa: E402
from viz.teaching.concepts import (  # noqa: E402
    check_rules,
    conv_demo,
    first_conv,
    growth_steps,
    history_series,
    map_sizes,
    one_by_one,
    previous_name,
    relu_pairs,
    stacked_3x3,
)

CHECKPOINTS = Path(__file__).resolve().parents[3] / "checkpoints"
RULE_TITLES = [title for title, _ in RULES]


def followed(arch: str) -> list[bool]:
    return [c.followed for c in check_rules(ARCHITECTURES[arch].layers())]


@pytest.mark.parametrize("arch,expected", [
    ("seed", [True, True, True, True, True]),
    ("seed-original", [True, True, True, True, True]),
    ("seed-3x3", [True, True, True, True, False]),
    ("compact", [False, True, False, True, False]),
    ("fast", [False, True, False, False, False]),
])
def test_check_rules(arch, expected):
    checks = check_rules(ARCHITECTURES[arch].layers())
    assert [c.title for c in checks] == RULE_TITLES
    assert [c.followed for c in checks] == expected
    assert all(c.detail and c.text for c in checks)


def test_rule_details_name_the_layers():
    seed = check_rules(ARCHITECTURES["seed"].layers())
    assert "conv1, conv2, conv3, conv4, conv5" in seed[0].detail
    assert "conv6" in seed[2].detail and "16 to 8" in seed[2].detail
    assert "14x14 kernel on the 14x14 map" in seed[4].detail
    compact = check_rules(ARCHITECTURES["compact"].layers())
    assert "28x28 to 22x22" in compact[0].detail
    assert "after only 3 convs" in compact[2].detail
    assert "global pool" in compact[4].detail
    assert "2x2 conv on a 2x2 map" in check_rules(ARCHITECTURES["seed-3x3"].layers())[4].detail
    assert "no 1x1 conv" in check_rules(ARCHITECTURES["fast"].layers())[2].detail


def test_a_broken_rule_is_noticed():
    layers = ARCHITECTURES["seed"].layers()
    for rec in layers:
        if rec["name"] == "conv3":
            rec["out"], rec["padding"] = 40, 0
        if rec["name"] == "conv4":
            rec["in"] = 40
    checks = check_rules(layers)
    assert [c.followed for c in checks][:2] == [False, False]
    assert "conv3 goes from 10 to 40" in checks[1].detail


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_map_sizes_match_torch(arch):
    from tests.torch_oracle import layer_shapes
    layers = ARCHITECTURES[arch].layers()
    sizes = map_sizes(layers)
    for name, shape in layer_shapes(build(arch)):
        assert sizes[name] == (shape[-1] if len(shape) == 3 else None), name


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_growth_steps_match_the_field_table(arch):
    from viz.teaching.fields import field_table
    rows = {r.name: r for r in field_table(build(arch).layer_config)}
    steps = growth_steps(ARCHITECTURES[arch].layers())
    # no steps only for a dense-only network (flatten first: every unit sees the whole image)
    assert steps or ARCHITECTURES[arch].layers()[0]["type"] == "flatten"
    for step in steps:
        assert (step.r_out, step.stride_out) == (rows[step.name].r, rows[step.name].stride)
        assert step.added == (step.kernel - 1) * step.stride_in


def test_each_3x3_adds_two_times_the_stride():
    steps = [s for s in growth_steps(ARCHITECTURES["seed"].layers()) if s.kernel == 3]
    assert [s.added for s in steps] == [2] * 5 + [4] * 4
    assert stacked_3x3(2) == (5, 18, 25) and stacked_3x3(3) == (7, 27, 49)


def test_layer_lookups():
    seed, compact, fast = (ARCHITECTURES[a].layers() for a in ("seed", "compact", "fast"))
    assert first_conv(seed)["name"] == "conv1"
    assert one_by_one(seed)["name"] == "conv6" and one_by_one(compact)["name"] == "conv4"
    assert one_by_one(fast) is None
    assert previous_name(seed, "conv6") == "drop5" and previous_name(seed, "conv1") is None
    assert relu_pairs(seed)[0] == ("bn1", "relu1") and ("conv1", "relu1") in relu_pairs(fast)


def test_history_series():
    card = {"history": [{"epoch": 1, "loss": 0.5, "val_accuracy": 0.9},
                        {"epoch": 2, "loss": 0.2}]}
    h = history_series(card)
    assert h["epoch"] == [1.0, 2.0] and h["loss"] == [0.5, 0.2]
    assert h["val_accuracy"][0] == 0.9 and np.isnan(h["val_accuracy"][1])
    assert history_series({}) is None and history_series({"history": []}) is None
    assert history_series({"history": ["x"]}) is None


def _first_conv_agrees(model, image, positions):
    conv = model.conv1
    x = torch.from_numpy(npforward.normalise(image))[None]
    with torch.no_grad():
        out = conv(x)[0].numpy()
    w = conv.weight.detach().numpy()
    b = None if conv.bias is None else conv.bias.detach().numpy()
    for c, y, xx in positions:
        demo = conv_demo(npforward.normalise(image), w, b, c, y, xx, conv.padding[0],
                         conv.stride[0])
        assert demo.total == pytest.approx(float(out[c, y, xx]), abs=1e-4)
        assert demo.total == pytest.approx(float(demo.products.sum()) + demo.bias)


def test_conv_demo_agrees_with_a_shipped_checkpoint():
    from model.files.checkpoint import load_checkpoint
    model, _ = load_checkpoint(CHECKPOINTS / "seed.safetensors")
    with np.load(CHECKPOINTS / "samples.npz") as data:
        image = data["images"][0]
    _first_conv_agrees(model.eval(), image, [(0, 0, 0), (3, 14, 14), (7, 27, 27), (5, 10, 20)])


@pytest.mark.parametrize("arch", ["compact", "fast", "seed-3x3"])
def test_conv_demo_agrees_with_an_untrained_model(arch):
    torch.manual_seed(0)
    model = build(arch).eval()
    image = (np.random.default_rng(2).random((28, 28)) * 255).astype(np.uint8)
    _first_conv_agrees(model, image, [(0, 0, 0), (1, 12, 7), (2, 23, 23)])


def test_conv_demo_checks_the_input_channels():
    with pytest.raises(ValueError, match="reads 3"):
        conv_demo(np.zeros((28, 28)), np.zeros((4, 3, 3, 3)), None, 0, 0, 0, 1)
