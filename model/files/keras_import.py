"""The Keras 3 ``.keras`` reader: a zip of ``config.json``, ``metadata.json`` and
``model.weights.h5``, turned into an :class:`model.files.imported.ImportedNetwork`.

Nothing of Keras is imported and no code is deserialized: the config is read as JSON against an
allowlist of layer classes (:data:`CLASSES`); a ``Lambda`` layer, a custom object (a
``registered_name`` of its own) or any ``module``/``class_name`` pair outside the allowlist is
refused with a message naming the layer. The weights are read with h5py, each dataset's declared
shape and dtype checked against what the config implies before it is read.

The zip is checked before anything is extracted: its size, at most :data:`MAX_ENTRIES` entries,
no entry named with ``..``, an absolute path or a drive, no encryption, stored or deflated only,
and the declared uncompressed size of each of the three entries read (nothing else is read)
within its limit, so a zip bomb is refused from its directory alone.

Keras is NHWC; this project's records are NCHW (``viz/network/layertypes.py``):

- conv kernels ``(kh, kw, in/groups, out)`` become ``(out, in/groups, kh, kw)``; a depthwise
  kernel ``(kh, kw, in, m)`` a conv with ``groups = in`` and ``out = in * m``;
- a flatten of an ``H x W x C`` map lists ``(h, w, c)`` in that order where this project lists
  ``(c, h, w)``: the first Dense layer after it gets its input rows permuted to match;
- ``padding="same"`` becomes the symmetric padding ``total / 2`` when Keras pads both sides
  alike (``total = max((ceil(H/s) - 1) s + d (k - 1) + 1 - H, 0)``); an odd total (Keras pads one
  more at the bottom and right) is expressible for pooling only (torch's ceil mode, which ignores
  the window's part past the input as Keras's padding is ignored) and refused for a conv,
  naming the layer. (Average pooling there follows TensorFlow's and JAX's Keras, which average
  the cells inside the image; Keras's torch backend pads by copying the edge and averages the
  copies too, so that one case differs from it);
- an ``activation`` inside Conv2D / DepthwiseConv2D / Dense becomes its own record;
  ``softmax`` (and ``log_softmax``) is taken only as the network's last step (the app's
  probabilities are the softmax of the logits: the same numbers);
- BatchNormalization: Keras's epsilon (default 1e-3) is folded exactly into the running
  variance, since ``var + eps_keras = (var + eps_keras - BN_EPS) + BN_EPS``;
- Rescaling (``x * scale + offset`` on the 0..255 pixels, first in the network) becomes the
  network's own input scaling ``(mean, std)`` with ``std = 1/(255 scale)``,
  ``mean = -offset std``, which the checkpoint's card then carries.

Every problem raises :class:`viz.network.card.CardError` with a one-line message.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.files.imported import ImportedNetwork
from viz.network.card import MAX_LAYERS, MAX_NAME, MAX_PARAMS, CardError, show
from viz.network.layers import INPUT
from viz.network.layertypes import BN_EPS, MAX_WINDOW, NUM_CLASSES
from viz.receptive_field import output_length

FORMAT = "keras"
EXTENSION = ".keras"
MAX_FILE_BYTES = 32 * 1024 * 1024  # the upload box's limit (.streamlit/config.toml)
MAX_ENTRIES = 64  # a .keras holds 3 (and an assets folder for layers with files)
CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
MAX_SIZES = {CONFIG: 2_000_000,  # a 100-layer config is about 250 kB
             METADATA: 64_000,
             WEIGHTS: MAX_PARAMS * 4 + 4_000_000}  # float32 weights at the limit, plus HDF5's own
# numbers read from model.weights.h5 in all (parameters and BatchNorm statistics), checked
# before each read: the parameter limit itself is checked on the records afterwards
MAX_READ_ELEMENTS = 2 * MAX_PARAMS
MAX_KERAS_LAYERS = 2 * MAX_LAYERS  # Keras layers, before each becomes 0 to 2 records
H5_MAGIC = b"\x89HDF\r\n\x1a\n"
IMAGE = (28, 28, 1)

LAYER_MODULES = ("keras.layers",)  # and modules under keras.src.layers.
MODEL_CLASSES = {"Sequential": ("keras", "keras.models", "keras.src.models.sequential"),
                 "Functional": ("keras", "keras.models", "keras.src.models.functional"),
                 "Model": ("keras", "keras.models", "keras.src.models.model")}
CLASSES = ("InputLayer", "Conv2D", "DepthwiseConv2D", "Dense", "MaxPooling2D",
           "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten",
           "Reshape", "Dropout", "BatchNormalization", "Activation", "ReLU", "LeakyReLU", "Add",
           "Concatenate", "Rescaling")
# nested objects whose class is read as data only (never built): dtype policies, and the
# training-time initializers, regularizers and constraints of Keras's own modules
DATA_MODULES = ("keras.initializers", "keras.regularizers", "keras.constraints")
DATA_CLASSES = {"keras": ("DTypePolicy", "FloatDTypePolicy")}
KERAS_TENSOR = "__keras_tensor__"
IMPLIED_INPUT = "(input)"  # a Sequential saved without its InputLayer (not a Keras name)
ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "leaky_relu": "leakyrelu"}
FINAL = ("softmax", "log_softmax")  # taken at the end only: the app's softmax of the logits
KERAS_LEAKY_SLOPE = 0.2  # keras.activations.leaky_relu's default negative_slope


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case``: how ``model.weights.h5`` names a layer's group."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


@dataclass
class Value:
    """What a Keras tensor is here: the record that makes it (or :data:`INPUT`), and ``shape``:
    Keras's shape without the batch, ``(H, W, C)`` of a map or ``(n,)``. ``image``: still the
    input image (no record yet), which Reshape may relabel; ``order``: a vector that is Keras's
    flatten of an ``(H, W, C)`` map, which this project lists as ``(C, H, W)``."""

    src: str
    shape: tuple[int, ...]
    image: bool = False
    order: tuple[int, int, int] | None = None


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.layers: list[dict[str, Any]] = []
        self.tensors: dict[str, np.ndarray] = {}
        self.names: set[str] = {INPUT}
        self.inside: tuple[float, float] | None = None  # (a, b): x -> a x + b on 0..255 pixels
        self.h5: Any = None
        self.h5_path: dict[str, str] = {}  # Keras layer name -> its group in the weights file
        self.layout = "NHWC"
        self.read_elements = 0  # numbers read from model.weights.h5 so far
        self.notes: list[str] = []

    def fail(self, message: str) -> CardError:
        return CardError(f"{self.source}: {message}")

    # -- records ------------------------------------------------------------------------------

    def name(self, wanted: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", wanted)[: MAX_NAME - 4] or "layer"
        name, n = base, 1
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    def emit(self, wanted: str, kind: str, srcs: list[str], **options: Any) -> str:
        name = self.name(wanted)
        rec: dict[str, Any] = {"name": name, "type": kind, **options}
        previous = self.layers[-1]["name"] if self.layers else INPUT
        if srcs != [previous]:
            rec["inputs"] = list(srcs)
        self.layers.append(rec)
        return name

    # -- config access ------------------------------------------------------------------------

    def opt(self, layer: dict[str, Any], key: str, default: Any = None) -> Any:
        cfg = layer.get("config")
        return cfg.get(key, default) if isinstance(cfg, dict) else default

    def pair(self, layer: dict[str, Any], key: str, where: str, default: Any = None) -> int:
        """A square kernel/stride/dilation (an int or two equal ints) within MAX_WINDOW."""
        value = self.opt(layer, key, default)
        if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WINDOW:
            raise self.fail(f"layer {where}: {key} must be square, from 1 to {MAX_WINDOW}, not "
                            f"{show(value)} (this app draws square windows).")
        return value

    def channels_last(self, layer: dict[str, Any], where: str) -> None:
        fmt = self.opt(layer, "data_format")
        if fmt not in (None, "channels_last"):
            raise self.fail(f"layer {where}: data_format {show(fmt)} is not read; save the "
                            f"model with channels_last (Keras's default).")

    # -- weights ------------------------------------------------------------------------------

    def weights(self, keras_name: str, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
        """The layer's variables, each dataset's shape and dtype checked before it is read."""
        import h5py

        where = show(keras_name)
        path = self.h5_path.get(keras_name)
        try:
            group = self.h5.get(f"{path}/vars") if path else None
            if not isinstance(group, h5py.Group):
                raise self.fail(f"layer {where}: model.weights.h5 has no weights for it "
                                f"(expected {path}/vars).")
            saved_name = group.attrs.get("name")
            if isinstance(saved_name, bytes):
                saved_name = saved_name.decode("utf-8", "replace")
            if saved_name is not None and saved_name != keras_name:
                raise self.fail(f"layer {where}: model.weights.h5 holds the weights of "
                                f"{show(saved_name)} where this layer's should be.")
            if len(group) != len(shapes):
                raise self.fail(f"layer {where}: model.weights.h5 holds {len(group)} arrays for "
                                f"it, its config needs {len(shapes)}.")
            out = []
            for i, shape in enumerate(shapes):
                link = group.get(str(i), getlink=True)
                if not isinstance(link, h5py.HardLink):
                    raise self.fail(f"layer {where}: weight {i} is missing or a link to "
                                    f"elsewhere in model.weights.h5.")
                ds = group[str(i)]
                if not isinstance(ds, h5py.Dataset):
                    raise self.fail(f"layer {where}: weight {i} is not an array.")
                if tuple(ds.shape) != shape:
                    raise self.fail(f"layer {where}: weight {i} is {_shown(ds.shape)} in "
                                    f"model.weights.h5, its config needs {_shown(shape)}.")
                if ds.dtype.kind != "f" or ds.dtype.itemsize not in (2, 4, 8):
                    raise self.fail(f"layer {where}: weight {i} has dtype {ds.dtype}, not a "
                                    f"float.")
                # counted before the read: a dataset never written reads as its fill value,
                # as large as its declared shape, from a small file
                self.read_elements += math.prod(shape)
                if self.read_elements > MAX_READ_ELEMENTS:
                    raise self.fail(f"layer {where}: the weights up to it hold over "
                                    f"{MAX_READ_ELEMENTS:,} numbers; this server takes "
                                    f"networks of up to {MAX_PARAMS:,} parameters.")
                if ds.external or ds.is_virtual:
                    raise self.fail(f"layer {where}: weight {i} points to data outside "
                                    f"model.weights.h5.")
                out.append(np.asarray(ds[()]))
        except CardError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise self.fail(f"layer {where}: model.weights.h5 cannot be read "
                            f"({show(str(exc), 80)}).") from None
        return out


def _shown(shape: Any) -> str:
    return "x".join(str(d) for d in shape) if len(shape) else "a scalar"


# ---------------------------------------------------------------------------------------------
# The zip
# ---------------------------------------------------------------------------------------------

def _bad_entry(name: str) -> bool:
    parts = re.split(r"[/\\]", name)
    return (name.startswith(("/", "\\")) or ".." in parts or bool(re.match(r"^[A-Za-z]:", name))
            or "\0" in name)


def read_zip(data: bytes, source: str) -> dict[str, bytes]:
    """The three entries of a ``.keras`` zip ({name: bytes}; metadata.json may be missing),
    every check on the zip's directory done before any entry is decompressed."""
    if len(data) > MAX_FILE_BYTES:
        raise CardError(f"{source}: {len(data):,} bytes; a Keras file here is at most "
                        f"{MAX_FILE_BYTES // 2**20} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise CardError(f"{source}: not a Keras 3 file (not a zip, or cut short); save it with "
                        f"model.save(\"name.keras\").") from None
    if len(infos) > MAX_ENTRIES:
        raise CardError(f"{source}: {len(infos):,} entries in the zip; a .keras file holds "
                        f"config.json, metadata.json and model.weights.h5.")
    for info in infos:
        if _bad_entry(info.filename):
            raise CardError(f"{source}: zip entry {show(info.filename)} points outside the "
                            f"archive ('..' or an absolute path); refused.")
    found = {info.filename: info for info in infos if info.filename in MAX_SIZES}
    for needed in (CONFIG, WEIGHTS):
        if needed not in found:
            raise CardError(f"{source}: no {needed} in the zip; a Keras 3 .keras file (model."
                            f"save(\"name.keras\")) holds config.json and model.weights.h5.")
    out = {}
    for name, info in found.items():
        if info.file_size > MAX_SIZES[name]:
            raise CardError(f"{source}: {name} declares {info.file_size:,} bytes unpacked "
                            f"({info.compress_size:,} packed); at most {MAX_SIZES[name]:,} are "
                            f"read (a zip bomb, or a network over this server's limits).")
        if info.flag_bits & 0x1:
            raise CardError(f"{source}: {name} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CardError(f"{source}: {name} is compressed with method {info.compress_type}; "
                            f"Keras stores or deflates.")
    for name, info in found.items():
        try:
            with archive.open(info) as f:
                raw = f.read(MAX_SIZES[name] + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
            raise CardError(f"{source}: {name} cannot be unpacked (cut short or corrupt: "
                            f"{show(str(exc), 60)}).") from None
        if len(raw) > MAX_SIZES[name]:  # zipfile stops at the declared size: not reached
            raise CardError(f"{source}: {name} unpacks to more than its declared size.")
        out[name] = raw
    return out


def _json(raw: bytes, what: str, source: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise CardError(f"{source}: {what} is nested too deeply.") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CardError(f"{source}: {what} is not valid JSON ({show(str(exc), 60)}).") from None


# ---------------------------------------------------------------------------------------------
# The config: allowlist, graph
# ---------------------------------------------------------------------------------------------

def _layer_name(layer: Any) -> str:
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
    name = show(_layer_name(layer))
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
    where = show(_layer_name(layer))
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


def _input_shape(layer: dict[str, Any]) -> Any:
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


def _graph(config: dict[str, Any], source: str
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
    if len(layers) > MAX_KERAS_LAYERS:
        raise CardError(f"{source}: {len(layers):,} layers; this server takes at most "
                        f"{MAX_LAYERS} layers.")
    for i, layer in enumerate(layers, start=1):
        _check_allowed(layer, source, i)
    names = [_layer_name(layer) for layer in layers]
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
        h5_path[_layer_name(layer)] = f"layers/{snake}" + (f"_{used[snake]}" if used[snake] else "")
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


# ---------------------------------------------------------------------------------------------
# Layers -> records
# ---------------------------------------------------------------------------------------------

def _same_padding(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """Keras's 'same' padding (before, after) of one axis."""
    total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


class _Builder(_Reader):
    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.values: dict[str, Value] = {}
        self.softmax_at: str | None = None
        self.is_activation_layer = False

    def as_map(self, v: Value, where: str) -> Value:
        if v.image and v.shape != IMAGE:
            raise self.fail(f"layer {where} reads the image as {_shown(v.shape)}; add "
                            f"Reshape((28, 28, 1)) before it (channels last).")
        if len(v.shape) != 3:
            raise self.fail(f"layer {where} reads a {_shown(v.shape)} tensor; it needs a "
                            f"height x width x channels map.")
        return v

    def as_vector(self, v: Value, where: str, keras_name: str) -> Value:
        if v.image:  # the first record: flatten the image (any of its shapes is 784 numbers)
            src = self.emit(f"{keras_name}_flatten", "flatten", [v.src])
            return Value(src, (784,))
        if len(v.shape) != 1:
            raise self.fail(f"layer {where} reads a {_shown(v.shape)} map; add Flatten() or "
                            f"GlobalAveragePooling2D() before it.")
        return v

    def activation(self, act: Any, v: Value, keras_name: str, where: str, last: bool) -> Value:
        if act in (None, "linear"):
            return v
        if act in FINAL:
            if not last:
                raise self.fail(f"layer {where}: {act} is read only as the network's last step.")
            self.softmax_at = keras_name
            return v
        if act not in ACTIVATIONS:
            raise self.fail(f"layer {where}: activation {show(act)} is not one this app draws "
                            f"({', '.join([*ACTIVATIONS, 'linear', *FINAL])}).")
        kind = ACTIVATIONS[act]
        opts = {"negative_slope": KERAS_LEAKY_SLOPE} if kind == "leakyrelu" else {}
        suffix = "" if self.is_activation_layer else f"_{act}"
        return Value(self.emit(f"{keras_name}{suffix}", kind, [v.src], **opts), v.shape,
                     order=v.order)

    def padding(self, layer: dict[str, Any], where: str, size: int, k: int, s: int, d: int,
                pool: bool) -> tuple[int, bool]:
        """(symmetric padding, ceil mode) for 'valid' or 'same'."""
        mode = self.opt(layer, "padding", "valid")
        if mode == "valid":
            return 0, False
        if mode != "same":
            raise self.fail(f"layer {where}: padding {show(mode)} is not read ('valid' or "
                            f"'same').")
        before, after = _same_padding(size, k, s, d)
        want = math.ceil(size / s)
        if before == after:
            pad, ceil = before, False
        elif pool and output_length(size, k, s, before, before, True) == want:
            pad, ceil = before, True  # torch ignores the window's part past the input
        else:
            raise self.fail(
                f"layer {where}: padding='same' here pads {before} before and {after} after "
                f"({size} pixels, kernel {k}, stride {s}), which this app's layers cannot say "
                f"(they pad both sides alike); use an odd kernel with stride 1, padding="
                f"'valid', or an input size the stride divides.")
        if pool and pad * 2 > k:
            raise self.fail(f"layer {where}: its 'same' padding {pad} is over half the pool.")
        return pad, ceil

    def layer(self, layer: dict[str, Any], srcs: list[Value], last: bool) -> Value:
        cls, keras_name = layer["class_name"], _layer_name(layer)
        where = show(keras_name)
        self.is_activation_layer = cls in ("Activation", "ReLU", "LeakyReLU")
        if cls == "InputLayer":
            return self.input_layer(layer)
        if cls in ("Add", "Concatenate"):
            return self.join(layer, srcs, where, keras_name)
        if len(srcs) != 1:
            raise self.fail(f"layer {where} reads {len(srcs)} tensors; only Add and Concatenate "
                            f"join branches.")
        v = srcs[0]
        if cls == "Rescaling":
            return self.rescaling(layer, v, where)
        if cls == "Reshape":
            return self.reshape(layer, v, where, keras_name)
        if cls == "Flatten":
            self.channels_last(layer, where)
            if v.image:
                return self.as_vector(v, where, keras_name)
            if len(v.shape) == 1:
                return v
            h, w, c = v.shape
            order = (h, w, c) if c > 1 and h * w > 1 else None
            return Value(self.emit(keras_name, "flatten", [v.src]), (h * w * c,), order=order)
        if cls == "Dropout":
            rate = self.opt(layer, "rate", 0.0)
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
                raise self.fail(f"layer {where}: rate must be from 0 to below 1, not "
                                f"{show(rate)}.")
            if v.image:
                v = self.as_map(v, where)
            return Value(self.emit(keras_name, "dropout", [v.src], p=float(rate)), v.shape,
                         order=v.order)
        if cls == "Activation":
            return self.activation(self.opt(layer, "activation"), self.settled(v, where),
                                   keras_name, where, last)
        if cls in ("ReLU", "LeakyReLU"):
            return self.relu(layer, self.settled(v, where), keras_name, where)
        if cls == "Dense":
            return self.dense(layer, v, where, keras_name, last)
        if cls in ("Conv2D", "DepthwiseConv2D"):
            return self.conv(layer, self.as_map(v, where), where, keras_name, last)
        if cls in ("MaxPooling2D", "AveragePooling2D"):
            return self.pool(layer, self.as_map(v, where), where, keras_name)
        if cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            self.channels_last(layer, where)
            v = self.as_map(v, where)
            kind = "gap" if cls == "GlobalAveragePooling2D" else "gmp"
            src = self.emit(keras_name, kind, [v.src])
            if self.opt(layer, "keepdims", False):
                return Value(src, (1, 1, v.shape[2]))
            return Value(self.emit(f"{keras_name}_flatten", "flatten", [src]), (v.shape[2],))
        if cls == "BatchNormalization":
            return self.batchnorm(layer, v, where, keras_name)
        raise self.fail(f"layer {where}: {cls} is not read.")  # pragma: no cover (allowlist)

    def settled(self, v: Value, where: str) -> Value:
        """An elementwise layer on the image itself reads it as a map."""
        return self.as_map(v, where) if v.image else v

    def input_layer(self, layer: dict[str, Any]) -> Value:
        shape = _input_shape(layer)
        shape = tuple(shape) if isinstance(shape, list) else shape
        layouts = {(28, 28, 1): "NHWC", (28, 28): "NHW", (784,): "flat", (1, 28, 28): "NCHW"}
        if shape not in layouts:
            raise self.fail(f"the model's input is {show(shape)}; this app reads one 28x28 "
                            f"grayscale image ((28, 28, 1), (28, 28) or (784,)).")
        self.layout = layouts[shape]
        return Value(INPUT, shape, image=True)

    def rescaling(self, layer: dict[str, Any], v: Value, where: str) -> Value:
        if not v.image:
            raise self.fail(f"layer {where}: Rescaling is read only as the network's first step "
                            f"(on the pixels).")
        nums = []
        for key in ("scale", "offset"):
            value = self.opt(layer, key, 1.0 if key == "scale" else 0.0)
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise self.fail(f"layer {where}: {key} must be one number, not {show(value)}.")
            nums.append(float(value))
        scale, offset = nums
        a, b = self.inside or (1.0, 0.0)
        a, b = a * scale, b * scale + offset
        if not 1e-9 < a < 1e9 or abs(b) > 1e9:
            raise self.fail(f"layer {where}: scale must be positive (pixels x {scale:g}).")
        self.inside = (a, b)
        return v

    def reshape(self, layer: dict[str, Any], v: Value, where: str, keras_name: str) -> Value:
        target = self.opt(layer, "target_shape")
        if not isinstance(target, list) or not all(
                isinstance(t, int) and not isinstance(t, bool) for t in target):
            raise self.fail(f"layer {where}: target_shape {show(target)} is not read.")
        n = math.prod(v.shape)
        if target.count(-1) == 1 and n % max(1, -math.prod(target)) == 0:
            target = [n // -math.prod(target) if t == -1 else t for t in target]
        target_t = tuple(target)
        if math.prod(target_t) != n or any(t < 1 for t in target_t):
            raise self.fail(f"layer {where}: cannot reshape {_shown(v.shape)} to {show(target)}.")
        if target_t == v.shape:
            return v
        if v.image and target_t in ((28, 28, 1), (28, 28), (784,)):
            return Value(v.src, target_t, image=True)
        if len(target_t) == 1:  # a flatten
            return self.layer({"class_name": "Flatten", "name": keras_name, "config": {}},
                              [v], False)
        raise self.fail(f"layer {where}: reshaping {_shown(v.shape)} to {_shown(target_t)} is "
                        f"not one of this app's layers (only a flatten, or the image to "
                        f"(28, 28, 1)).")

    def relu(self, layer: dict[str, Any], v: Value, keras_name: str, where: str) -> Value:
        slope = self.opt(layer, "negative_slope", self.opt(layer, "alpha", 0.0 if
                         layer["class_name"] == "ReLU" else 0.3))
        extra = (self.opt(layer, "max_value"), self.opt(layer, "threshold", 0.0) or 0.0)
        if (isinstance(slope, bool) or not isinstance(slope, (int, float))
                or not 0 <= slope < 1 or extra != (None, 0.0)):
            raise self.fail(f"layer {where}: a ReLU with negative_slope {show(slope)}, max_value "
                            f"{show(extra[0])} and threshold {show(extra[1])} is not read (a "
                            f"plain or leaky ReLU, slope from 0 to below 1).")
        if slope == 0:
            return Value(self.emit(keras_name, "relu", [v.src]), v.shape, order=v.order)
        return Value(self.emit(keras_name, "leakyrelu", [v.src], negative_slope=float(slope)),
                     v.shape, order=v.order)

    def join(self, layer: dict[str, Any], srcs: list[Value], where: str, keras_name: str
             ) -> Value:
        if len(srcs) < 2:
            raise self.fail(f"layer {where} joins {len(srcs)} tensor; it needs two or more.")
        srcs = [self.as_map(s, where) if s.image else s for s in srcs]
        shapes = {s.shape for s in srcs}
        if layer["class_name"] == "Add":
            if len(shapes) != 1 or len({s.order for s in srcs}) != 1:
                raise self.fail(f"layer {where} adds tensors of shapes "
                                f"{', '.join(_shown(s.shape) for s in srcs)}; they must match.")
            return Value(self.emit(keras_name, "add", [s.src for s in srcs]), srcs[0].shape,
                         order=srcs[0].order)
        axis = self.opt(layer, "axis", -1)
        rank = len(srcs[0].shape)
        if axis not in (-1, rank) or len({len(s) for s in shapes}) != 1:
            raise self.fail(f"layer {where}: Concatenate on axis {show(axis)} is not read (only "
                            f"the channels, axis -1).")
        if len({s.shape[:-1] for s in srcs}) != 1:
            raise self.fail(f"layer {where} concatenates maps of different sizes "
                            f"{', '.join(_shown(s.shape) for s in srcs)}.")
        if any(s.order for s in srcs):
            raise self.fail(f"layer {where} concatenates flattened maps; concatenate the maps "
                            f"(before Flatten) instead.")
        shape = (*srcs[0].shape[:-1], sum(s.shape[-1] for s in srcs))
        return Value(self.emit(keras_name, "concat", [s.src for s in srcs]), shape)

    def conv(self, layer: dict[str, Any], v: Value, where: str, keras_name: str, last: bool
             ) -> Value:
        self.channels_last(layer, where)
        depthwise = layer["class_name"] == "DepthwiseConv2D"
        k = self.pair(layer, "kernel_size", where)
        s = self.pair(layer, "strides", where, 1)
        d = self.pair(layer, "dilation_rate", where, 1)
        h, w, c = v.shape
        if h != w:
            raise self.fail(f"layer {where} reads a {h}x{w} map; this app reads square maps.")
        pad, _ = self.padding(layer, where, h, k, s, d, pool=False)
        bias = self.opt(layer, "use_bias", True)
        if not isinstance(bias, bool):
            raise self.fail(f"layer {where}: use_bias must be true or false.")
        if depthwise:
            m = self.opt(layer, "depth_multiplier", 1)
            if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 4096:
                raise self.fail(f"layer {where}: depth_multiplier {show(m)} is not read.")
            groups, out = c, c * m
            shapes = [(k, k, c, m)]
        else:
            out = self.opt(layer, "filters")
            groups = self.opt(layer, "groups", 1)
            if (isinstance(out, bool) or not isinstance(out, int) or not 1 <= out <= 1_000_000
                    or isinstance(groups, bool) or not isinstance(groups, int) or groups < 1
                    or c % groups or out % groups):
                raise self.fail(f"layer {where}: filters {show(out)} and groups {show(groups)} "
                                f"do not fit its {c} input channels.")
            shapes = [(k, k, c // groups, out)]
        if bias:
            shapes.append((out,))
        arrays = self.weights(keras_name, shapes)
        kernel = arrays[0]
        if depthwise:  # (k, k, c, m) -> (c*m, 1, k, k): output c*m + j reads channel c
            weight = kernel.transpose(2, 3, 0, 1).reshape(out, 1, k, k)
        else:  # (k, k, in/groups, out) -> (out, in/groups, k, k)
            weight = kernel.transpose(3, 2, 0, 1)
        rec = {"in": c, "out": out, "kernel": k, "stride": s, "padding": pad, "dilation": d,
               "bias": bias}
        if groups > 1:
            rec["groups"] = groups
        name = self.emit(keras_name, "conv", [v.src], **rec)
        self.tensors[f"{name}.weight"] = weight
        if bias:
            self.tensors[f"{name}.bias"] = arrays[1]
        side = output_length(h, d * (k - 1) + 1, s, pad, pad, False)
        if side < 1:
            raise self.fail(f"layer {where}: its kernel is larger than its {h}x{h} input.")
        out_v = Value(name, (side, side, out))
        return self.activation(self.opt(layer, "activation"), out_v, keras_name, where, last)

    def pool(self, layer: dict[str, Any], v: Value, where: str, keras_name: str) -> Value:
        self.channels_last(layer, where)
        k = self.pair(layer, "pool_size", where)
        strides = self.opt(layer, "strides")
        s = k if strides is None else self.pair(layer, "strides", where)
        h, w, c = v.shape
        if h != w:
            raise self.fail(f"layer {where} reads a {h}x{w} map; this app reads square maps.")
        pad, ceil = self.padding(layer, where, h, k, s, 1, pool=True)
        kind = "maxpool" if layer["class_name"] == "MaxPooling2D" else "avgpool"
        rec: dict[str, Any] = {"kernel": k, "stride": s, "padding": pad}
        if ceil:
            rec["ceil_mode"] = True
        if kind == "avgpool" and (pad or ceil):
            rec["count_include_pad"] = False  # Keras averages the cells inside the image
        if kind == "avgpool" and ceil:
            self.notes.append(f"{keras_name}: 'same' average pooling padded on one side, read as "
                              f"TensorFlow's Keras averages it (the cells inside the image)")
        side = output_length(h, k, s, pad, pad, ceil)
        if side < 1:
            raise self.fail(f"layer {where}: its pool is larger than its {h}x{h} input.")
        return Value(self.emit(keras_name, kind, [v.src], **rec), (side, side, c))

    def dense(self, layer: dict[str, Any], v: Value, where: str, keras_name: str, last: bool
              ) -> Value:
        v = self.as_vector(v, where, keras_name)
        units = self.opt(layer, "units")
        bias = self.opt(layer, "use_bias", True)
        if (isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= 1_000_000
                or not isinstance(bias, bool)):
            raise self.fail(f"layer {where}: units {show(units)} / use_bias {show(bias)} are "
                            f"not read.")
        n = v.shape[0]
        arrays = self.weights(keras_name, [(n, units)] + ([(units,)] if bias else []))
        kernel = arrays[0]  # (in, out), rows in Keras's order
        if v.order is not None:  # rows (h, w, c) -> this project's (c, h, w)
            h, w, c = v.order
            kernel = kernel.reshape(h, w, c, units).transpose(2, 0, 1, 3).reshape(n, units)
        name = self.emit(keras_name, "linear", [v.src], **{"in": n, "out": units, "bias": bias})
        self.tensors[f"{name}.weight"] = kernel.T
        if bias:
            self.tensors[f"{name}.bias"] = arrays[1]
        return self.activation(self.opt(layer, "activation"), Value(name, (units,)), keras_name,
                               where, last)

    def batchnorm(self, layer: dict[str, Any], v: Value, where: str, keras_name: str) -> Value:
        v = self.settled(v, where)
        axis = self.opt(layer, "axis", -1)
        if isinstance(axis, list) and len(axis) == 1:
            axis = axis[0]
        rank = len(v.shape)
        if axis not in (-1, rank):
            raise self.fail(f"layer {where}: BatchNormalization on axis {show(axis)} is not read "
                            f"(only the channels, axis -1).")
        eps = self.opt(layer, "epsilon", 1e-3)
        center, scale = self.opt(layer, "center", True), self.opt(layer, "scale", True)
        if (isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1
                or not isinstance(center, bool) or not isinstance(scale, bool)):
            raise self.fail(f"layer {where}: epsilon {show(eps)} / center / scale are not read.")
        c = v.shape[-1]
        arrays = [a.astype(np.float64) for a in
                  self.weights(keras_name, [(c,)] * (2 + center + scale))]
        gamma = arrays.pop(0) if scale else np.ones(c)
        beta = arrays.pop(0) if center else np.zeros(c)
        mean, var = arrays
        if np.any(~np.isfinite(var)) or np.any(var < 0):
            raise self.fail(f"layer {where}: its moving variance is negative or not finite.")
        # Keras divides by sqrt(var + eps); this project by sqrt(running_var + BN_EPS): the same
        # numbers with running_var = var + eps - BN_EPS (> 0, since eps > 0 > -var; exact up to
        # float32 rounding of the sum, computed in float64)
        running_var = var + float(eps) - BN_EPS
        if rank == 1:
            return self.fold_bn(v, where, gamma, beta, mean, running_var)
        name = self.emit(keras_name, "bn", [v.src], channels=c)
        self.tensors.update({f"{name}.weight": gamma, f"{name}.bias": beta,
                             f"{name}.running_mean": mean, f"{name}.running_var": running_var})
        return Value(name, v.shape, order=v.order)

    def fold_bn(self, v: Value, where: str, gamma: np.ndarray, beta: np.ndarray,
                mean: np.ndarray, running_var: np.ndarray) -> Value:
        """BatchNormalization of a Dense layer's output, folded into that layer (this project's
        BatchNorm reads maps): ``W' = W * g``, ``b' = (b - mean) * g + beta`` with
        ``g = gamma / sqrt(var + eps)``."""
        rec = self.layers[-1] if self.layers else None
        if rec is None or rec["name"] != v.src or rec["type"] != "linear" or v.order:
            raise self.fail(f"layer {where}: BatchNormalization of a vector is read only right "
                            f"after a Dense layer without activation (it is folded into it).")
        g = gamma / np.sqrt(running_var + BN_EPS)
        name = rec["name"]
        bias = self.tensors.get(f"{name}.bias", np.zeros(rec["out"]))
        self.tensors[f"{name}.weight"] = self.tensors[f"{name}.weight"] * g[:, None]
        self.tensors[f"{name}.bias"] = (bias - mean) * g + beta
        rec["bias"] = True
        return v


def _producer(meta: Any) -> str:
    if not isinstance(meta, dict):
        return "Keras"
    version = meta.get("keras_version")
    return f"Keras {version}" if isinstance(version, str) and len(version) < 40 else "Keras"


def read(data: bytes, source: str = "model.keras") -> ImportedNetwork:
    """The network of a Keras 3 ``.keras`` file's bytes (see the module docstring); raises
    :class:`CardError` with a one-line message naming the problem."""
    import h5py

    entries = read_zip(data, source)
    config = _json(entries[CONFIG], CONFIG, source)
    meta = _json(entries[METADATA], METADATA, source) if METADATA in entries else None
    if isinstance(meta, dict) and isinstance(meta.get("keras_version"), str) and not \
            meta["keras_version"].startswith("3."):
        raise CardError(f"{source}: saved by Keras {show(meta['keras_version'])}; this app reads "
                        f"Keras 3 files (load it in Keras 3 and save it again).")
    if not isinstance(config, dict):
        raise CardError(f"{source}: config.json is not a model config.")
    layers, sources, last, h5_path = _graph(config, source)
    raw = entries[WEIGHTS]
    if not raw.startswith(H5_MAGIC):
        raise CardError(f"{source}: model.weights.h5 is not an HDF5 file.")
    builder = _Builder(source)
    builder.h5_path = h5_path
    try:
        builder.h5 = h5py.File(io.BytesIO(raw), "r")
    except (OSError, ValueError, RuntimeError) as exc:
        raise CardError(f"{source}: model.weights.h5 cannot be read ({show(str(exc), 60)})."
                        ) from None
    try:
        for layer in layers:
            name = _layer_name(layer)
            srcs = [builder.values[s] for s in sources[name]]
            builder.values[name] = builder.layer(layer, srcs, name == last)
    finally:
        builder.h5.close()
    out = builder.values[last]
    if out.image or out.shape != (NUM_CLASSES,):
        raise CardError(f"{source}: the model's output is {_shown(out.shape)}; this app reads "
                        f"{NUM_CLASSES} classes (one per digit).")
    if builder.softmax_at is not None and builder.softmax_at != last:  # pragma: no cover
        raise CardError(f"{source}: softmax is read only as the network's last step.")
    inside = None
    if builder.inside is not None:  # x -> a x + b on 0..255 pixels is (x/255 - mean)/std
        a, b = builder.inside
        std = 1.0 / (255.0 * a)
        inside = (-b * std + 0.0, std)  # + 0.0: no -0.0
    tensors = {k: np.asarray(v, dtype=np.float32) for k, v in builder.tensors.items()}
    notes = [f"converted from Keras's NHWC layout ({builder.layout} input)", *builder.notes]
    if builder.softmax_at:
        notes.append(f"the final softmax of {builder.softmax_at!r} is the app's probabilities")
    return ImportedNetwork(builder.layers, tensors, builder.layout, source, FORMAT, inside,
                           _producer(meta), notes)


def read_keras(files: Mapping[str, bytes], name: str) -> ImportedNetwork:
    """The importer's reader (``model/importer.py`` READERS): ``files[name]`` is the ``.keras``
    file; a Keras file needs no other file uploaded with it."""
    return read(files[name], name)


def read_file(path: str) -> ImportedNetwork:
    """:func:`read` of a file, its size checked before it is read."""
    import os

    size = os.path.getsize(path)
    name = os.path.basename(path)
    if size > MAX_FILE_BYTES:
        raise CardError(f"{name}: {size:,} bytes; a Keras file here is at most "
                        f"{MAX_FILE_BYTES // 2**20} MB.")
    with open(path, "rb") as f:
        return read(f.read(), name)


__all__ = ["CLASSES", "EXTENSION", "FORMAT", "MAX_FILE_BYTES", "MAX_SIZES", "read", "read_file",
           "read_keras", "read_zip"]
