"""Zoo shapes, parameter counts, layer names, and the seed's design rules."""

import pytest
import torch
from torch import nn

from model.zoo import ARCHITECTURES, build, build_from_config, graph_inputs
from tests.torch_oracle import count_macs, count_params, layer_shapes


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_forward_shape(arch):
    model = build(arch).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_seed_original_is_exact():
    model = build("seed-original")
    assert count_params(model) == 4_155_626
    assert 1.54e9 < sum(count_macs(model).values()) < 1.56e9  # ~1.55 GMAC per image
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_compact_budget():
    assert count_params(build("compact")) <= 8000


def test_relu_modules_not_functional():
    """Every conv/linear but the head is followed by an activation module, nn.ReLU or nn.Tanh
    (Captum needs modules)."""
    for arch in ARCHITECTURES:
        model = build(arch)
        layers = list(model.named_children())
        reads = graph_inputs(model)
        for i, (name, module) in enumerate(layers):
            if isinstance(module, (nn.Conv2d, nn.Linear)) and name != "head":
                if reads is None:
                    after = [m for _, m in layers[i + 1:i + 4]]
                else:  # a graph: the layers reached from this one in three steps
                    near, after = {name}, []
                    for _ in range(3):
                        near = {n for n, srcs in reads.items() if set(srcs) & near}
                        after += [m for n, m in layers if n in near]
                assert any(isinstance(m, (nn.ReLU, nn.Tanh)) for m in after), (arch, name)


def test_layer_names_are_stable():
    names = [n for n, _ in build("seed").named_children()]
    assert names[:4] == ["conv1", "bn1", "relu1", "drop1"]
    assert names[-2:] == ["head", "flatten"]
    assert "pool" in names


def test_seed_follows_the_five_rules():
    model = build("seed")
    shapes = dict(layer_shapes(model))
    convs = [(n, m) for n, m in model.named_children() if isinstance(m, nn.Conv2d)]
    # Rule 1: the early convs are padded (28x28 kept).
    assert all(m.padding == (1, 1) for _, m in convs[:5])
    assert all(shapes[n][1:] == (28, 28) for n, _ in convs[:5])
    # Rule 2: channels rise gradually.
    widths = [m.out_channels for _, m in convs[:5]]
    assert widths == sorted(widths) and max(b - a for a, b in zip(widths, widths[1:])) <= 4
    # Rule 3: the sixth conv is a 1x1 that cuts channels.
    name6, conv6 = convs[5]
    assert conv6.kernel_size == (1, 1) and conv6.out_channels < conv6.in_channels
    # Rule 4: the max-pool comes right after the 1x1 block, far from input and output.
    names = [n for n, _ in model.named_children()]
    pool = names.index("pool")
    assert all(isinstance(getattr(model, n), (nn.BatchNorm2d, nn.ReLU, nn.Dropout))
               for n in names[names.index(name6) + 1:pool])
    # Rule 5: a final 14x14 kernel on the 14x14 map gives the logits.
    head = model.head
    assert head.kernel_size == (14, 14) and shapes["head"] == (10, 1, 1)


def test_seed_3x3_swaps_only_the_head():
    seed, small = build("seed"), build("seed-3x3")
    assert count_params(small) < count_params(seed)
    head_convs = [m for n, m in small.named_children()
                  if isinstance(m, nn.Conv2d) and n not in dict(seed.named_children())]
    assert [m.kernel_size for m in head_convs] == [(3, 3)] * 6
    assert small.head.kernel_size == (2, 2)


def test_build_errors():
    with pytest.raises(ValueError, match="unknown architecture 'vgg'.*seed"):
        build("vgg")
    with pytest.raises(ValueError, match="unknown layer type 'warp'"):
        build_from_config("custom", [{"name": "x", "type": "warp"}])
    with pytest.raises(ValueError, match="invalid layer config"):
        build_from_config("custom", [{"name": "c", "type": "conv", "in": 1}])


def test_macs_of_a_known_conv():
    model = build_from_config("t", [{"name": "c", "type": "conv", "in": 2, "out": 3, "kernel": 3,
                                     "padding": 0}])
    assert count_macs(model, (2, 5, 5)) == {"c": 3 * 3 * 2 * 3 * 3 * 3}


def test_a_gap_ended_network_gives_logits_like_a_flatten_ended_one():
    """A lab table may end in gap (10x1x1, no flatten): it trains, evaluates and predicts."""
    import torch

    from model.zoo import build_from_config
    from viz.teaching.lab import rows_to_layers

    layers = rows_to_layers([{"type": "conv", "kernel": 3, "channels": 10}, {"type": "gap"}])
    net = build_from_config("lab", layers).eval()
    x = torch.rand(3, 1, 28, 28)
    out = net(x)
    assert out.shape == (3, 10)
    want = net.conv1(x).mean(dim=(2, 3))
    assert torch.allclose(out, want, atol=1e-6)
    assert net.gap1(net.conv1(x)).shape == (3, 10, 1, 1)  # the layer itself still makes a map
