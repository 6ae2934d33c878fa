"""The registry of layer types (viz.network.layertypes): every type has every part, and every reader
agrees with it (the card checks, the lab, the lens, the numpy forward pass, the torch builder, the
receptive-field engine). The browser's op of each type is checked in
tests/app/browser/test_forward_browser.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from model.zoo import BUILDERS, build_from_config, build_layer, walk
from viz import receptive_field as engine
from viz.browser import lens
from viz.network import card, layers, npforward
from viz.network.layertypes import (
    FIELD_CHANGERS,
    GLOBAL_TYPES,
    JOIN_TYPES,
    LAYER_TYPE_LIST,
    LAYER_TYPES,
    SHAPE_KEEPERS,
    TYPES,
    LayerType,
)
from viz.teaching import lab

# Where a lab row of a type fits, tried in order: between a conv and a conv head, or in the
# vector part of a network
TEMPLATES = (
    lambda t: [{"type": "conv", "channels": 4, "padding": 1}, {"type": t}, {"type": "gap"},
               {"type": "conv", "kernel": 1, "channels": 10}, {"type": "flatten"}],
    lambda t: [{"type": "conv", "channels": 4}, {"type": "gap"}, {"type": "flatten"},
               {"type": t}, {"type": "linear", "channels": 10}],
    lambda t: [{"type": "conv", "channels": 4}, {"type": "gap"}, {"type": t},
               {"type": "linear", "channels": 10}],
    # a join of two branches of one map (the second conv reads the image too)
    lambda t: [{"type": "conv", "channels": 4, "padding": 1},
               {"type": "conv", "channels": 4, "padding": 1, "inputs": "input"},
               {"type": t, "inputs": "conv1, conv2"}, {"type": "gap"},
               {"type": "conv", "kernel": 1, "channels": 10}, {"type": "flatten"}],
)


def network_with(kind: str) -> list[dict[str, Any]]:
    """The layer records of the first template network with a lab row of ``kind`` that the
    card checks accept."""
    problems = []
    for template in TEMPLATES:
        try:
            records = lab.rows_to_layers(template(kind))
            card.analyse_checked(records)
            return records
        except ValueError as exc:
            problems.append(str(exc))
    raise AssertionError(f"no network with a {kind} row passes the checks: {problems}")


def test_the_groups_are_the_registry() -> None:
    assert LAYER_TYPES == tuple(t.name for t in LAYER_TYPE_LIST) == layers.LAYER_TYPES
    assert lab.ROW_TYPES == lens.LENS_TYPES == LAYER_TYPES
    assert set(FIELD_CHANGERS) | set(SHAPE_KEEPERS) | set(GLOBAL_TYPES) | set(JOIN_TYPES) == \
        set(LAYER_TYPES)
    assert {t.role for t in LAYER_TYPE_LIST} <= {"field", "keep", "global", "join"}
    assert all((t.merge is not None) == (t.role == "join") for t in LAYER_TYPE_LIST)
    assert (layers.FIELD_CHANGERS, layers.SHAPE_KEEPERS) == (FIELD_CHANGERS, SHAPE_KEEPERS)


def test_the_engine_reads_every_type_as_its_role_says() -> None:
    # the table hands the engine its roles; the engine keeps rules only for its own types
    assert all(engine.role_of(t.name) == t.role for t in LAYER_TYPE_LIST)
    assert set(engine.RULES) == set(FIELD_CHANGERS) | set(JOIN_TYPES)


ROOT = Path(__file__).resolve().parents[3]
# entries whose ONNX ops and Keras classes the file readers do not read yet: wiring a reader to
# the entries empties this (and the test below then asks for it to be emptied)
NOT_YET_READ: set[str] = set()
# ONNX ops read for the network's structure or folded into a layer, not as a layer type
ONNX_STRUCTURE = {"Cast", "Pad", "Transpose", "Squeeze", "Unsqueeze", "Sub", "Mul", "Div",
                  "Dropout", "Identity", "Softmax", "LogSoftmax"}
KERAS_STRUCTURE = {"InputLayer", "Reshape", "Activation", "Rescaling"}


def browser_ops() -> set[str]:
    """The keys of LAYER_OPS in the lens's forward.js."""
    text = (ROOT / "ui" / "components" / "js" / "forward.js").read_text(encoding="utf-8")
    block = text[text.index("const LAYER_OPS = {"):]
    block = block[:block.index("\n};\n")]
    return set(re.findall(r"^  (\w+):", block, flags=re.M))


def _captum_deeplift(kind: str) -> str:
    """The rule Captum's DeepLift applies at a layer of type ``kind`` (what the browser's
    attribute.js must copy): its maxpool rule, its rescale rule, or none (the plain gradient)."""
    from captum.attr._core import deep_lift

    from model.zoo import module_class
    rule = deep_lift.SUPPORTED_NON_LINEAR.get(module_class(kind))
    if rule is None:
        return "gradient"
    return "maxpool" if rule is deep_lift.maxpool2d else "rescale" if rule is deep_lift.nonlinear \
        else rule.__name__


def backward_ops() -> set[str]:
    """The keys of BACKWARD_OPS in the browser's backward.js."""
    text = (ROOT / "ui" / "components" / "js" / "backward.js").read_text(encoding="utf-8")
    block = text[text.index("const BACKWARD_OPS = {"):]
    block = block[:block.index("\n};\n")]
    return set(re.findall(r"^  (\w+):", block, flags=re.M))


def missing_parts(kind: str) -> list[str]:
    """What layer type ``kind``'s entry does not reach, in words (empty when it reaches all)."""
    from model.saliency.guided_backprop import GUIDED_ACTIVATIONS
    from model.training import budget
    from model.zoo import module_class
    from viz.network.layertypes import DEEPLIFT_RULES, GUIDED_RULES

    t, missing = TYPES[kind], []
    records = network_with(kind)
    rec = next(r for r in records if r["type"] == kind)
    try:
        if type(build_layer(rec)).__name__ != t.torch:
            missing.append(f"the builder makes no {t.torch}")
    except Exception as exc:  # noqa: BLE001 (named in the failure)
        missing.append(f"the builder fails: {exc}")
    tensors = {k: v.detach().numpy() for k, v in build_from_config("c", records).state_dict()
               .items()}
    try:
        out = npforward.forward(npforward.NumpyNet("c", records, tensors),
                                np.zeros((28, 28), np.uint8))
        if out[rec["name"]].shape != layers.describe(records)[records.index(rec)].shape:
            missing.append("the numpy forward pass makes another shape")
    except Exception as exc:  # noqa: BLE001
        missing.append(f"the numpy forward pass fails: {exc}")
    if t.browser not in browser_ops():
        missing.append(f"forward.js LAYER_OPS has no op {t.browser!r}")
    if t.browser_backward not in backward_ops():
        missing.append(f"backward.js BACKWARD_OPS has no op {t.browser_backward!r}")
    if t.deeplift not in DEEPLIFT_RULES:
        missing.append(f"no DeepLift rule ({t.deeplift!r})")
    elif _captum_deeplift(kind) != t.deeplift:
        missing.append(f"its DeepLift rule {t.deeplift!r} is not Captum's "
                       f"({_captum_deeplift(kind)!r})")
    if engine.role_of(kind) != t.role:
        missing.append(f"the receptive-field engine reads it as {engine.role_of(kind)!r}")
    if t.guided not in GUIDED_RULES:
        missing.append(f"no Guided Backprop rule ({t.guided!r})")
    elif (module_class(kind) in GUIDED_ACTIVATIONS) != (t.guided == "positive"):
        missing.append("Guided Backprop does not apply its rule")
    if not (isinstance(t.cost, float) and t.cost > 0 and budget.ELEMENT_WEIGHT.get(kind) == t.cost):
        missing.append("no training cost weight")
    if not t.onnx and kind != "dropout":  # ONNX's Dropout is read as nothing (eval mode)
        missing.append("no ONNX op")
    if not t.keras and t.keras_activation is None:
        missing.append("no Keras class or activation")
    return missing


@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_every_entry_reaches_every_part(kind: str) -> None:
    missing = missing_parts(kind)
    assert not missing, f"layer type {kind!r}: " + "; ".join(missing)


def test_the_file_readers_tables_agree_with_the_entries() -> None:
    from model.files import keras_import, onnx_import
    from model.files.keras_reader import layers as keras_layers
    from model.files.onnx_reader import ops as onnx_ops
    from model.files.onnx_reader.walk import Walker

    named = {op: t.name for t in LAYER_TYPE_LIST for op in t.onnx}
    assert len(named) == sum(len(t.onnx) for t in LAYER_TYPE_LIST), "an ONNX op on two entries"
    for t in LAYER_TYPE_LIST:
        read = set(t.onnx) <= set(onnx_import.LAYER_OPS)
        assert read == (t.name not in NOT_YET_READ), (
            f"{t.name}: ONNX ops {t.onnx} {'are' if read else 'are not'} read by the reader")
        read = set(t.keras) <= set(keras_import.CLASSES) and (
            t.keras_activation is None or t.keras_activation in keras_import.ACTIVATIONS)
        assert read == (t.name not in NOT_YET_READ), (
            f"{t.name}: Keras classes {t.keras} {'are' if read else 'are not'} read by the reader")
    # every layer op and class the readers read is some entry's, read as that entry's type by
    # a handler the reader has
    now = {op for op, kind in named.items() if kind not in NOT_YET_READ}
    assert set(onnx_import.LAYER_OPS) - ONNX_STRUCTURE == now
    for op in now:
        spec = onnx_ops.TABLE[op]
        assert spec.kind == named[op] and callable(getattr(Walker, spec.handler, None)), op
    for op in ONNX_STRUCTURE:
        assert onnx_ops.TABLE[op].kind is None and hasattr(Walker, onnx_ops.TABLE[op].handler)
    assert set(keras_import.CLASSES) - KERAS_STRUCTURE == {
        c for t in LAYER_TYPE_LIST if t.name not in NOT_YET_READ for c in t.keras}
    for t in LAYER_TYPE_LIST:
        for c in t.keras:
            spec = keras_layers.TABLE[c]
            assert spec.kind == t.name and spec.handler in keras_layers.HANDLERS, c
    activations = {t.keras_activation: t.name for t in LAYER_TYPE_LIST
                   if t.keras_activation and t.name not in NOT_YET_READ}
    assert activations == keras_import.ACTIVATIONS


@pytest.mark.parametrize("kind", FIELD_CHANGERS)
def test_the_engine_takes_the_registry_defaults(kind: str) -> None:
    t = TYPES[kind]
    bare = {"name": "x", "type": kind, "kernel": 3}
    (field,) = engine.compute([bare], (28, 28))
    assert field.stride == (t.value(bare, "stride"),) * 2
    assert field.padding == (t.value(bare, "padding"),) * 2
    full = {**bare, **{o.key: (False if o.kind == "bool" else 1) for o in t.options
                       if o.key not in ("in", "out", "kernel", "bias")}}
    engine.compute([full], (28, 28))  # every option the record may carry, the engine reads


@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_every_type_has_every_part(kind: str) -> None:
    t = TYPES[kind]
    assert isinstance(t, LayerType) and t.name == kind
    assert callable(t.numpy) and callable(t.from_row) and callable(t.to_row)
    assert kind in BUILDERS
    records = network_with(kind)
    rec = next(r for r in records if r["type"] == kind)
    assert rec["name"].startswith(t.prefix)
    assert set(rec) - {"name", "type", "inputs"} <= set(t.keys)
    module = build_layer(rec)
    assert type(module).__name__ == t.torch
    # the lab's row <-> record mapping goes both ways
    assert lab.rows_to_layers(lab.layers_to_rows(records)) == records


def test_the_builders_are_the_registry() -> None:
    assert set(BUILDERS) == set(LAYER_TYPES)
    with pytest.raises(ValueError, match="unknown layer type 'lstm'"):
        build_layer({"name": "x", "type": "lstm"})


@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_numpy_torch_shapes_and_params_agree_per_type(kind: str) -> None:
    records = network_with(kind)
    torch.manual_seed(len(kind))
    model = build_from_config("case", records).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    tensors = {k: v.numpy() for k, v in model.state_dict().items()}
    net = npforward.NumpyNet("case", records, tensors)
    image = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    ours = npforward.forward(net, image)
    x = torch.from_numpy(npforward.normalise(image))[None]
    infos = layers.describe(records)
    with torch.no_grad():  # (a join reads the layers its record's inputs name)
        for (name, module, y), info in zip(walk(model, x), infos, strict=True):
            want = y[0].numpy()
            assert ours[name].shape == want.shape == info.shape, name
            scale = max(1.0, float(np.abs(want).max()))
            assert float(np.abs(ours[name] - want).max()) / scale <= 1e-5, name
            params = sum(p.numel() for p in module.parameters())
            assert info.params == params, name
    assert card.expected_tensors(records) == {k: ("I64" if v.dtype == np.int64 else "F32",
                                                  v.shape) for k, v in tensors.items()}


def _refusal(records: list[dict[str, Any]], match: str) -> None:
    with pytest.raises(card.CardError, match=match):
        card.analyse_checked(records)


@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_the_card_checks_every_option_of_every_type(kind: str) -> None:
    records = network_with(kind)
    i = next(i for i, r in enumerate(records) if r["type"] == kind)

    def changed(**change: Any) -> list[dict[str, Any]]:
        out = [dict(r) for r in records]
        out[i].update(change)
        return out

    _refusal(changed(zzz=1), f"a {kind} layer has no 'zzz'")
    for option in TYPES[kind].options:
        if option.default is None:
            missing = [dict(r) for r in records]
            del missing[i][option.key]
            _refusal(missing, f"a {kind} layer needs '{option.key}'")
        if option.kind in ("width", "window"):
            _refusal(changed(**{option.key: option.hi + 1}), f"{option.key} must be between")
            _refusal(changed(**{option.key: 2.5}), f"{option.key} must be a whole number")
        elif option.kind == "bool":
            _refusal(changed(**{option.key: "yes"}), f"{option.key} must be true or false")
        elif option.kind == "fraction":
            _refusal(changed(**{option.key: 1.0}), f"{option.key} must be a number from 0")


@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_the_lens_runs_every_type_and_refuses_unknown_options(kind: str) -> None:
    records = network_with(kind)
    assert lens.unsupported_reason(records) is None
    odd = [dict(r, zzz=1) if r["type"] == kind else r for r in records]
    reason = lens.unsupported_reason(odd)
    assert reason is not None and "zzz" in reason and "does not run" in reason


@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_the_torch_side_engine_spec_reads_each_type_back(kind: str) -> None:
    # model.insight.rf_adapter reads engine specs off torch modules: each type's module is read back as
    # that type, with the same fields as its record gives
    from model.insight.rf_adapter import layer_specs
    records = network_with(kind)
    specs = layer_specs(build_from_config("case", records))
    assert [s["type"] for s in specs] == [r["type"] for r in records]
    assert [(f.rf, f.stride, f.padding, f.output_size) for f in engine.compute(specs, (28, 28))] \
        == [(i.field.rf, i.field.stride, i.field.padding, i.field.output_size)
            for i in layers.describe(records)]


def test_card_and_lab_do_not_import_each_other() -> None:
    import ast
    from pathlib import Path

    def imports(module: str) -> set[str]:
        path = Path(__file__).resolve().parents[3] / f"{module.replace('.', '/')}.py"
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        return names

    card, lab = imports("viz.network.card"), imports("viz.teaching.lab")
    assert "viz.teaching.lab" not in card and "viz.network.card" in lab
    assert not {"viz.network.card", "viz.teaching.lab", "viz.network.layers"} & imports(
        "viz.network.layertypes")
