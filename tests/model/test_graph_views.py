"""Looking inside a graph network (resnet-mini: residual adds, a strided projection shortcut):
activations, every saliency method (Grad-CAM on a conv inside a block), the neuron attribution,
the atlas and feature visualisation, each with values checked against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model import saliency
from model.atlas import atlas_layers, compute_atlas
from model.insight import activations as features
from model.insight.rf_adapter import receptive_field_table
from model.saliency import BLACK
from model.zoo import build_from_config
from tests.graph_networks import concat_layers, resnet_mini_layers
from viz.network import npforward
from viz.network.layers import describe


def trained_like(records, seed: int = 0) -> torch.nn.Module:
    """Random weights and non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = build_from_config("graph", records).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return model


@pytest.fixture(scope="module")
def resnet() -> torch.nn.Module:
    return trained_like(resnet_mini_layers())


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    with np.load(root / "checkpoints" / "samples.npz", allow_pickle=False) as data:
        return data["images"][:24]


def test_activations_walk_the_graph(resnet, digits) -> None:
    x = features.as_input(digits[0])
    acts = features.activations(resnet, x)
    records = resnet_mini_layers()
    assert list(acts) == [r["name"] for r in records] == features.layer_names(resnet)
    # the residual add is the sum of its two branches, the shortcut a strided 1x1 projection
    np.testing.assert_allclose(acts["res2_add"], acts["res2_bn2"] + acts["res2_projbn"],
                               atol=1e-6)
    np.testing.assert_allclose(acts["res1_add"], acts["res1_bn2"] + acts["relu1"], atol=1e-6)
    assert acts["res2_proj"].shape == (32, 14, 14)
    # the same numbers as the numpy forward pass, and the logits the network gives
    net = npforward.NumpyNet("r", records, {k: v.numpy() for k, v in resnet.state_dict().items()})
    ours = npforward.forward(net, digits[0])
    for name in acts:
        np.testing.assert_allclose(ours[name], acts[name], atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(resnet(x)[0].numpy(), acts["head"], atol=1e-6)
    out = features.forward_to(resnet, x, "res2_projbn")
    np.testing.assert_allclose(out[0].detach().numpy(), acts["res2_projbn"], atol=1e-6)
    assert features.layer_sizes(resnet, x) == [i.elements for i in describe(records)]


def test_capture_records_join_outputs_on_a_private_copy(resnet, digits) -> None:
    x = features.as_input(digits[1])
    acts = features.activations(resnet, x)
    with features.capture(resnet, ["res3_add", "res2_proj"]) as store, torch.no_grad():
        store["model"](x)
        np.testing.assert_allclose(store["res3_add"][0].numpy(), acts["res3_add"], atol=1e-6)
        np.testing.assert_allclose(store["res2_proj"][0].numpy(), acts["res2_proj"], atol=1e-6)
    assert not features.has_hooks(resnet)


def _logit_grad(model, x, target):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[0, target], x)
    return grad[0, 0].numpy()


def test_every_saliency_method_runs_on_resnet_mini(resnet, digits) -> None:
    x = features.as_input(digits[2])
    target = 3
    maps = {key: saliency.attribute(key, resnet, x, target, layer="res2_conv1", window=4,
                                    stride=4) for key in saliency.METHODS}
    for key, m in maps.items():
        assert m.shape == (28, 28) and np.isfinite(m).all() and np.abs(m).max() > 0, key
    # the gradient, exactly
    np.testing.assert_allclose(maps["saliency"], _logit_grad(resnet, x, target), atol=1e-6)
    # path methods add up to the score's change from the black image (completeness)
    with torch.no_grad():
        diff = (resnet(x) - resnet(torch.full_like(x, BLACK)))[0, target].item()
    assert maps["deeplift"].sum() == pytest.approx(diff, rel=1e-3, abs=1e-3)
    assert maps["ig"].sum() == pytest.approx(diff, rel=0.05, abs=0.05)
    # occlusion: a 4x4 patch's value is the score drop when it is blacked out
    blacked = x.clone()
    blacked[..., 8:12, 12:16] = BLACK
    with torch.no_grad():
        drop = (resnet(x) - resnet(blacked))[0, target].item()
    np.testing.assert_allclose(maps["occlusion"][8:12, 12:16], drop, atol=1e-5)
    assert not features.has_hooks(resnet)
    assert all(p.grad is None for p in resnet.parameters())


@pytest.mark.parametrize("layer", ["res2_conv1", "res1_conv2", "res3_add", "res2_proj"])
def test_gradcam_on_a_conv_inside_a_block(resnet, digits, layer) -> None:
    x = features.as_input(digits[4])
    target = 5
    cam = saliency.attribute("gradcam", resnet, x, target, layer=layer)
    # by hand: the layer's maps weighted by their mean gradient, summed, ReLU'd, upsampled
    xx = x.detach().clone()
    store = {}
    module = dict(resnet.named_children())[layer]
    clone = features.private_copy(resnet)
    handle = dict(clone.named_children())[layer].register_forward_hook(
        lambda _m, _i, out: store.__setitem__("a", out))
    try:
        logits = clone(xx)
        (grad,) = torch.autograd.grad(logits[0, target], store["a"])
    finally:
        handle.remove()
    weights = grad.mean(dim=(2, 3), keepdim=True)
    want = F.relu((weights * store["a"]).sum(dim=1, keepdim=True))
    want = F.interpolate(want.detach(), size=(28, 28), mode="nearest")[0, 0].numpy()
    np.testing.assert_allclose(cam, want, atol=1e-5)
    assert module is dict(resnet.named_children())[layer]
    assert not features.has_hooks(resnet)


def test_neuron_attribution_of_a_join_unit(resnet, digits) -> None:
    x = features.as_input(digits[5])
    attr = saliency.neuron_attribution(resnet, x, "res2_add", (4, 7, 7))
    with torch.no_grad():
        now = features.forward_to(resnet, x, "res2_add")[0, 4, 7, 7].item()
        black = features.forward_to(resnet, torch.full_like(x, BLACK), "res2_add")[0, 4, 7, 7]
    assert attr.sum() == pytest.approx(now - black.item(), rel=1e-3, abs=1e-3)
    # only pixels inside the unit's field can matter
    field = {f.name: f for f in receptive_field_table(resnet)}["res2_add"].region(7, 7)
    outside = np.ones((28, 28), bool)
    outside[field.h.clipped[0]:field.h.clipped[1] + 1,
            field.w.clipped[0]:field.w.clipped[1] + 1] = False
    assert np.abs(attr[outside]).max() == 0


def test_the_atlas_of_a_graph_network(resnet, digits) -> None:
    names = atlas_layers(resnet)
    assert {"res1_add", "res2_add", "res3_add", "res2_proj", "res2_conv1"} <= set(names)
    assert "res2_bn2" not in names and "gap" in names and "head" not in names
    atlas = compute_atlas(resnet, digits, k=3, layers=["res2_add", "res2_proj"])
    fields = {f.name: f for f in receptive_field_table(resnet)}
    for name in ("res2_add", "res2_proj"):
        la = atlas.layer(name)
        values = np.stack([features.activations(resnet, features.as_input(d))[name]
                           for d in digits])  # (N, C, H, W)
        peaks = values.reshape(len(digits), values.shape[1], -1).max(axis=2)  # (N, C)
        for c in (0, 7, 31):
            best = int(la.index[c, 0])
            assert peaks[best, c] == pytest.approx(float(peaks[:, c].max()), abs=1e-5)
            assert float(la.value[c, 0]) == pytest.approx(float(peaks[best, c]), abs=1e-5)
            y, x = (int(v) for v in la.unit[c, 0])
            reg = fields[name].region(y, x)
            assert list(la.region[c, 0]) == [reg.h.start, reg.h.end, reg.w.start, reg.w.end]
            assert values[best, c, y, x] == pytest.approx(float(la.value[c, 0]), abs=1e-5)


def test_feature_visualisation_of_a_join_channel(resnet) -> None:
    from model.insight.featvis import Settings, synthesize
    result = synthesize(resnet, "res1_add", [2], Settings(steps=12, polish=4, starts=1))
    x = torch.as_tensor(result.images[0], dtype=torch.float32)
    assert np.isfinite(result.values).all() and result.images.shape == (1, 28, 28)
    # the reported value is the channel's strongest unit for the synthesized input
    with torch.no_grad():
        pixels = (x / 255.0 - npforward.MEAN) / npforward.STD
        out = features.forward_to(resnet, pixels.reshape(1, 1, 28, 28), "res1_add")
    assert float(result.values[0]) == pytest.approx(float(out[0, 2].max()), rel=1e-4, abs=1e-4)


def test_a_concat_network_everywhere(digits) -> None:
    model = trained_like(concat_layers(), seed=2)
    x = features.as_input(digits[6])
    acts = features.activations(model, x)
    np.testing.assert_allclose(acts["cat"][8:16], acts["branch3"], atol=0)
    for key in saliency.METHODS:
        m = saliency.attribute(key, model, x, 1, layer="branch3", window=4, stride=4)
        assert m.shape == (28, 28) and np.isfinite(m).all(), key
    np.testing.assert_allclose(saliency.attribute("saliency", model, x, 1),
                               _logit_grad(model, x, 1), atol=1e-6)
    assert "cat" in atlas_layers(model)


def test_a_graph_checkpoint_round_trips_with_its_card(resnet, digits, tmp_path) -> None:
    from model.files.checkpoint import load_checkpoint, read_network, save_checkpoint, torch_model
    path = save_checkpoint(resnet, {"test_acc": None}, tmp_path / "resnet-mini")
    data = path.read_bytes()
    net = read_network(data, path.name)  # every check of the card passed
    assert net.layers == resnet_mini_layers()
    assert any("inputs" in r for r in net.card["layers"])
    x = features.as_input(digits[7])
    with torch.no_grad():
        want = resnet(x)
        np.testing.assert_allclose(torch_model(net)(x).numpy(), want.numpy(), atol=1e-6)
        model, card = load_checkpoint(path)
        np.testing.assert_allclose(model.eval()(x).numpy(), want.numpy(), atol=1e-6)
    assert list(model.state_dict()) == list(resnet.state_dict())
    assert card["layers"] == resnet_mini_layers()


def test_the_effective_field_of_a_join_unit_lies_in_its_field(resnet, digits) -> None:
    from model.insight.erf import effective_receptive_field
    x = torch.stack([features.as_input(d)[0] for d in digits[:4]])
    erf = effective_receptive_field(resnet, "res2_add", (3, 6, 6), x)
    field = {f.name: f for f in receptive_field_table(resnet)}["res2_add"].region(6, 6)
    (y0, y1), (x0, x1) = field.h.clipped, field.w.clipped
    inside = np.zeros((28, 28), bool)
    inside[y0:y1 + 1, x0:x1 + 1] = True
    assert (y0, y1, x0, x1) == (6, 18, 6, 18)  # 13x13 around pixel (12, 12): S = 2, P = 6
    assert erf[~inside].max() == 0 and erf[inside].max() > 0
