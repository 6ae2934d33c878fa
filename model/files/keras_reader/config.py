"""A Keras config read as data: the allowlist of layer classes (:data:`TABLE`, one record
each, the layer types' classes taken from their entries; a ``Lambda``, a custom object or any
class outside it is refused naming the layer) and the graph of layers (each after those it reads; shared layers and cycles refused)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from viz.limits import KERAS_LAYERS, NETWORK_LAYERS
from viz.network.card import CardError, show
from viz.network.layertypes import LAYER_TYPE_LIST

LAYER_MODULES = ("keras.layers",)  # and modules under keras.src.layers.
MODEL_CLASSES = {"Sequential": ("keras", "keras.models", "keras.src.models.sequential"),
                 "Functional": ("keras", "keras.models", "keras.src.models.functional"),
                 "Model": ("keras", "keras.models", "keras.src.models.model")}


@dataclass(frozen=True)
class KerasClass:
    """One Keras layer class read: the layer type it becomes (``kind``, from the type's entry
    in :mod:`viz.network.layertypes`; None for the reader's own classes, which shape the
    network: its input, a reshape, an activation layer, the input's scaling), and the builder's
    handler of it (``handler``: the type's name, or the class's own; see
    :data:`model.files.keras_reader.layers.HANDLERS`). ``joins``: it reads two or more tensors."""

    name: str
    kind: str | None
    handler: str
    joins: bool = False


# the reader's own classes, then the classes of the layer types (their entries' ``keras``)
OWN = ("InputLayer", "Reshape", "Activation", "Rescaling")
TABLE: dict[str, KerasClass] = {
    **{c: KerasClass(c, None, c) for c in OWN},
    **{c: KerasClass(c, t.name, t.name, t.role == "join") for t in LAYER_TYPE_LIST
       for c in t.keras}}
CLASSES = tuple(TABLE)
# Keras activation names (an ``activation=`` or an Activation layer) -> the layer type
ACTIVATIONS = {t.keras_activation: t.name for t in LAYER_TYPE_LIST if t.keras_activation}
# nested objects whose class is read as data only (never built): dtype policies, and the
# training-time initializers, regularizers and constraints of Keras's own modules
DATA_MODULES = ("keras.initializers", "keras.regularizers", "keras.constraints")
DATA_CLASSES = {"keras": ("DTypePolicy", "FloatDTypePolicy")}
KERAS_TENSOR = "__keras_tensor__"
IMPLIED_INPUT = "(input)"  # a Sequential saved without its InputLayer (not a Keras name)


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case``: how ``model.weights.h5`` names a layer's group."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()




def layer_name(layer: Any) -> str:
    if isinstance(layer, dict):
        name = layer.get("name", layer.get("config", {}).get("name")
                         if isinstance(layer.get("config"), dict) else None)
        if isinstance(name, str):
            return name
    return "?"


def _check_allowed(layer: Any, source: str, i: int) -> None:
    """Refuse a layer outside the allowlist, or any custom object inside its config."""
    if not isinstance(layer, dict):
        raise CardError(f"{source}: layer #{i} of the config is {show(layer)}, not a layer.")
    name = show(layer_name(layer))
    cls, module = layer.get("class_name"), layer.get("module")
    if cls == "Lambda":
        raise CardError(f"{source}: layer {name} is a Lambda layer (Python code, never run "
                        f"here); write it with built-in layers.")
    if cls in MODEL_CLASSES:
        raise CardError(f"{source}: layer {name} is a model inside the model; build one "
                        f"Sequential or functional model of layers.")
    registered = layer.get("registered_name")
    if registered not in (None, cls):
        raise CardError(f"{source}: layer {name} is a custom class {show(registered)} (its code "
                        f"is never run here); write it with Keras's built-in layers.")
    if (cls not in CLASSES or not isinstance(module, str)
            or not (module in LAYER_MODULES or module.startswith("keras.src.layers."))):
        raise CardError(f"{source}: layer {name} is {show(module)}.{show(cls)}, which this app "
                        f"does not read (custom or unknown); it reads Keras's "
                        f"{', '.join(CLASSES)}.")
    stack = [layer.get("config")]
    seen = 0
    while stack:
        obj = stack.pop()
        seen += 1
        if seen > 10_000:
            raise CardError(f"{source}: layer {name}'s config is too large.")
        if isinstance(obj, list):
            stack.extend(obj)
        elif isinstance(obj, dict):
            if "class_name" in obj or "module" in obj or "registered_name" in obj:
                o_cls, o_mod = obj.get("class_name"), obj.get("module")
                ok = (isinstance(o_cls, str) and isinstance(o_mod, str)
                      and (o_mod in DATA_MODULES or o_cls in DATA_CLASSES.get(o_mod, ())
                           or o_mod.startswith("keras.src.dtype_policies"))
                      and obj.get("registered_name") in (None, o_cls))
                if not ok:
                    raise CardError(f"{source}: layer {name} holds a custom object "
                                    f"{show(o_mod)}.{show(o_cls)}; this app reads only Keras's "
                                    f"built-in layers.")
            stack.extend(obj.values())


def _history(t: Any, source: str, where: str) -> str:
    """The layer name a serialized Keras tensor comes from (its first output, first call)."""
    cfg = t.get("config") if isinstance(t, dict) and t.get("class_name") == KERAS_TENSOR else None
    hist = cfg.get("keras_history") if isinstance(cfg, dict) else None
    if (not isinstance(hist, list) or len(hist) != 3 or not isinstance(hist[0], str)
            or hist[1:] != [0, 0]):
        raise CardError(f"{source}: layer {where} reads {show(t)}, not one layer's output "
                        f"(shared layers and multi-output layers are not read).")
    return hist[0]


def _sources(layer: dict[str, Any], source: str) -> list[str]:
    where = show(layer_name(layer))
    nodes = layer.get("inbound_nodes")
    if not isinstance(nodes, list):
        raise CardError(f"{source}: layer {where} has no inbound_nodes list.")
    if not nodes:
        return []
    if len(nodes) != 1:
        raise CardError(f"{source}: layer {where} is used {len(nodes)} times (a shared layer); "
                        f"this app reads each layer used once.")
    node = nodes[0]
    args = node.get("args") if isinstance(node, dict) else None
    kwargs = node.get("kwargs", {}) if isinstance(node, dict) else None
    if not isinstance(args, list) or len(args) != 1 or not isinstance(kwargs, dict):
        raise CardError(f"{source}: layer {where} is called with arguments this app does not "
                        f"read.")
    if any(v not in (None, False) for v in kwargs.values()):
        raise CardError(f"{source}: layer {where} is called with {show(sorted(kwargs))}; only "
                        f"plain calls are read.")
    arg = args[0]
    items = arg if isinstance(arg, list) else [arg]
    return [_history(t, source, where) for t in items]


def input_shape(layer: dict[str, Any]) -> Any:
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
    return shape[1:] if isinstance(shape, list) and shape else shape


def _endpoint(value: Any, what: str, source: str) -> str:
    """The one input / output layer name of a functional config ([name, 0, 0] or a list of one)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if (not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], str)
            or value[1:] != [0, 0]):
        raise CardError(f"{source}: the model must have one {what} (an image in, 10 classes "
                        f"out), not {show(value)}.")
    return value[0]


def graph(config: dict[str, Any], source: str
           ) -> tuple[list[dict[str, Any]], dict[str, list[str]], str, dict[str, str]]:
    """(layers in an order where each comes after those it reads, {name: source names},
    output layer name, {name: its group in model.weights.h5})."""
    cls = config.get("class_name")
    module = config.get("module")
    if cls not in MODEL_CLASSES or module not in MODEL_CLASSES[cls]:
        raise CardError(f"{source}: the file holds {show(module)}.{show(cls)}; this app reads "
                        f"a Keras Sequential or functional model.")
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(layers, list) or not layers:
        raise CardError(f"{source}: the model config lists no layers.")
    if len(layers) > KERAS_LAYERS:
        raise CardError(f"{source}: {len(layers):,} layers; this server takes at most "
                        f"{NETWORK_LAYERS} layers.")
    for i, layer in enumerate(layers, start=1):
        _check_allowed(layer, source, i)
    names = [layer_name(layer) for layer in layers]
    if len(set(names)) != len(names):
        raise CardError(f"{source}: two layers share a name in the config.")
    # model.weights.h5 names each layer's group by its class (conv2d, conv2d_1, ...) in the
    # order of model.layers (a Sequential's leaves out its InputLayer)
    counted = layers
    if cls == "Sequential" and layers[0].get("class_name") == "InputLayer":
        counted = layers[1:]
    used: dict[str, int] = {}
    h5_path = {}
    for layer in counted:
        snake = _snake(layer["class_name"])
        used[snake] = used.get(snake, -1) + 1
        h5_path[layer_name(layer)] = f"layers/{snake}" + (f"_{used[snake]}" if used[snake] else "")
    if cls == "Sequential":
        if layers[0].get("class_name") != "InputLayer":
            build = config.get("build_config")
            shape = build.get("input_shape") if isinstance(build, dict) else None
            layers = [{"class_name": "InputLayer", "name": IMPLIED_INPUT,
                       "config": {"batch_shape": shape}}, *layers]
            names = [IMPLIED_INPUT, *names]
        sources = {names[i]: [names[i - 1]] for i in range(1, len(names))}
        sources[names[0]] = []
        return layers, sources, names[-1], h5_path
    by_name = dict(zip(names, layers))
    sources = {name: _sources(layer, source) for name, layer in by_name.items()}
    first = _endpoint(body.get("input_layers"), "input", source)
    last = _endpoint(body.get("output_layers"), "output", source)
    if first not in by_name or by_name[first].get("class_name") != "InputLayer":
        raise CardError(f"{source}: the model's input {show(first)} is not an InputLayer.")
    if last not in by_name:
        raise CardError(f"{source}: the model's output {show(last)} is not among its layers.")
    # the layers the output needs, each after those it reads (a cycle is refused)
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    stack: list[tuple[str, int]] = [(last, 0)]
    while stack:
        name, k = stack.pop()
        if name not in by_name:
            raise CardError(f"{source}: a layer reads {show(name)}, which is not in the model.")
        if k == 0:
            if state.get(name) == 2:
                continue
            if state.get(name) == 1:
                raise CardError(f"{source}: layer {show(name)} reads its own output (a cycle).")
            state[name] = 1
        srcs = sources[name]
        if k < len(srcs):
            stack.append((name, k + 1))
            nxt = srcs[k]
            if state.get(nxt) == 1:
                raise CardError(f"{source}: layer {show(nxt)} reads its own output (a cycle).")
            if state.get(nxt) != 2:
                stack.append((nxt, 0))
        else:
            state[name] = 2
            order.append(name)
    inputs = [n for n in order if not sources[n]]
    if inputs != [first]:
        raise CardError(f"{source}: the model must read one image input, not {show(inputs)}.")
    return [by_name[n] for n in order], sources, last, h5_path

