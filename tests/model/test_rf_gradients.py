"""Proof by gradients: a unit's non-zero input gradients fill exactly its computed clipped region.

Checked on a linearised single-channel copy (see ``linear_copy``) of every zoo architecture and of
random conv/pool/dilation stacks and residual blocks, corner and centre units of every layer.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from model.insight.rf_adapter import layer_specs
from model.zoo import ARCHITECTURES, build
from tests.model.linear_copy import LinearCopy, gradient_support, region_pixels
from tests.torch_oracle import layer_shapes
from viz.receptive_field import compute


def probe_units(h: int, w: int) -> set[tuple[int, int]]:
    """Corners, edge middles and centre of an h x w map."""
    return {(i, j) for i in {0, h // 2, h - 1} for j in {0, w // 2, w - 1}}


def is_gap_free(specs: list[dict], fields) -> bool:
    """No layer combines units whose fields leave holes between them (stride or dilation).

    A k > 1 kernel with dilation d reads units d * S_prev pixels apart, each seeing r_prev
    pixels: the union is contiguous when d * S_prev <= r_prev (a global layer reads all units,
    S_prev apart). Holes only make the support
    smaller than the region, never larger.
    """
    by_name = {f.name: f for f in fields}
    previous = "input"
    for spec in specs:
        srcs = spec.get("inputs", [previous])
        previous = spec["name"]
        if spec["type"] in ("gap", "flatten", "linear"):  # reads all units, S apart
            src = by_name.get(srcs[0])
            if src is not None and not src.is_global and any(
                    n > 1 and s > r for n, s, r in zip(src.output_size, src.stride, src.rf,
                                                       strict=True)):
                return False
            continue
        if spec["type"] not in ("conv", "maxpool", "avgpool"):
            continue
        src = by_name.get(srcs[0])
        rf, stride = ((1, 1), (1, 1)) if src is None else (src.rf, src.stride)
        if src is not None and src.is_global:
            continue
        kernel, dilation = spec["kernel"], spec.get("dilation", 1)
        for axis in (0, 1):
            k = kernel[axis] if isinstance(kernel, list) else kernel
            d = dilation[axis] if isinstance(dilation, list) else dilation
            if k > 1 and d * stride[axis] > rf[axis]:
                return False
    return True


def bounding_box(pixels: set[tuple[int, int]]) -> set[tuple[int, int]]:
    if not pixels:
        return set()
    ys, xs = [p[0] for p in pixels], [p[1] for p in pixels]
    return {(a, b) for a in range(min(ys), max(ys) + 1) for b in range(min(xs), max(xs) + 1)}


def check_gradients(specs: list[dict], size: tuple[int, int]) -> None:
    """Engine output sizes equal torch's; for the probe units of every layer the clipped region
    is exactly the bounding box of the non-zero gradient, and equals the support itself when the
    network is one gap-free path (with holes or several paths the support is that box minus
    the holes, or a union of boxes)."""
    fields = compute(specs, size)
    x = torch.zeros(1, 1, *size, dtype=torch.float64, requires_grad=True)
    outs = LinearCopy(specs)(x)
    exact = is_gap_free(specs, fields) and not any(s["type"] in ("add", "concat") for s in specs)
    merged = False
    for spec, f in zip(specs, fields, strict=True):
        merged = merged or spec["type"] in ("add", "concat")
        out = outs[f.name]
        assert f.output_size == (tuple(out.shape[2:]) if out.dim() == 4 else (1, 1)), f.name
        for i, j in probe_units(*f.output_size):
            support = gradient_support(outs, x, f.name, i, j)
            reg = f.region(i, j)
            region = region_pixels(reg)
            clipped = reg.is_empty or (reg.h.clipped, reg.w.clipped) != (
                (reg.h.start, reg.h.end), (reg.w.start, reg.w.end))
            if merged and clipped:
                # Branches are clipped one by one: at the border a branch that reads only
                # padding along one axis adds nothing along the other, so the union of the
                # branches' boxes can be smaller than the clipped rectangle of the merged field.
                assert support <= region, (f.name, i, j)
            else:
                assert bounding_box(support) == region, (f.name, i, j)
            if exact:
                assert support == region, (f.name, i, j)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_zoo_gradient_support_equals_clipped_region(arch):
    model = build(arch)
    specs = layer_specs(model)
    # The linearised copy has the real network's geometry: same spatial shapes, layer by layer.
    copy_outs = LinearCopy(specs)(torch.zeros(1, 1, 28, 28, dtype=torch.float64))
    for name, shape in layer_shapes(model):
        out = copy_outs[name]
        assert out.shape[2:] == shape[1:] or (out.dim() == 2 and len(shape) == 1), name
    check_gradients(specs, (28, 28))


@pytest.mark.parametrize("graph", ["concat", "add3"])
def test_graph_network_gradient_support_equals_clipped_region(graph):
    """Graph records (inputs naming earlier layers: a three-branch concat, a three-way add with a
    dilated branch) read back from the torch network as engine specs with their inputs; every
    node's field against the gradients of the linearised copy (resnet-mini: the zoo test)."""
    from model.zoo import build_from_config
    from tests.graph_networks import GRAPHS
    records = GRAPHS[graph]()
    specs = layer_specs(build_from_config(graph, records))
    from viz.network.layers import input_names
    assert [tuple(s["inputs"]) for s in specs] == input_names(records)
    check_gradients(specs, (28, 28))


def test_real_relu_network_support_lies_inside_region():
    """On the real (trained-or-not) network, ReLU and max-pool can only shrink the support."""
    model = build("compact").double().eval()
    fields = {f.name: f for f in compute(layer_specs(model), 28)}
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    for name in ("conv3", "pool", "relu7"):
        out = x
        for child_name, child in model.named_children():
            out = child(out)
            if child_name == name:
                break
        h, w = out.shape[2:]
        (grad,) = torch.autograd.grad(out[0, :, h // 2, w // 2].sum(), x)
        support = {tuple(p) for p in torch.nonzero(grad[0, 0]).tolist()}
        assert support <= region_pixels(fields[name].region(h // 2, w // 2))


@st.composite
def conv_pool_stack(draw):
    """1-4 random conv / max / avg pool layers (any kernel, stride, padding, dilation, ceil)."""
    specs = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool"]))
        kernel = [draw(st.integers(1, 4)), draw(st.integers(1, 4))]
        stride = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
        if kind == "conv":
            dilation = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
            padding = draw(st.one_of(
                st.integers(0, 3),
                st.lists(st.integers(0, 3), min_size=2, max_size=2),
                st.lists(st.lists(st.integers(0, 3), min_size=2, max_size=2), min_size=2,
                         max_size=2)))
            if draw(st.booleans()) and stride == [1, 1]:
                padding = "same"
            specs.append({"name": f"c{i}", "type": "conv", "kernel": kernel, "stride": stride,
                          "padding": padding, "dilation": dilation})
        else:
            padding = [draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2))]
            specs.append({"name": f"p{i}", "type": kind, "kernel": kernel, "stride": stride,
                          "padding": padding, "ceil_mode": draw(st.booleans())})
        if draw(st.booleans()):
            specs.append({"name": f"r{i}", "type": "relu"})
    if draw(st.booleans()):
        specs.append({"name": "gap", "type": "gap"})
    size = (draw(st.integers(5, 16)), draw(st.integers(5, 16)))
    return specs, size


def torch_rejects(specs: list[dict], size: tuple[int, int]) -> bool:
    try:
        LinearCopy(specs)(torch.zeros(1, 1, *size, dtype=torch.float64))
    except RuntimeError:
        return True
    return False


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_pool_stack())
def test_random_stacks_gradient_support(case):
    specs, size = case
    try:
        compute(specs, size)
    except ValueError as exc:
        # The engine rejects exactly what torch cannot run.
        assert "larger than its padded input" in str(exc)
        assert torch_rejects(specs, size)
        return
    check_gradients(specs, size)


@st.composite
def residual_block(draw):
    """A random stem, then two aligned branches (odd kernels, half padding, same total stride)
    merged by add or concat, then an optional conv."""
    def odd_conv(name, src, stride):
        k, d = draw(st.sampled_from([1, 3, 5])), draw(st.integers(1, 2))
        return {"name": name, "type": "conv", "kernel": k, "stride": stride,
                "padding": d * (k - 1) // 2, "dilation": d, "inputs": [src]}

    stem_k, stem_s = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    specs = [{"name": "stem", "type": "conv", "kernel": stem_k, "stride": stem_s,
              "padding": draw(st.integers(0, 2))}]
    s = draw(st.integers(1, 2))
    specs.append(odd_conv("a", "stem", s))
    specs.append(odd_conv("b1", "stem", s))
    specs.append(odd_conv("b2", "b1", 1))
    specs.append({"name": "merge", "type": draw(st.sampled_from(["add", "concat"])),
                  "inputs": ["a", "b2"]})
    if draw(st.booleans()):
        specs.append({"name": "after", "type": "conv", "kernel": draw(st.integers(1, 3)),
                      "stride": draw(st.integers(1, 2)), "padding": draw(st.integers(0, 1))})
    size = (draw(st.integers(8, 16)), draw(st.integers(8, 16)))
    return specs, size


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(residual_block())
def test_random_residual_gradient_support(case):
    specs, size = case
    try:
        fields = compute(specs, size)
    except ValueError as exc:
        assert "larger than its padded input" in str(exc)
        assume(False)
        return
    merge = next(f for f in fields if f.name == "merge")
    a = next(f for f in fields if f.name in ("a", "b2") and f.rf == merge.rf)
    assert merge.padding == a.padding
    check_gradients(specs, size)
