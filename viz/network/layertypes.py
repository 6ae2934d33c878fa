"""The layer types: one :class:`LayerType` entry per type, the one source every part reads.

A network is a list of layer records (plain dicts such as ``{"name": "conv1", "type": "conv",
"in": 1, "out": 8, "kernel": 3}``, see ``viz.network.layers``). A type's entry holds:

- what a record may carry (``options``, with ranges and defaults) and where it fits
  (``reads``, ``after_flatten``, ``needs_flatten``);
- its arithmetic: output shape, tensors, MACs, and its ``role`` in the receptive-field engine
  (``field``, ``keep``, ``global``, ``join``; handed to the engine by :data:`ROLES`);
- how each part runs it: the numpy op (``viz.network.npforward``), the torch class and its
  arguments (``model.zoo``), the browser's forward op (``LAYER_OPS`` in the lens's forward.js)
  and backward op (``BACKWARD_OPS`` in backward.js), the Guided Backprop rule
  (``model.saliency.guided_backprop``), the DeepLift rule (Captum's, which the browser's
  attribute.js follows), the training cost weight
  (``model.training.budget``), the ONNX ops and Keras classes read as it, and the lab's rows.

Adding a layer type: its entry here (helpers in ``viz.network.layerops``), its ops in forward.js
and backward.js, and its cases in the browser's forward and backward tests.
``tests/viz/network/test_layertypes.py`` runs every entry through every part and names what is
missing.

numpy and the standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from viz import receptive_field
from viz.limits import LAYER_WIDTH, LAYER_WINDOW
from viz.network import layerops as ops
from viz.network.layerops import (
    BN_EPS,
    NUM_CLASSES,
    LayerRecord,
    RowContext,
    Shape,
    conv2d,
    pool2d,
)

__all__ = ["AFTER_FLATTEN", "BN_EPS", "FIELD_CHANGERS", "GLOBAL_TYPES", "GUIDED_RULES",
           "DEEPLIFT_RULES", "JOIN_TYPES", "LAYER_TYPES", "LAYER_TYPE_LIST",
           "NUM_CLASSES", "ROLES", "SHAPE_KEEPERS", "TYPES", "LayerType", "Option",
           "RowContext", "conv2d", "listed", "pool2d"]

KERNEL = "kernel"  # an option's default that is the record's kernel (torch pools' stride)
# Guided Backprop's rule at a layer: "positive" clamps the gradient into its input at zero
# (Captum's rule at a ReLU), "none" passes the plain gradient
GUIDED_RULES = ("positive", "none")
# DeepLift's rule at a layer, as Captum applies it: "rescale" (the multiplier dOut/dIn, the plain
# gradient where dIn is about 0), "maxpool" (Captum's max pooling rule) or "gradient" (the plain
# gradient: a linear layer, or a nonlinear one Captum does not hook: PReLU, global max pooling)
DEEPLIFT_RULES = ("rescale", "maxpool", "gradient")


@dataclass(frozen=True)
class Option:
    """One key a layer record may carry: its kind, range and default.

    ``kind``: ``"width"`` (a whole number from ``lo`` to :data:`LAYER_WIDTH`), ``"window"`` (a
    whole number from ``lo`` to :data:`LAYER_WINDOW`), ``"bool"`` or ``"fraction"`` (a number
    from 0 to below 1). ``default``: ``None`` when the key is required, :data:`KERNEL` when it
    defaults to the record's kernel.
    """

    key: str
    kind: str
    lo: int = 0
    default: Any = None

    @property
    def hi(self) -> int:
        return LAYER_WINDOW if self.kind == "window" else LAYER_WIDTH


NumpyOp = Callable[[np.ndarray, LayerRecord, dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class LayerType:
    """Everything the app knows about one layer type (see the module docstring).

    The fields after ``to_row`` are keyword-only and have no default: every entry says its
    training cost, Guided Backprop rule, browser op and file mappings.
    """

    name: str
    role: str  # "field", "keep", "global" or "join" (the receptive-field engine's roles)
    options: tuple[Option, ...]
    torch: str  # the torch module's class name (torch.nn's, or model.zoo's own: Add, Concat)
    numpy: NumpyOp
    prefix: str  # the lab's layer names: prefix + number
    from_row: Callable[[dict[str, Any], RowContext], LayerRecord]
    to_row: Callable[[LayerRecord], dict[str, Any]]
    _: KW_ONLY
    cost: float  # training work per output number, in ReLUs (model.training.budget)
    guided: str  # Guided Backprop's rule at this layer (GUIDED_RULES)
    browser: str  # its op's name in the lens's forward.js LAYER_OPS
    browser_backward: str  # its gradient op's name in backward.js BACKWARD_OPS
    deeplift: str  # DeepLift's rule at this layer (DEEPLIFT_RULES)
    onnx: tuple[str, ...]  # ONNX ops read as this type
    keras: tuple[str, ...]  # Keras layer classes read as this type
    keras_activation: str | None = None  # the Keras activation name read as it ("relu")
    torch_args: Callable[[LayerRecord], dict[str, Any]] = lambda rec: {}  # the class's arguments
    params: Callable[[LayerRecord], dict[str, Shape]] = lambda rec: {}
    out_shape: Callable[[LayerRecord, Shape, tuple[int, int]], Shape] = lambda rec, s, hw: s
    macs: Callable[[LayerRecord, Shape], int] = lambda rec, out: 0
    reads: tuple[str, str] | None = None  # (key, refusal with {n} the key's value, {m} made)
    after_flatten: bool = False  # may follow a flatten
    needs_flatten: bool = False  # reads a vector: a flatten must come before it
    label: str = ""  # how messages name the layer ("pooling"); the name when empty
    # a join (role "join": add, concat): the output shape from its inputs' shapes, in the order
    # of the record's ``inputs`` (``ValueError`` naming them when they do not fit); its
    # ``numpy`` op then takes the list of its inputs' arrays
    merge: Callable[[LayerRecord, list[Shape]], Shape] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys a record of this type may carry besides ``name`` and ``type``."""
        return tuple(o.key for o in self.options)

    @property
    def noun(self) -> str:
        return self.label or self.name

    def option(self, key: str) -> Option:
        for o in self.options:
            if o.key == key:
                return o
        raise KeyError(f"a {self.name} layer has no option {key!r}")

    def value(self, rec: LayerRecord, key: str) -> Any:
        """``rec[key]``, or the option's default when the record leaves it out."""
        if rec.get(key) is not None:
            return rec[key]
        default = self.option(key).default
        return rec.get("kernel") if default == KERNEL else default


def _activation(name: str, torch_name: str, op: NumpyOp, prefix: str, *, onnx: str,
                keras: tuple[str, ...] = (), keras_activation: str | None = None,
                **more: Any) -> LayerType:
    """An elementwise activation of no options, which may follow a flatten."""
    more.setdefault("from_row", lambda row, ctx: {})
    more.setdefault("to_row", lambda rec: {})
    return LayerType(name, "keep", more.pop("options", ()), torch_name, op, prefix,
                     more.pop("from_row"), more.pop("to_row"), cost=more.pop("cost", 1.0),
                     guided="positive", browser=name, browser_backward=name,
                     deeplift=more.pop("deeplift", "rescale"), onnx=(onnx,), keras=keras,
                     keras_activation=keras_activation, after_flatten=True, **more)


_WINDOW = (Option("kernel", "window", 1), Option("stride", "window", 1, KERNEL),
           Option("padding", "window", 0, 0))
_POOL = (*_WINDOW, Option("ceil_mode", "bool", default=False))


def _pool_type(name: str, torch_name: str, prefix: str, onnx: str, keras: str,
               options: tuple[Option, ...] = _POOL,
               from_row: Callable[[dict[str, Any], RowContext], LayerRecord] = ops._pool_from_row,
               to_row: Callable[[LayerRecord], dict[str, Any]] = ops._window_row) -> LayerType:
    return LayerType(
        name, "field", options, torch_name, ops._np_pool, prefix, from_row, to_row,
        cost=1.0, guided="none", browser=name, browser_backward=name,
        deeplift="maxpool" if name == "maxpool" else "gradient", onnx=(onnx,), keras=(keras,),
        torch_args=ops._torch_pool, out_shape=lambda rec, s, hw: (s[0], *hw), label="pooling")


def _global_pool(name: str, torch_name: str, op: NumpyOp, onnx: tuple[str, ...],
                 keras: str) -> LayerType:
    return LayerType(
        name, "global", (), torch_name, op, name, lambda row, ctx: {}, lambda rec: {},
        cost=1.0, guided="none", browser=name, browser_backward=name, deeplift="gradient",
        onnx=onnx, keras=(keras,), torch_args=lambda rec: {"output_size": 1},
        out_shape=lambda rec, s, hw: (s[0], 1, 1))


# The cost weights: how many numbers' worth of work one output number costs in a training step
# (ReLU = 1; measured forward + backward, one thread): BatchNorm normalises and keeps statistics,
# dropout draws and applies a mask, a conv adds its bias and reorders its output. The other
# types were not measured apart and count as ReLU.
LAYER_TYPE_LIST: tuple[LayerType, ...] = (
    LayerType(
        "conv", "field",
        (Option("in", "width", 1), Option("out", "width", 1), Option("kernel", "window", 1),
         Option("stride", "window", 1, 1), Option("padding", "window", 0, 0),
         Option("dilation", "window", 1, 1), Option("bias", "bool", default=True),
         Option("groups", "width", 1, 1)),
        "Conv2d", ops._np_conv, "conv", ops._conv_from_row, ops._conv_row,
        cost=2.0, guided="none", browser="conv",
        browser_backward="conv", deeplift="gradient", onnx=("Conv",),
        keras=("Conv2D", "DepthwiseConv2D"), torch_args=ops._torch_conv,
        params=ops._conv_params, out_shape=ops._conv_shape, macs=ops._conv_macs,
        reads=("in", "reads {n} channels, but the layer before it makes {m}.")),
    LayerType(
        "bn", "keep", (Option("channels", "width", 1),), "BatchNorm2d", ops._np_bn, "bn",
        lambda row, ctx: {"channels": ctx.channels}, lambda rec: {},
        cost=2.5, guided="none", browser="bn",
        browser_backward="bn", deeplift="gradient", onnx=("BatchNormalization",),
        keras=("BatchNormalization",), torch_args=lambda rec: {"num_features": rec["channels"]},
        params=ops._bn_params,
        reads=("channels", "normalises {n} channels, but the layer before it makes {m}.")),
    _activation("relu", "ReLU", lambda x, rec, t: np.maximum(x, 0), "relu", onnx="Relu",
                keras=("ReLU",), keras_activation="relu"),
    _activation("tanh", "Tanh", lambda x, rec, t: np.tanh(x), "tanh", onnx="Tanh",
                keras_activation="tanh"),
    _activation("sigmoid", "Sigmoid", ops._np_sigmoid, "sigmoid", onnx="Sigmoid",
                keras_activation="sigmoid"),
    _activation("leakyrelu", "LeakyReLU", ops._np_leakyrelu, "leaky", onnx="LeakyRelu",
                keras=("LeakyReLU",), keras_activation="leaky_relu",
                options=(Option("negative_slope", "fraction", default=0.01),),
                from_row=ops._leakyrelu_from_row, to_row=ops._leakyrelu_row,
                torch_args=lambda rec: {
                    "negative_slope": TYPES["leakyrelu"].value(rec, "negative_slope")}),
    # PReLU: a leaky ReLU whose slope is learned, one shared (torch's default) or one per channel
    _activation("prelu", "PReLU", ops._np_prelu, "prelu", onnx="PRelu", keras=("PReLU",),
                options=(Option("num_parameters", "width", 1, 1),),
                from_row=ops._prelu_from_row, to_row=ops._prelu_row,
                torch_args=lambda rec: {
                    "num_parameters": TYPES["prelu"].value(rec, "num_parameters")},
                params=ops._prelu_params, out_shape=ops._prelu_shape, deeplift="gradient"),
    # ELU with alpha 1 (torch's and Keras's default): exp(x) - 1 below zero
    _activation("elu", "ELU", ops._np_elu, "elu", onnx="Elu", keras=("ELU",),
                keras_activation="elu"),
    LayerType(
        "dropout", "keep", (Option("p", "fraction", default=0.0),), "Dropout",
        lambda x, rec, t: x, "drop", lambda row, ctx: {"p": 0.05}, lambda rec: {},
        cost=3.0, guided="none", browser="dropout",
        browser_backward="dropout", deeplift="gradient", onnx=(), keras=("Dropout",),
        torch_args=lambda rec: {"p": TYPES["dropout"].value(rec, "p")}, after_flatten=True),
    _pool_type("maxpool", "MaxPool2d", "pool", "MaxPool", "MaxPooling2D"),
    _pool_type("avgpool", "AvgPool2d", "avgpool", "AveragePool", "AveragePooling2D",
               (*_POOL, Option("count_include_pad", "bool", default=True)),
               ops._avgpool_from_row, ops._avgpool_row),
    _global_pool("gap", "AdaptiveAvgPool2d", lambda x, rec, t: x.mean(axis=(1, 2), keepdims=True),
                 ("GlobalAveragePool", "ReduceMean"), "GlobalAveragePooling2D"),
    _global_pool("gmp", "AdaptiveMaxPool2d", lambda x, rec, t: x.max(axis=(1, 2), keepdims=True),
                 ("GlobalMaxPool", "ReduceMax"), "GlobalMaxPooling2D"),
    LayerType(
        "flatten", "global", (), "Flatten", lambda x, rec, t: x.reshape(-1), "flatten",
        ops._flatten_from_row, lambda rec: {}, cost=1.0, guided="none", browser="flatten",
        browser_backward="flatten", deeplift="gradient",
        onnx=("Flatten", "Reshape"), keras=("Flatten",),
        out_shape=lambda rec, s, hw: (math.prod(s),)),
    LayerType(
        "linear", "global",
        (Option("in", "width", 1), Option("out", "width", 1),
         Option("bias", "bool", default=True)),
        "Linear", ops._np_linear, "fc", ops._linear_from_row,
        lambda rec: {"channels": rec["out"]}, cost=1.0, guided="none", browser="linear",
        browser_backward="linear", deeplift="gradient",
        onnx=("Gemm", "MatMul"), keras=("Dense",),
        torch_args=lambda rec: {"in_features": rec["in"], "out_features": rec["out"],
                                "bias": TYPES["linear"].value(rec, "bias")},
        params=ops._linear_params, out_shape=lambda rec, s, hw: (rec["out"],),
        macs=lambda rec, out: rec["in"] * rec["out"],
        reads=("in", "reads {n:,} features, but the layer before it makes {m:,}."),
        after_flatten=True, needs_flatten=True),
    # joins: two or more inputs, named by the record's "inputs" (see viz.network.layers)
    LayerType(
        "add", "join", (), "Add", lambda xs, rec, t: ops._np_add(xs), "add",
        lambda row, ctx: {}, lambda rec: {}, cost=1.0, guided="none", browser="add",
        browser_backward="add", deeplift="gradient",
        onnx=("Add",), keras=("Add",), merge=ops._add_shape),
    LayerType(
        "concat", "join", (), "Concat",
        lambda xs, rec, t: np.concatenate(xs, axis=0), "cat",
        lambda row, ctx: {}, lambda rec: {}, cost=1.0, guided="none", browser="concat",
        browser_backward="concat", deeplift="gradient",
        onnx=("Concat",), keras=("Concatenate",), merge=ops._concat_shape),
)

TYPES: dict[str, LayerType] = {t.name: t for t in LAYER_TYPE_LIST}
ops.ENTRIES.update(TYPES)  # the helpers read their options' defaults from the entries
LAYER_TYPES: tuple[str, ...] = tuple(TYPES)
FIELD_CHANGERS = tuple(t.name for t in LAYER_TYPE_LIST if t.role == "field")
SHAPE_KEEPERS = tuple(t.name for t in LAYER_TYPE_LIST if t.role == "keep")
GLOBAL_TYPES = tuple(t.name for t in LAYER_TYPE_LIST if t.role == "global")
JOIN_TYPES = tuple(t.name for t in LAYER_TYPE_LIST if t.role == "join")  # two or more inputs
# what may follow a flatten: the vector readers first ("linear, relu and dropout")
AFTER_FLATTEN = tuple(sorted((t.name for t in LAYER_TYPE_LIST if t.after_flatten),
                             key=lambda n: not TYPES[n].needs_flatten))
# {type: role}: what the receptive-field engine reads each type as (handed to it here)
ROLES: dict[str, str] = {t.name: t.role for t in LAYER_TYPE_LIST}
receptive_field.use_roles(ROLES)


def listed(names: tuple[str, ...]) -> str:
    """'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
