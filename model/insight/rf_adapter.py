"""Layer specs for the receptive-field engine, read from a real torch network.

Every number the app shows about receptive fields comes from the modules themselves (their
``kernel_size``, ``stride``, ``padding``, ``dilation``, ``ceil_mode``), never from a hand-written
table. The engine itself (``viz.receptive_field``) is pure Python; this is the torch side.

API: ``layer_specs(model) -> list[dict]`` and ``receptive_field_table(model, input_size)``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from model.zoo import Add, Concat, graph_inputs, module_class
from viz.network.layertypes import LAYER_TYPE_LIST
from viz.receptive_field import LayerField, compute

# Elementwise modules: they change values, never which pixels a unit sees. The app's own are the
# torch class of every "keep" entry of the layer types; the others torch has are read as identity.
_ELEMENTWISE: tuple[tuple[type[nn.Module], str], ...] = (
    *((module_class(t.name), t.name) for t in LAYER_TYPE_LIST if t.role == "keep"),
    (nn.Dropout2d, "dropout"),
    (nn.Identity, "identity"),
    (nn.ReLU6, "identity"),
    (nn.GELU, "identity"),
    (nn.SiLU, "identity"),
)


def _is_one(size: Any) -> bool:
    if isinstance(size, int):
        return size == 1
    return tuple(size) == (1, 1)


def _module_spec(name: str, module: nn.Module) -> dict[str, Any]:
    """One layer spec from one leaf module."""
    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros":
            raise ValueError(f"layer {name!r}: padding_mode {module.padding_mode!r} reads real "
                             "pixels as padding; only zero padding is supported")
        padding = module.padding if isinstance(module.padding, str) else list(module.padding)
        return {"name": name, "type": "conv", "kernel": list(module.kernel_size),
                "stride": list(module.stride), "padding": padding,
                "dilation": list(module.dilation)}
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool"
        spec: dict[str, Any] = {"name": name, "type": kind, "kernel": _listify(module.kernel_size),
                                "stride": _listify(module.stride),
                                "padding": _listify(module.padding),
                                "ceil_mode": bool(module.ceil_mode)}
        if kind == "maxpool":
            spec["dilation"] = _listify(module.dilation)
        return spec
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        if not _is_one(module.output_size):
            raise ValueError(f"layer {name!r}: adaptive pooling to {module.output_size} has "
                             "input-dependent windows; only global pooling (output 1) is supported")
        return {"name": name, "type": "gmp" if isinstance(module, nn.AdaptiveMaxPool2d)
                else "gap"}
    if isinstance(module, nn.Flatten):
        return {"name": name, "type": "flatten"}
    if isinstance(module, nn.Linear):
        return {"name": name, "type": "linear"}
    if isinstance(module, (Add, Concat)):
        return {"name": name, "type": "add" if isinstance(module, Add) else "concat"}
    for cls, kind in _ELEMENTWISE:
        if isinstance(module, cls):
            return {"name": name, "type": kind}
    raise ValueError(f"layer {name!r}: no receptive-field rule for {type(module).__name__}")


def _listify(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value


def layer_specs(model: nn.Module) -> list[dict[str, Any]]:
    """Engine layer specs for ``model``: its leaf modules in registration order, as a chain.

    Names are the modules' qualified names (``conv1``, ``bn1`` ... for a zoo ``ZooNet``). A
    zoo graph network (residual adds, concatenations) gives each spec the ``inputs`` its layer
    record names (``model.zoo.graph_inputs``); any other module tree is read as one path, and a
    join module outside a zoo network is refused (its inputs are unknown).
    """
    specs = [_module_spec(name, module) for name, module in model.named_modules()
             if name and not list(module.children())]
    if not specs:
        raise ValueError(f"{type(model).__name__} has no layers")
    reads = graph_inputs(model)
    for spec in specs:
        if reads is not None and spec["name"] in reads:
            spec["inputs"] = list(reads[spec["name"]])
        elif spec["type"] in ("add", "concat"):
            raise ValueError(f"layer {spec['name']!r}: an {spec['type']} module outside a zoo "
                             "network: which layers it joins is unknown")
    return specs


def receptive_field_table(model: nn.Module, input_size: int | tuple[int, int] = (28, 28)
                          ) -> list[LayerField]:
    """The engine's ``LayerField`` for every layer of ``model`` at ``input_size`` (h, w)."""
    return compute(layer_specs(model), input_size)
