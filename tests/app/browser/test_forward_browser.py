"""The browser's forward pass (ui/components/js/forward.js) against numpy and torch, layer type by option.

Small networks with random weights (and random BatchNorm statistics), one per option: conv with
every padding, stride and dilation; max and average pooling with every kernel, stride, padding
and ceil_mode; BatchNorm, the activations (PReLU shared and per channel), dropout, global
pooling, flatten, linear, the joins. Each runs on a
real digit and on random pixels through ``viz.network.npforward.forward``, torch (``model.zoo``) and the
lens's own decoding and forward modules (ui/components/js/, loaded alone in a blank page and fed the lens
payload of ``viz.browser.lens.payload``); every layer's output must agree within 1e-5 of the map's scale.

The cases come in one row per layer type of the registry (``viz.network.layertypes``): a type without a
row here, or without an op in forward.js, fails a test.
"""

from __future__ import annotations

import base64
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.app.browser.chromium import new_page

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[3]
TOL = 1e-5  # of the largest |value| of the layer's output (or absolute, below 1)
FORWARD_MODULES = ("constants", "decode", "forward")  # what the lens's forward pass needs

PAGE_JS = """
const b64 = (f) => { // a Float32Array's bytes as base64: exact, and quicker to hand over than JSON
  const u = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  let s = "";
  for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192));
  return btoa(s);
};
window.lensForward = (payload, images) => {
  const net = decodeNet(payload);
  return images.map((pixels) => Object.fromEntries(runNet(net, pixels).map(
    (a) => [a.name, { shape: a.shape, data: b64(Float32Array.from(a.data)) }])));
};
window.forwardTypes = Object.keys(LAYER_OPS);
window.ready = true;
"""


def forward_script(folder: Path = ROOT / "ui" / "components" / "js") -> str:
    """The shared modules of the lens's forward pass, then a hook: ``lensForward(payload,
    images)`` -> per image, ``{layer: {shape, data}}`` (data: float32 bytes, base64)."""
    parts = [(folder / f"{m}.js").read_text(encoding="utf-8") for m in FORWARD_MODULES]
    return "\n".join(parts + [PAGE_JS])


def _conv(name: str, cin: int, cout: int, k: int, s: int = 1, p: int = 0, d: int = 1,
          bias: bool = True, groups: int = 1) -> dict[str, Any]:
    rec = {"name": name, "type": "conv", "in": cin, "out": cout, "kernel": k, "stride": s,
           "padding": p, "dilation": d, "bias": bias}
    return rec | ({"groups": groups} if groups != 1 else {})


def _pool(name: str, kind: str, k: int, s: int | None, p: int, ceil: bool,
          include_pad: bool | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"name": name, "type": kind, "kernel": k, "padding": p,
                           "ceil_mode": ceil}
    if include_pad is not None:
        rec["count_include_pad"] = include_pad
    if s is not None:
        rec["stride"] = s
    return rec


def _with_head(layers: list[dict[str, Any]], hidden: int = 0) -> list[dict[str, Any]]:
    """``layers``, then flatten and linear layers to 10 classes (a hidden one when asked)."""
    import torch

    from model.zoo import build_from_config
    body = build_from_config("case", layers).eval()
    with torch.no_grad():
        n = int(body(torch.zeros(1, 1, 28, 28)).numel())
    tail: list[dict[str, Any]] = [{"name": "flatten", "type": "flatten"}]
    if hidden:
        tail += [{"name": "fc", "type": "linear", "in": n, "out": hidden, "bias": False},
                 {"name": "relu_fc", "type": "relu"},
                 {"name": "drop_fc", "type": "dropout", "p": 0.5}]
        n = hidden
    return layers + tail + [{"name": "head", "type": "linear", "in": n, "out": 10}]


def _conv_case(k: int, p: int, s: int, d: int, bias: bool) -> list[dict[str, Any]]:
    return _with_head([
        _conv("conv1", 1, 3, k, s, p, d, bias),
        {"name": "bn1", "type": "bn", "channels": 3},
        {"name": "relu1", "type": "relu"},
        {"name": "drop1", "type": "dropout", "p": 0.2},
        _conv("conv2", 3, 2, 3, 1, 1, 1, not bias),
    ])


def _pool_case(kind: str, k: int, s: int | None, p: int, ceil: bool,
               include_pad: bool | None = None) -> list[dict[str, Any]]:
    return _with_head([
        _conv("conv1", 1, 3, 3, 1, 1),
        {"name": "relu1", "type": "relu"},
        _pool("pool1", kind, k, s, p, ceil, include_pad),
        _conv("conv2", 3, 4, 3, 2, 1),
        {"name": "bn2", "type": "bn", "channels": 4},
    ])


def _grouped_case(groups: int, mult: int, k: int, s: int, p: int, d: int
                  ) -> list[dict[str, Any]]:
    """A conv to 6 channels, then a grouped conv (``groups`` groups, ``mult`` outputs per input
    channel of a group: groups 6 and mult 1 is depthwise), then a pointwise one."""
    return _with_head([
        _conv("conv1", 1, 6, 3, 1, 1),
        {"name": "relu1", "type": "relu"},
        _conv("conv2", 6, 6 * mult, k, s, p, d, bias=mult == 1, groups=groups),
        {"name": "bn2", "type": "bn", "channels": 6 * mult},
        _conv("conv3", 6 * mult, 4, 1, groups=2),
    ])


def _conv_cases() -> dict[str, list[dict[str, Any]]]:
    cases: dict[str, list[dict[str, Any]]] = {}
    for groups, mult, k, s, p, d in ((2, 1, 3, 1, 1, 1), (3, 2, 3, 2, 1, 1), (6, 1, 3, 1, 1, 1),
                                     (6, 2, 5, 2, 2, 1), (6, 1, 3, 1, 2, 2)):
        tag = "depthwise" if groups == 6 else f"groups{groups}"
        cases[f"conv-{tag}-x{mult}-k{k}-s{s}-p{p}-d{d}"] = _grouped_case(groups, mult, k, s, p, d)
    kernels = itertools.cycle((3, 5, 2))
    for i, (p, s, d) in enumerate(itertools.product((0, 1, 2), (1, 2, 3), (1, 2))):
        k = next(kernels)
        cases[f"conv-k{k}-p{p}-s{s}-d{d}"] = _conv_case(k, p, s, d, bias=i % 2 == 0)
    return cases


def _pool_cases(kind: str) -> dict[str, list[dict[str, Any]]]:
    cases: dict[str, list[dict[str, Any]]] = {}
    for k, s, p, ceil in itertools.product((2, 3), (None, 1, 2, 3), (0, 1), (False, True)):
        if p <= k // 2:  # torch's rule: padding at most half the kernel
            cases[f"{kind}-k{k}-s{s or k}-p{p}-{'ceil' if ceil else 'floor'}"] = _pool_case(
                kind, k, s, p, ceil)
            if kind == "avgpool" and p:  # the average of the image's cells only
                cases[f"{kind}-k{k}-s{s or k}-p{p}-{'ceil' if ceil else 'floor'}-nopad"] = \
                    _pool_case(kind, k, s, p, ceil, include_pad=False)
    return cases


def _gap_cases() -> dict[str, list[dict[str, Any]]]:
    return {"gap-conv-head": [  # the compact zoo network's ending: a 1x1 conv after gap
        _conv("conv1", 1, 4, 3, 1, 0, 1, False),
        {"name": "bn1", "type": "bn", "channels": 4},
        {"name": "relu1", "type": "relu"},
        {"name": "gap", "type": "gap"},
        _conv("head", 4, 10, 1),
        {"name": "flatten", "type": "flatten"},
    ]}


def _linear_cases() -> dict[str, list[dict[str, Any]]]:
    return {"linear-stack": _with_head([
        _conv("conv1", 1, 2, 5, 2, 0, 1, True),
        {"name": "relu1", "type": "relu"},
        _pool("pool1", "maxpool", 2, 2, 0, False),
    ], hidden=16)}


def _activation_cases(kind: str, options: tuple[dict[str, Any], ...] = ({},)
                      ) -> dict[str, list[dict[str, Any]]]:
    """An activation after a conv (on maps) and after a hidden linear layer (on a vector), once
    per set of options (a large weight scale in the conv drives it into saturation)."""
    cases: dict[str, list[dict[str, Any]]] = {}
    for i, opts in enumerate(options):
        tag = "-".join(f"{k}{v}" for k, v in opts.items()) or "default"
        cases[f"{kind}-{tag}-maps"] = _with_head([
            _conv("conv1", 1, 3, 3, 1, 1), {"name": "act1", "type": kind, **opts},
            _conv("conv2", 3, 2, 3, 2, 1), {"name": "act2", "type": kind, **opts}])
        if i == 0:
            cases[f"{kind}-{tag}-vector"] = [
                {"name": "flatten", "type": "flatten"},
                {"name": "fc1", "type": "linear", "in": 784, "out": 12},
                {"name": "act1", "type": kind, **opts},
                {"name": "head", "type": "linear", "in": 12, "out": 10}]
    return cases


def _prelu_cases() -> dict[str, list[dict[str, Any]]]:
    """PReLU with one shared slope and one per channel, on maps and on a vector (slopes drawn
    of both signs by :func:`_model`)."""
    cases = _activation_cases("prelu")  # one shared slope: torch's default
    cases["prelu-per-channel-maps"] = _with_head([
        _conv("conv1", 1, 3, 3, 1, 1), {"name": "act1", "type": "prelu", "num_parameters": 3},
        _conv("conv2", 3, 2, 3, 2, 1), {"name": "act2", "type": "prelu", "num_parameters": 2}])
    cases["prelu-per-feature-vector"] = [
        {"name": "flatten", "type": "flatten"},
        {"name": "fc1", "type": "linear", "in": 784, "out": 12},
        {"name": "act1", "type": "prelu", "num_parameters": 12},
        {"name": "head", "type": "linear", "in": 12, "out": 10}]
    return cases


def _gmp_cases() -> dict[str, list[dict[str, Any]]]:
    return {"gmp-conv-head": [
        _conv("conv1", 1, 4, 3, 1, 1, 1, True),
        {"name": "relu1", "type": "relu"},
        {"name": "gmp", "type": "gmp"},
        _conv("head", 4, 10, 1),
        {"name": "flatten", "type": "flatten"},
    ], "gmp-linear-head": _with_head([_conv("conv1", 1, 5, 5, 2, 0, 1, False),
                                      {"name": "gmp", "type": "gmp"}])}


def _graph(name: str) -> list[dict[str, Any]]:
    from tests.graph_networks import GRAPHS
    return GRAPHS[name]()


# One row per layer type of viz.network.layertypes: the cases that run its options (BatchNorm, ReLU and
# dropout also run in every conv case, flatten in nearly every case).
ROWS: dict[str, Any] = {
    "conv": _conv_cases,
    "bn": lambda: {"bn-alone": _with_head([_conv("conv1", 1, 3, 3, 1, 1),
                                           {"name": "bn1", "type": "bn", "channels": 3}])},
    "relu": lambda: {"relu-alone": _with_head([_conv("conv1", 1, 3, 3, 1, 1),
                                               {"name": "relu1", "type": "relu"}])},
    "tanh": lambda: _activation_cases("tanh"),
    "sigmoid": lambda: _activation_cases("sigmoid"),
    "leakyrelu": lambda: _activation_cases("leakyrelu", ({}, {"negative_slope": 0.2},
                                                         {"negative_slope": 0.0})),
    "prelu": lambda: _prelu_cases(),
    "elu": lambda: _activation_cases("elu"),
    "dropout": lambda: {"dropout-alone": _with_head([_conv("conv1", 1, 3, 3, 1, 1),
                                                     {"name": "drop1", "type": "dropout",
                                                      "p": 0.5}])},
    "maxpool": lambda: _pool_cases("maxpool"),
    "avgpool": lambda: _pool_cases("avgpool"),
    "gap": _gap_cases,
    "gmp": _gmp_cases,
    "flatten": lambda: {"flatten-after-whole-map-conv": [_conv("conv1", 1, 10, 28),
                                                        {"name": "flatten", "type": "flatten"}]},
    "linear": _linear_cases,
    # graph networks (records naming their inputs): residual adds of two and three branches
    # with a strided projection shortcut (resnet-mini), a three-branch channel concat
    "add": lambda: {"add-resnet-mini": _graph("resnet-mini"), "add-three-way": _graph("add3")},
    "concat": lambda: {"concat-three-branches": _graph("concat")},
}


def _cases() -> dict[str, list[dict[str, Any]]]:
    """Every row's cases, in the registry's order of layer types."""
    from viz.network.layertypes import LAYER_TYPES
    cases: dict[str, list[dict[str, Any]]] = {}
    for kind in LAYER_TYPES:
        if kind in ROWS:
            cases.update(ROWS[kind]())
    return cases


CASES = _cases()


def _model(layers: list[dict[str, Any]], seed: int):
    """A zoo network of ``layers`` with random weights and random BatchNorm statistics."""
    import torch

    from model.zoo import build_from_config
    torch.manual_seed(seed)
    model = build_from_config("case", layers).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(-0.5, 0.8)
    return model


def _images() -> np.ndarray:
    with np.load(ROOT / "checkpoints" / "samples.npz", allow_pickle=False) as data:
        digit = data["images"][3]
    noise = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    return np.stack([digit, noise])


@pytest.fixture(scope="module")
def page():
    with new_page(400, 300) as page:
        page.set_content(f'<script type="module">{forward_script()}</script>')
        page.wait_for_function("() => window.ready === true", timeout=30_000)
        yield page


@pytest.mark.parametrize("case", list(CASES))
def test_forward_agrees(page, case: str) -> None:
    from model.files.export import numpy_net
    from model.insight.activations import activations, as_input
    from viz.browser import lens as vlens
    from viz.network.npforward import forward

    layers = CASES[case]
    model = _model(layers, seed=len(case))
    net = numpy_net(model, {"arch": case})
    payload = vlens.payload(net)
    assert payload["supported"], payload["reason"]
    images = _images()
    ours = page.evaluate("([p, ims]) => window.lensForward(p, ims)",
                         [payload, [im.reshape(-1).tolist() for im in images]])
    for which, image, js in zip(("digit", "noise"), images, ours):
        ref = activations(model, as_input(image))
        npy = forward(net, image)
        assert list(js) == list(ref) == list(npy)
        for name, want in ref.items():
            scale = max(1.0, float(np.abs(want).max()))
            assert tuple(js[name]["shape"]) == want.shape, f"{case} {name}"
            got = np.frombuffer(base64.b64decode(js[name]["data"]), dtype="<f4").astype(np.float64)
            got = got.reshape(want.shape)
            err_js = float(np.abs(got - want).max()) / scale
            err_np = float(np.abs(npy[name].reshape(want.shape) - want).max()) / scale
            assert err_js <= TOL, f"{case} ({which}) {name}: browser off torch by {err_js:.2e}"
            assert err_np <= TOL, f"{case} ({which}) {name}: numpy off torch by {err_np:.2e}"


def test_every_layer_type_has_a_row_that_runs_it() -> None:
    from viz.network.layertypes import LAYER_TYPES
    assert set(ROWS) == set(LAYER_TYPES), (
        f"layer types without a row here: {sorted(set(LAYER_TYPES) - set(ROWS))}; "
        f"rows of no type: {sorted(set(ROWS) - set(LAYER_TYPES))}")
    for kind, row in ROWS.items():
        cases = row()
        assert cases, f"the {kind} row has no cases"
        for name, layers in cases.items():
            assert kind in {rec["type"] for rec in layers}, f"{name} runs no {kind} layer"
            assert name in CASES


def test_the_browser_runs_every_layer_type(page) -> None:
    from viz.network.layertypes import LAYER_TYPE_LIST
    ops = set(page.evaluate("() => window.forwardTypes"))
    missing = {t.name: t.browser for t in LAYER_TYPE_LIST if t.browser not in ops}
    assert not missing, f"entries whose browser op forward.js lacks: {missing}"
    assert ops == {t.browser for t in LAYER_TYPE_LIST}, "ops of no entry"
