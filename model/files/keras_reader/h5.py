"""The HDF5 files of ``model.save("net.h5")`` (Keras 3 on TensorFlow, and Keras 2 / tf_keras):
the ``model_config`` attribute read as bounded JSON and brought to the ``.keras`` config's form
(:func:`config_of`), and the weights' layout (:class:`H5Layout`: ``model_weights/<layer>`` with
its ``weight_names`` attribute naming each dataset in the layer's order).

Only named objects are visited, never a walk of the file: the root's attributes, one group per
layer and the datasets its ``weight_names`` name, each path at most :data:`MAX_PATH_PARTS`
parts of hard links, so groups nested 10,000 deep anywhere cost nothing and a name leading
into them is refused. Every attribute is checked to be a small string (or list of strings)
before it is read; a string attribute is read into a buffer of its limit plus one byte, so a
huge one is refused without a copy of it in Python. The datasets get the ``.keras`` reader's
checks (:meth:`model.files.keras_reader.weights.WeightsReader.weights`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.files.keras_reader.config import IMPLIED_INPUT, KERAS_TENSOR, MODEL_CLASSES
from model.files.keras_reader.zip import read_json
from viz.limits import (
    KERAS_CONFIG_BYTES,
    KERAS_H5_LAYER_WEIGHTS,
    KERAS_H5_NAME_CHARS,
    KERAS_H5_PATH_PARTS,
    LAYER_NAME_CHARS,
)
from viz.network.card import CardError, show

FORMAT = "h5"
EXTENSIONS = (".h5", ".hdf5")
CONFIG_ATTR = "model_config"
WEIGHTS_GROUP = "model_weights"
MAX_PATH_PARTS = KERAS_H5_PATH_PARTS  # the names this module reads
MAX_NAME_CHARS = KERAS_H5_NAME_CHARS
MAX_LAYER_WEIGHTS = KERAS_H5_LAYER_WEIGHTS
VERSION_CHARS = 40
SAVE_WHOLE = 'save the whole model with model.save("net.keras") (or model.save("net.h5"))'
# classes of the objects nested in a legacy config (Keras 2 writes no module): read as data
# only, never built; a class outside these (a custom one) is refused as in a .keras config
LEGACY_DATA = {
    "keras.initializers": (
        "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
        "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
        "LecunUniform", "LecunNormal", "Orthogonal", "Identity"),
    "keras.regularizers": ("L1", "L2", "L1L2", "OrthogonalRegularizer"),
    "keras.constraints": ("MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "RadialConstraint"),
    "keras.src.dtype_policies": ("Policy", "DTypePolicy", "FloatDTypePolicy"),
}
_LEGACY_MODULE = {cls: mod for mod, classes in LEGACY_DATA.items() for cls in classes}


def attr_text(obj: Any, name: str, limit: int, source: str, what: str) -> str | None:
    """The string attribute ``name`` of an h5py object, or None when it has none; refused
    (CardError) unless it is one string of at most ``limit`` bytes. Read into a buffer of
    ``limit + 1`` bytes (HDF5 converts a variable-length string to it), so a longer one is
    refused without being copied into Python."""
    import h5py

    if name not in obj.attrs:
        return None
    aid = obj.attrs.get_id(name)
    kind = aid.get_type()
    if aid.shape not in ((), (1,)) or not isinstance(kind, h5py.h5t.TypeStringID):
        raise CardError(f"{source}: {what} is {show(aid.shape)} of {show(str(aid.dtype))}, "
                        f"not one string.")
    if not kind.is_variable_str() and kind.get_size() > limit:
        raise CardError(f"{source}: {what} declares {kind.get_size():,} bytes; at most "
                        f"{limit:,} are read.")
    buf = np.zeros(aid.shape, dtype=f"S{limit + 1}")
    aid.read(buf, mtype=h5py.h5t.py_create(buf.dtype))
    raw = bytes(buf.reshape(-1)[0])
    if len(raw) > limit:
        raise CardError(f"{source}: {what} is over {limit:,} bytes; a Keras model's config is "
                        f"a few hundred kB at most.")
    return raw.decode("utf-8", "replace")


def attr_names(obj: Any, name: str, source: str, where: str) -> list[str]:
    """The list-of-strings attribute ``name`` (``weight_names``), each string bounded; an
    empty list of any type (Keras writes a float one) is no names."""
    import h5py

    if name not in obj.attrs:
        raise CardError(f"{source}: layer {where} has no {name} in the HDF5 file.")
    aid = obj.attrs.get_id(name)
    if aid.shape == (0,):
        return []
    kind = aid.get_type()
    if (len(aid.shape) != 1 or not 1 <= aid.shape[0] <= MAX_LAYER_WEIGHTS
            or not isinstance(kind, h5py.h5t.TypeStringID)):
        raise CardError(f"{source}: layer {where}: {name} is {show(aid.shape)} of "
                        f"{show(str(aid.dtype))}, not a list of up to {MAX_LAYER_WEIGHTS} names.")
    buf = np.zeros(aid.shape, dtype=f"S{MAX_NAME_CHARS + 1}")
    aid.read(buf, mtype=h5py.h5t.py_create(buf.dtype))
    out = []
    for raw in buf:
        if len(bytes(raw)) > MAX_NAME_CHARS:
            raise CardError(f"{source}: layer {where}: a weight's name is over "
                            f"{MAX_NAME_CHARS} characters.")
        out.append(bytes(raw).decode("utf-8", "replace"))
    return out


def config_of(h5: Any, source: str) -> tuple[dict[str, Any], str]:
    """The model config of an open ``.h5`` (the ``.keras`` config's form: see
    :func:`modernized`) and the producer (``"Keras 2.15.0"``); a file without one (weights
    only) is refused saying how to save the whole model."""
    text = attr_text(h5, CONFIG_ATTR, KERAS_CONFIG_BYTES, source, "its model_config")
    if text is None:
        only = "layer_names" in h5.attrs or "vars" in h5 or "layers" in h5  # Keras 2's, 3's
        found = "weights only: model.save_weights" if only else "not a whole Keras model"
        raise CardError(f"{source}: this HDF5 file holds no model_config ({found}); "
                        f"{SAVE_WHOLE}.")
    version = attr_text(h5, "keras_version", VERSION_CHARS, source, "its keras_version") or ""
    if version.startswith("1."):
        raise CardError(f"{source}: saved by Keras {show(version)}; load it in Keras 2 or 3 and "
                        f"{SAVE_WHOLE}.")
    config = read_json(text.encode("utf-8"), CONFIG_ATTR, source)
    if not isinstance(config, dict):
        raise CardError(f"{source}: its model_config is not a model config.")
    return modernized(config), f"Keras {version}" if version else "Keras"


def _node(node: Any) -> Any:
    """A Keras 2 inbound node ``[[name, node, tensor, kwargs], ...]`` as Keras 3 writes it
    (``{"args": [tensor or [tensors]], "kwargs": ...}``); anything else unchanged, for the
    graph's checks."""
    if not isinstance(node, list) or not node or not all(
            isinstance(t, list) and len(t) in (3, 4) for t in node):
        return node
    tensors, kwargs = [], {}
    for t in node:
        tensors.append({"class_name": KERAS_TENSOR, "config": {"keras_history": list(t[:3])}})
        if len(t) == 4 and isinstance(t[3], dict):
            kwargs.update(t[3])
        elif len(t) == 4:
            kwargs["?"] = t[3]
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}


def modernized(config: dict[str, Any]) -> dict[str, Any]:
    """A legacy config (no ``module`` keys; Keras 2's inbound nodes and ``batch_input_shape``)
    in the form :func:`model.files.keras_reader.config.graph` reads. Only what is missing is
    filled in: a layer gets ``keras.layers`` (its class is still checked against the
    allowlist), a nested object the module of its class when that is one of Keras's
    (:data:`LEGACY_DATA`), else it stays without one and is refused as custom."""
    cls = config.get("class_name")
    if "module" not in config and cls in MODEL_CLASSES:
        config["module"] = MODEL_CLASSES[cls][0]
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(layers, list):
        return config
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        if "module" not in layer and layer.get("class_name") not in MODEL_CLASSES:
            layer["module"] = "keras.layers"
        if isinstance(layer.get("inbound_nodes"), list):
            layer["inbound_nodes"] = [_node(n) for n in layer["inbound_nodes"]]
        stack = [layer.get("config")]
        seen = 0
        while stack and seen < 10_000:  # (the allowlist's walk refuses a larger config)
            obj = stack.pop()
            seen += 1
            if isinstance(obj, list):
                stack.extend(obj)
            elif isinstance(obj, dict):
                if ("class_name" in obj and "module" not in obj
                        and obj["class_name"] in _LEGACY_MODULE):
                    obj["module"] = _LEGACY_MODULE[obj["class_name"]]
                stack.extend(obj.values())
    first = layers[0] if layers else None
    shape = first.get("config", {}).get("batch_input_shape") if isinstance(first, dict) and \
        isinstance(first.get("config"), dict) else None
    if shape is not None and cls == "Sequential" and first.get("class_name") != "InputLayer":
        # Keras 2's Sequential(input_shape=... on its first layer) lists no InputLayer
        layers.insert(0, {"class_name": "InputLayer", "module": "keras.layers",
                          "name": IMPLIED_INPUT, "config": {"batch_input_shape": shape}})
    return config


class H5Layout:
    """Where an ``.h5`` keeps a layer's weights: ``model_weights/<layer name>``, whose
    ``weight_names`` attribute names each dataset (a path inside the group, e.g.
    ``conv2d/kernel:0``) in the layer's order of weights. Every part of a path is a hard link,
    at most :data:`MAX_PATH_PARTS` of them.

    Args:
        h5: the open file.
        source: its name, for messages.
    """

    def __init__(self, h5: Any, source: str) -> None:
        self.h5 = h5
        self.source = source

    def _child(self, group: Any, part: str, where: str) -> Any:
        import h5py

        if not part or part in (".", "..") or len(part) > MAX_NAME_CHARS:
            raise CardError(f"{self.source}: layer {where}: a weight's name has the part "
                            f"{show(part)}.")
        link = group.get(part, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise CardError(f"{self.source}: layer {where}: {show(part)} is missing or a link "
                            f"to elsewhere in the HDF5 file.")
        return group[part]

    def find(self, keras_name: str, count: int) -> list[Any]:
        """The layer's ``count`` datasets, in its order of weights (each checked by the
        caller before it is read)."""
        import h5py

        where = show(keras_name)
        root = self.h5.get(WEIGHTS_GROUP, getlink=True)
        if not isinstance(root, h5py.HardLink) or not isinstance(self.h5[WEIGHTS_GROUP],
                                                                  h5py.Group):
            raise CardError(f"{self.source}: the HDF5 file has no {WEIGHTS_GROUP} group; "
                            f"{SAVE_WHOLE}.")
        if "/" in keras_name or len(keras_name) > LAYER_NAME_CHARS * 4:
            raise CardError(f"{self.source}: layer {where}: its name cannot name a group.")
        group = self._child(self.h5[WEIGHTS_GROUP], keras_name, where)
        if not isinstance(group, h5py.Group):
            raise CardError(f"{self.source}: layer {where}: its weights are not a group.")
        names = attr_names(group, "weight_names", self.source, where)
        if len(names) != count:
            raise CardError(f"{self.source}: layer {where}: the HDF5 file holds {len(names)} "
                            f"arrays for it, its config needs {count}.")
        out = []
        for name in names:
            parts = name.split("/")
            if len(parts) > MAX_PATH_PARTS:
                raise CardError(f"{self.source}: layer {where}: the weight {show(name, 60)} is "
                                f"{len(parts)} groups deep; Keras's are at most "
                                f"{MAX_PATH_PARTS}.")
            obj = group
            for part in parts:
                if not isinstance(obj, h5py.Group):
                    raise CardError(f"{self.source}: layer {where}: the weight {show(name, 60)}"
                                    f" is not in the HDF5 file.")
                obj = self._child(obj, part, where)
            out.append(obj)
        return out
