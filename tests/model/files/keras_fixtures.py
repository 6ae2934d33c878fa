"""Keras 3 networks saved by Keras itself, for tests/model/files/test_keras_import.py.

Run as ``KERAS_BACKEND=torch python tests/model/files/keras_fixtures.py OUT_DIR`` (Keras is a
test dependency; its import takes seconds and is kept out of the test process): reads
``OUT_DIR/images.npy`` (uint8 N x 28 x 28), writes ``OUT_DIR/<case>.keras`` and Keras's own
class probabilities ``OUT_DIR/<case>.npy`` for each case of :data:`CASES`, and files the reader
must refuse (a Lambda layer, a custom layer class, a one-sided padding); ``--cases a,b`` writes
only those.

With ``--onnx`` it writes instead Keras's own ONNX export (``model.export(path, format="onnx")``,
the torch backend's exporter) of each case of :data:`ONNX_CASES` as ``OUT_DIR/<case>.onnx``, and
of a network the ONNX reader must refuse (a 'same' convolution padding one side only); the test
compares them with onnxruntime (for tests/model/files/test_onnx_import.py).

Each network gets random weights large enough that its probabilities are far from uniform
(BatchNormalization statistics random too, variances positive), and is fed the pixels as its
case says: ``unit`` (x/255) or ``raw`` (0..255, for a network with a Rescaling layer).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

# case -> (builder, input shape without the batch, pixels fed to Keras)
CASES: dict[str, tuple[str, tuple[int, ...], str]] = {}


def case(shape: tuple[int, ...], feed: str = "unit"):  # type: ignore[no-untyped-def]
    def register(fn):  # type: ignore[no-untyped-def]
        CASES[fn.__name__] = (fn, shape, feed)
        return fn
    return register


@case((28, 28, 1))
def sequential_cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(6, 3, padding="same"), layers.ReLU(), layers.Flatten(),
        layers.Dense(16, activation="relu"), layers.Dropout(0.3),
        layers.Dense(10, activation="softmax")])


@case((28, 28, 1))
def batchnorm() -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(4, 3, use_bias=False),
        layers.BatchNormalization(), layers.Activation("relu"),
        layers.Conv2D(6, 3, padding="same"), layers.BatchNormalization(center=False, epsilon=0.01),
        layers.LeakyReLU(0.1),
        layers.AveragePooling2D(3, strides=1, padding="same", name="avg"),  # of cells inside
        layers.MaxPooling2D(3, strides=2, padding="same"),  # 26 -> 13: pads 0 before, 1 after
        layers.Flatten(), layers.Dense(12), layers.BatchNormalization(),
        layers.Activation("tanh"), layers.Dense(10)])


@case((28, 28), feed="raw")
def rescaling() -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28)), layers.Reshape((28, 28, 1)), layers.Rescaling(1 / 127.5, -1.0),
        layers.Conv2D(4, 5, strides=2, activation="tanh"),
        layers.MaxPooling2D(2, padding="same"),  # 12 -> 6
        layers.GlobalMaxPooling2D(), layers.Dense(10, activation="softmax")])


@case((28, 28, 1))
def residual() -> keras.Model:
    inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="stem")(inp)
    y = layers.Conv2D(6, 3, padding="same")(x)
    y = layers.BatchNormalization(name="bn")(y)
    x = layers.ReLU()(layers.Add(name="join")([x, y]))
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool")(x)  # 28 -> 14: pads 0 and 1
    x = layers.Conv2D(8, 3, strides=2)(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x))


@case((28, 28, 1))
def concat() -> keras.Model:
    inp = keras.Input((28, 28, 1))
    a = layers.Conv2D(4, 3, padding="same", name="a")(inp)
    b = layers.Conv2D(4, 5, padding="same", activation="sigmoid", name="b")(inp)
    x = layers.LeakyReLU(0.05)(layers.Concatenate(name="cat")([a, b]))
    x = layers.Conv2D(8, 3, groups=2, activation="relu", name="grouped")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(10)(x))


@case((28, 28, 1))
def depthwise() -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(4, 3),
        layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu",
                               name="dw"),
        layers.Conv2D(8, 1), layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="softmax")])


@case((784,))
def mlp_flat() -> keras.Model:
    return keras.Sequential([
        keras.Input((784,)), layers.Dense(32, activation="relu"), layers.Dropout(0.2),
        layers.Dense(10, activation="softmax")])


@case((28, 28))
def mlp_flatten() -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28)), layers.Flatten(), layers.Dense(24, activation="leaky_relu"),
        layers.Dense(16, activation="sigmoid"), layers.Dense(10), layers.Activation("softmax")])


@case((28, 28, 1))
def gap_head() -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(8, 3, strides=2), layers.ReLU(),
        layers.Conv2D(16, 3, activation="relu"), layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="softmax")])


@case((28, 28, 1))
def prelu_elu() -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(4, 3, strides=2),
        layers.PReLU(shared_axes=[1, 2], name="per_channel"),
        layers.Conv2D(6, 3, activation="elu"), layers.ELU(name="elu_layer"),
        layers.PReLU(shared_axes=[1, 2, 3], name="shared"), layers.Flatten(),
        layers.Dense(16), layers.PReLU(name="per_feature"), layers.Dense(10)])


@keras.saving.register_keras_serializable(package="Custom")
class Scale(layers.Layer):
    """A student's own layer: the reader must refuse it (its code is never run)."""

    def call(self, x):  # type: ignore[no-untyped-def]
        return x * 2.0


def hostile() -> dict[str, keras.Model]:
    inp = keras.Input((28, 28, 1))
    x = layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    lam = keras.Model(inp, layers.Dense(10)(layers.Flatten()(x)))
    custom = keras.Sequential([keras.Input((28, 28, 1)), Scale(name="scale"), layers.Flatten(),
                               layers.Dense(10)])
    asym = keras.Sequential([keras.Input((28, 28, 1)),
                             layers.Conv2D(4, 3, strides=2, padding="same", name="down"),
                             layers.Flatten(), layers.Dense(10)])  # pads 0 before, 1 after
    return {"lambda": lam, "custom": custom, "asymmetric": asym}


def randomise(model: keras.Model, rng: np.random.Generator) -> None:
    """Weights far from Keras's small initial ones, so the probabilities are not uniform."""
    for layer in model.layers:
        values = []
        for var in layer.weights:
            shape = tuple(var.shape)
            if "variance" in var.path:
                values.append(rng.uniform(0.2, 2.0, shape))
            elif "gamma" in var.path:
                values.append(rng.uniform(0.5, 1.5, shape))
            else:
                fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 4
                values.append(rng.normal(0, 1.5 / np.sqrt(fan_in), shape))
        if values:
            layer.set_weights([v.astype(np.float32) for v in values])


# Keras's ONNX export: NHWC input, transposes around each layer, BatchNorm as Sub/Mul/Add,
# 'same' pooling as a Pad node, a Shape/Gather/Concat/Reshape flatten
ONNX_CASES = ("batchnorm", "residual")


def export_onnx(out: str) -> None:
    rng = np.random.default_rng(1)
    models = {name: CASES[name][0]() for name in ONNX_CASES}
    models["asymmetric"] = hostile()["asymmetric"]
    for name, model in models.items():
        randomise(model, rng)
        model.predict(np.zeros((1, 28, 28, 1), np.float32), verbose=0)  # export needs a call
        model.export(os.path.join(out, f"{name}.onnx"), format="onnx", verbose=False)


def main(out: str, only: set[str] | None = None) -> None:
    """Every case (or those named in ``only``, hostile ones included)."""
    images = np.load(os.path.join(out, "images.npy"))
    rng = np.random.default_rng(0)
    for name, (build, shape, feed) in CASES.items():
        if only is not None and name not in only:
            continue
        model = build()
        randomise(model, rng)
        x = images.astype(np.float32) / (1.0 if feed == "raw" else 255.0)
        probs = np.asarray(model.predict(x.reshape(len(x), *shape), verbose=0), np.float64)
        if not np.allclose(probs.sum(1), 1, atol=1e-5):  # a network ending in logits
            probs = np.exp(probs - probs.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
        model.save(os.path.join(out, f"{name}.keras"))
        np.save(os.path.join(out, f"{name}.npy"), probs)
    for name, model in hostile().items():
        if only is not None and name not in only:
            continue
        model.save(os.path.join(out, f"{name}.keras"))


if __name__ == "__main__":
    if "--onnx" in sys.argv[2:]:
        import warnings

        warnings.simplefilter("ignore")  # the exporter's tracing warnings
        export_onnx(sys.argv[1])
    elif "--cases" in sys.argv[2:]:  # --cases residual,lambda: only these
        main(sys.argv[1], set(sys.argv[sys.argv.index("--cases") + 1].split(",")))
    else:
        main(sys.argv[1])
