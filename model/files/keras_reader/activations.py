"""Keras's activations as layer records: an ``activation=`` inside a layer or an Activation
layer (by name, :data:`model.files.keras_reader.config.ACTIVATIONS`), and the activation layers of
their own class (ReLU, LeakyReLU, PReLU with its slopes, ELU). A mixin of the builder
(:mod:`model.files.keras_reader.layers`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from model.files.keras_reader.config import ACTIVATIONS
from model.files.keras_reader.weights import Call, Value, WeightsReader, shown
from viz.network.card import show

IMAGE = (28, 28, 1)
FINAL = ("softmax", "log_softmax")  # taken at the end only: the app's softmax of the logits
KERAS_LEAKY_SLOPE = 0.2  # keras.activations.leaky_relu's default negative_slope


class Activations(WeightsReader):
    softmax_at: str | None
    is_activation_layer: bool

    def as_map(self, v: Value, where: str) -> Value:
        if v.image and v.shape != IMAGE:
            raise self.fail(f"layer {where} reads the image as {shown(v.shape)}; add "
                            f"Reshape((28, 28, 1)) before it (channels last).")
        if len(v.shape) != 3:
            raise self.fail(f"layer {where} reads a {shown(v.shape)} tensor; it needs a "
                            f"height x width x channels map.")
        return v

    def settled(self, v: Value, where: str) -> Value:
        """An elementwise layer on the image itself reads it as a map."""
        return self.as_map(v, where) if v.image else v

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
        if kind not in ("relu", "tanh", "sigmoid", "leakyrelu", "elu"):  # pragma: no cover
            raise self.fail(f"layer {where}: activation {show(act)} needs its own reading.")
        suffix = "" if self.is_activation_layer else f"_{act}"
        return Value(self.emit(f"{keras_name}{suffix}", kind, [v.src], **opts), v.shape,
                     order=v.order)

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

    def elu(self, c: Call) -> Value:
        alpha = self.opt(c.layer, "alpha", 1.0)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha != 1.0:
            raise self.fail(f"layer {c.where}: an ELU with alpha {show(alpha)}; this app's ELU "
                            f"has alpha 1.0 (Keras's default): use ELU() or "
                            f"activation='elu' and train it again.")
        v = self.settled(c.v, c.where)
        return Value(self.emit(c.name, "elu", [v.src]), v.shape, order=v.order)

    def prelu(self, c: Call) -> Value:
        """PReLU: Keras's ``alpha`` has the input's shape but for ``shared_axes`` (size 1
        there); read are one slope shared by everything, or one per channel (a map shared over
        height and width, ``shared_axes=[1, 2]``; a vector's features, none shared)."""
        v = self.settled(c.v, c.where)
        shared = given = self.opt(c.layer, "shared_axes")
        if isinstance(shared, int) and not isinstance(shared, bool):
            shared = [shared]
        rank = len(v.shape)
        if shared is None:
            shared = []
        if not isinstance(shared, list) or not all(
                isinstance(a, int) and not isinstance(a, bool) and 1 <= a <= rank
                for a in shared):
            raise self.fail(f"layer {c.where}: shared_axes {show(shared)} is not read.")
        shape = tuple(1 if i + 1 in shared else n for i, n in enumerate(v.shape))
        count = math.prod(shape)
        if count not in (1, v.shape[-1]) or shape[:-1] != (1,) * (rank - 1):
            layout = "[1, 2]" if rank == 3 else "None"
            raise self.fail(f"layer {c.where}: a PReLU with shared_axes {show(given)} has "
                            f"{count:,} slopes of shape {shown(shape)}; this app reads one "
                            f"slope per channel (shared_axes={layout}) or one shared by all "
                            f"(every axis shared).")
        (alpha,) = self.weights(c.name, [shape])
        weight = np.asarray(alpha, np.float32).reshape(-1)
        if count > 1 and v.order is not None:  # features (h, w, c) -> this project's (c, h, w)
            h, w, ch = v.order
            weight = weight.reshape(h, w, ch).transpose(2, 0, 1).reshape(-1)
        name = self.emit(c.name, "prelu", [v.src], num_parameters=count)
        self.tensors[f"{name}.weight"] = weight
        return Value(name, v.shape, order=v.order)
