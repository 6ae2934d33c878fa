"""Graph networks (records naming their ``inputs``): shapes, parameters, the card's checks, and
the numpy forward pass against torch (add of two and three branches, concat, a strided
projection shortcut)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from model.zoo import Add, Concat, build_from_config
from tests.graph_networks import GRAPHS, add3_layers, concat_layers, resnet_mini_layers
from tests.torch_oracle import count_macs, count_params, layer_shapes
from viz import limits
from viz.network import card, layers, npforward


def randomised(records: list[dict[str, Any]], seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_from_config("graph", records).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model


def torch_outputs(model: torch.nn.Module, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output, recorded by forward hooks on the network's own forward pass."""
    got: dict[str, np.ndarray] = {}
    hooks = [m.register_forward_hook(
        lambda _m, _i, out, n=name: got.__setitem__(n, out[0].detach().numpy().copy()))
        for name, m in model.named_children()]
    with torch.no_grad():
        logits = model(torch.from_numpy(npforward.normalise(image))[None])
    for h in hooks:
        h.remove()
    got["logits"] = logits[0].numpy()
    return got


@pytest.mark.parametrize("graph", list(GRAPHS))
def test_numpy_equals_torch_on_graphs(graph: str) -> None:
    records = GRAPHS[graph]()
    model = randomised(records)
    net = npforward.NumpyNet(graph, records, {k: v.numpy() for k, v in
                                              model.state_dict().items()})
    image = np.random.default_rng(3).integers(0, 256, (28, 28), dtype=np.uint8)
    ours = npforward.forward(net, image)
    want = torch_outputs(model, image)
    assert list(ours) == [r["name"] for r in records]
    for name, value in ours.items():
        assert value.shape == want[name].shape, name
        scale = max(1.0, float(np.abs(want[name]).max()))
        assert float(np.abs(value - want[name]).max()) / scale <= 1e-5, name
    np.testing.assert_allclose(ours[records[-1]["name"]].reshape(-1), want["logits"], atol=1e-5)


def test_the_joins_compute_what_they_say() -> None:
    records = add3_layers()
    model = randomised(records)
    image = np.random.default_rng(4).integers(0, 256, (28, 28), dtype=np.uint8)
    out = torch_outputs(model, image)
    np.testing.assert_allclose(out["sum"], out["relu1"] + out["relu2"] + out["conv3"],
                               atol=1e-5)
    out = torch_outputs(randomised(concat_layers()), image)
    np.testing.assert_allclose(out["cat"], np.concatenate(
        [out["branch1"], out["branch3"], out["branchpool"]]), atol=0)
    assert isinstance(model.sum, Add) and out["cat"].shape == (24, 28, 28)
    assert isinstance(build_from_config("c", concat_layers()).cat, Concat)


@pytest.mark.parametrize("graph", list(GRAPHS))
def test_shapes_params_macs_against_torch(graph: str) -> None:
    records = GRAPHS[graph]()
    model = build_from_config(graph, records)
    infos = layers.describe(records)
    assert [(i.name, i.shape) for i in infos] == layer_shapes(model)
    assert sum(i.params for i in infos) == count_params(model)
    assert {i.name: i.macs for i in infos} == count_macs(model)
    assert card.expected_tensors(records) == {
        k: ("I64" if v.dtype == torch.int64 else "F32", tuple(v.shape))
        for k, v in model.state_dict().items()}
    card.analyse_checked(records)  # every check passes


def test_resnet_mini_geometry() -> None:
    infos = {i.name: i for i in layers.describe(resnet_mini_layers())}
    # the projection shortcut halves the map with a 1x1 of stride 2
    assert infos["res2_proj"].shape == (32, 14, 14) and infos["res2_proj"].r == 7
    assert infos["res2_proj"].inputs == ("res1_relu2",)
    # an add's field is the largest of its branches (the main path's), aligned with the other
    assert infos["res2_bn2"].r == 13 and infos["res2_add"].r == 13
    assert infos["res2_add"].stride == 2 and infos["res2_add"].padding == 6
    assert infos["res1_add"].inputs == ("res1_bn2", "relu1")
    assert infos["res3_add"].r == 21 and infos["gap"].is_global
    assert layers.input_side(list(infos.values()), "res2_proj") == 28
    # flat networks still read the layer before them
    assert layers.input_names([{"name": "a"}, {"name": "b"}]) == [("input",), ("a",)]
    assert not layers.is_graph([{"name": "a", "type": "relu"}])


def _refused(records: list[dict[str, Any]], match: str) -> str:
    with pytest.raises(card.CardError, match=match) as info:
        card.analyse_checked(records)
    return str(info.value)


def _with(records: list[dict[str, Any]], name: str, **change: Any) -> list[dict[str, Any]]:
    return [dict(r, **change) if r["name"] == name else dict(r) for r in records]


def test_the_card_refuses_bad_graphs_with_messages() -> None:
    net = concat_layers()
    _refused(_with(net, "branch3", inputs=["conv2"]),
             r"layer #4 \(branch3\): its inputs name 'conv2', which is a later layer")
    _refused(_with(net, "branch3", inputs=["branch3"]), "which is itself")
    _refused(_with(net, "branch3", inputs=["nowhere"]), "'nowhere', which is no layer")
    _refused(_with(net, "cat", inputs=["branch1"]), "a concat layer joins two or more layers")
    _refused([{k: v for k, v in r.items() if k != "inputs"} if r["name"] == "cat" else r
              for r in net], 'list them in "inputs"')
    _refused(_with(net, "relu2", inputs=["cat", "relu1"]),
             "a relu layer reads exactly one layer, but its inputs name 2")
    _refused(_with(net, "cat", inputs=["branch1", "branch1"]), "the same layer twice")
    _refused(_with(net, "cat", inputs="branch1"), '"inputs" must be a list of layer names')
    # concat needs the same height and width; add the same shape
    strided = _with(net, "branch3", stride=2)
    _refused(strided, "layer 'cat': cannot concat 'branch1' and 'branch3': their heights "
                      r"differ \(28 vs 14\)")
    _refused(_with(_with(net, "branch3", out=4), "cat", type="add"),
             "layer 'cat': an add sums inputs of the same shape, but 'branch1' makes 8x28x28 "
             "and 'branch3' makes 4x28x28")
    res = resnet_mini_layers()
    _refused(_with(res, "res2_add", inputs=["res2_bn2", "res1_relu2"]),
             "layer 'res2_add': cannot add 'res2_bn2' and 'res1_relu2': their heights differ")
    # a conv reading a named layer must take its channels
    message = _refused(_with(net, "conv2", inputs=["relu1"]),
                       r"layer #8 \(conv2\): reads 24 channels, but 'relu1' makes 8")
    assert "the layer before it" not in message
    # a linear layer reading a map through its inputs still needs a flatten
    _refused(_with(res, "head", inputs=["gap"]), "needs a flatten before it")


def test_flat_networks_are_read_as_before() -> None:
    from model.architectures import get
    records = get("seed").layers()
    before = layers.describe(records)
    explicit = [dict(r, inputs=[p["name"]]) for p, r in zip([{"name": "input"}] + records,
                                                            records)]
    after = layers.describe(explicit)
    assert [(i.name, i.shape, i.r, i.stride, i.padding, i.params, i.macs) for i in before] == [
        (i.name, i.shape, i.r, i.stride, i.padding, i.params, i.macs) for i in after]
    assert not layers.is_graph(records) and layers.is_graph(explicit)


def test_a_forward_pass_keeps_what_a_join_still_needs() -> None:
    infos = layers.describe(resnet_mini_layers())
    # at res1_add three 16x28x28 maps are held: relu1 (the shortcut), res1_bn2 and the sum
    peak = 3 * 16 * 28 * 28
    want = limits.BATCH_OUTPUT_BYTES // (layers.FLOAT_BYTES * layers.FORWARD_FACTOR * peak)
    assert layers.images_per_batch(infos) == want
    assert layers.images_per_batch([i.elements for i in infos]) > want  # a chain holds two
    from model.architectures import get
    flat = layers.describe(get("seed").layers())
    assert layers.images_per_batch(flat) == layers.images_per_batch([i.elements for i in flat])
