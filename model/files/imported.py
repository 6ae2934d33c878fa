"""A network read from another tool's file (ONNX, Keras), and its conversion to a checkpoint.

Every reader (``model/files/onnx_import.py``, ...) turns its file into one
:class:`ImportedNetwork`: layer records in this project's format (``viz/network/layertypes.py``,
graphs by their ``inputs``), numpy tensors named as the card expects (``conv1.weight``,
``bn1.running_var``, ...), the input layout it found, and the network's own input scaling when
the file holds one (e.g. Keras ``Rescaling``, or Mul/Add on an ONNX graph's input).
:func:`to_checkpoint` turns it into a checkpoint (safetensors bytes with the card), checked by
the limits of any upload (``viz.network.card``) before anything large is made, and finds how
the network wants its pixels scaled (``viz.inputs.scaling``): the convention with the best
likelihood on the shipped sample digits (the mean log-probability of the true digit), unless
the caller names one. Likelihood, not accuracy: a network trained on 0..1 pixels may still
classify most 0..255 ones (98.5% against 97.5% on the samples), but it is wildly overconfident
on them, and its probabilities are wrong; each convention's accuracy is kept beside it, and two
conventions within :data:`CLOSE_NATS` of each other are reported as close.

Errors are :class:`viz.network.card.CardError` (a ``ValueError``) with a one-line message.
torch is imported only to measure the accuracies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from viz.inputs import scaling
from viz.limits import PRODUCER_CHARS
from viz.network import card as card_reader
from viz.network.layers import INPUT_SHAPE

ARCH = "imported"
AUTO = "auto"
CHOICES = (AUTO, *scaling.SCALES)  # what a user may ask for; "inside" is found, not chosen
# ties go to the network's own scaling, then the zoo's
PREFERENCE = (scaling.INSIDE, "mnist", "unit", "symmetric", "raw")
LAYOUTS = ("NCHW", "NHWC", "NHW", "flat")
# two scalings whose mean log-probabilities of the true digit differ by less than this are
# "close": a probability factor of exp(0.05) = 1.05 on average, within the samples' noise
CLOSE_NATS = 0.05


@dataclass
class ImportedNetwork:
    """What a reader found in a file.

    ``layers``: layer records (``viz/network/layertypes.py``; ``inputs`` for a graph);
    ``tensors``: ``{"<layer>.<suffix>": float32 array}`` as ``viz.network.card.expected_tensors``
    names them (a BatchNorm's ``num_batches_tracked`` may be left out); ``layout``: the file's
    input, one of :data:`LAYOUTS`; ``inside``: the network's own scaling of 0..255 pixels as
    ``(mean, std)`` (the network computes ``(x/255 - mean)/std`` before its first layer), which
    the reader took out of the layers, or None; ``source``: the file's name; ``format``: e.g.
    ``"onnx"`` or ``"keras"``; ``producer``: the tool that wrote it, when the file says.
    """

    layers: list[dict[str, Any]]
    tensors: dict[str, np.ndarray]
    layout: str
    source: str
    format: str
    inside: tuple[float, float] | None = None
    producer: str = ""
    notes: list[str] = field(default_factory=list)
    architecture: str = ""  # the zoo network it was matched to (a state dict), for the card
    tried: list[str] = field(default_factory=list)  # the networks it was matched against
    tried_likelihood: dict[str, float] = field(default_factory=dict)  # each one's, when chosen


@dataclass
class Converted:
    """A checkpoint made from an :class:`ImportedNetwork`: its bytes, card, analysis, and the
    accuracy and likelihood (mean log-probability of the true digit) on the shipped samples
    under each input scaling tried; ``close``: the other scalings within :data:`CLOSE_NATS`
    of the chosen one."""

    data: bytes
    card: dict[str, Any]
    report: Any  # viz.network.layers.LabReport
    scale_accuracy: dict[str, float]
    scale_likelihood: dict[str, float] = field(default_factory=dict)
    close: list[str] = field(default_factory=list)


def _fail(source: str, message: str) -> card_reader.CardError:
    return card_reader.CardError(f"{source}: {message}")


def check(imp: ImportedNetwork) -> Any:
    """The network's analysis (viz.network.layers.LabReport), after every check of an upload:
    records, limits (parameters, MACs, layers, activation values), 10 outputs, tensors' names,
    shapes and values. Raises CardError."""
    if imp.layout not in LAYOUTS:
        raise _fail(imp.source, f"unknown input layout {imp.layout!r}.")
    try:
        report = card_reader.analyse_checked(imp.layers, "its network")
    except card_reader.CardError as exc:
        raise _fail(imp.source, str(exc)) from None
    want = card_reader.expected_tensors(imp.layers)
    for name, (_dtype, shape) in want.items():
        if name.endswith(".num_batches_tracked"):
            continue
        got = imp.tensors.get(name)
        if got is None:
            raise _fail(imp.source, f"no tensor {name} for its layer.")
        if tuple(got.shape) != shape:
            raise _fail(imp.source, f"{name} is {tuple(got.shape)}, its layer needs {shape}.")
    extra = sorted(set(imp.tensors) - set(want))
    if extra:
        raise _fail(imp.source, f"tensors no layer uses: {', '.join(extra[:4])}.")
    card_reader.check_finite(imp.tensors, imp.source)
    return report


def _state(imp: ImportedNetwork) -> dict[str, np.ndarray]:
    state = {}
    for name, (dtype, shape) in card_reader.expected_tensors(imp.layers).items():
        if dtype == "I64":
            state[name] = np.zeros(shape, dtype="<i8")
        else:
            state[name] = np.ascontiguousarray(imp.tensors[name], dtype="<f4")
    return state


def candidates(inside: tuple[float, float] | None) -> dict[str, tuple[float, float]]:
    """{scaling name: (mean, std) on 0..255 pixels} to try: the conventions, each followed by the
    network's own scaling when it has one ("inside" is then raw pixels into the network)."""
    out = {}
    if inside is not None:
        out[scaling.INSIDE] = inside
    for name, pair in scaling.SCALES.items():
        if inside is not None and name == "raw":
            continue  # raw pixels into a network that scales them: that is "inside"
        out[name] = scaling.compose(pair, inside)
    return out


def scores(imp: ImportedNetwork, images: np.ndarray, labels: np.ndarray
           ) -> dict[str, tuple[float, float]]:
    """{scaling: (accuracy, mean log-probability of the true digit)} on ``images`` (uint8
    N x 28 x 28) under each scaling of :func:`candidates`."""
    import torch

    from model.files.checkpoint import torch_model
    from viz.network.npforward import NumpyNet

    net = NumpyNet(ARCH, imp.layers, _state(imp), {})
    model = torch_model(net, imp.source)  # no input scaling: fed each convention's numbers
    u = torch.from_numpy(np.asarray(images, dtype=np.float32) / np.float32(255.0))[:, None]
    truth = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    out = {}
    with torch.no_grad():
        for name, (mean, std) in candidates(imp.inside).items():
            logits = model((u - mean) / std).double()
            logp = torch.log_softmax(logits, 1).gather(1, truth[:, None])
            acc = float((logits.argmax(1) == truth).double().mean())
            like = float(logp.mean())
            out[name] = (round(acc, 4), round(like, 4) if np.isfinite(like) else -1e9)
    return out


def accuracies(imp: ImportedNetwork, images: np.ndarray, labels: np.ndarray
               ) -> dict[str, float]:
    """Accuracy on ``images`` (uint8 N x 28 x 28) under each scaling of :func:`candidates`."""
    return {k: v[0] for k, v in scores(imp, images, labels).items()}


def pick(like: dict[str, float]) -> str:
    """The scaling of the best likelihood (or score); ties go by :data:`PREFERENCE`."""
    return max(like, key=lambda n: (like[n], -PREFERENCE.index(n)))


def close_to(like: dict[str, float], name: str) -> list[str]:
    """The other scalings whose likelihood is within :data:`CLOSE_NATS` of ``name``'s."""
    return [k for k, v in like.items() if k != name and abs(v - like[name]) < CLOSE_NATS]


def to_checkpoint(imp: ImportedNetwork, scale: str = AUTO,
                  samples: tuple[np.ndarray, np.ndarray] | None = None) -> Converted:
    """This project's checkpoint of ``imp``: every check of an upload first (:func:`check`),
    then the input scaling (``scale``: one of :data:`CHOICES`; ``auto`` picks the likeliest on
    ``samples``, the shipped digits by default, and ties go by :data:`PREFERENCE`; a network
    with its own scaling gets ``"inside"`` under ``auto``), then the card (``arch``
    ``"imported"``, the layer records, parameters, MACs, input scaling and the accuracies) and
    the safetensors bytes, read back by the checkpoint reader."""
    from safetensors.numpy import save

    from model.files.checkpoint import CARD_VERSION, read_network

    if scale not in CHOICES:
        raise _fail(imp.source, f"input scale must be one of {', '.join(CHOICES)}, not "
                                f"{card_reader.show(scale)}.")
    report = check(imp)
    if samples is None:
        from model.store import load_samples
        samples = load_samples()
    both = scores(imp, *samples)
    acc = {k: v[0] for k, v in both.items()}
    like = {k: v[1] for k, v in both.items()}
    name = pick(like) if scale == AUTO else scale
    if imp.inside is not None and name == "raw":
        name = scaling.INSIDE
    mean, std = candidates(imp.inside)[name]
    close = close_to(like, name)
    card = {"format": CARD_VERSION, "arch": ARCH, "layers": imp.layers,
            "params": report.params, "macs": report.macs,
            **scaling.card_fields(name, mean, std),
            "scale_accuracy": acc, "scale_likelihood": like,
            "scale_chosen": "detected" if scale == AUTO else "given",
            "source": imp.source, "source_format": imp.format, "input_layout": imp.layout}
    if close:
        card["scale_close"] = close
    if imp.architecture:
        card["architecture"] = imp.architecture
    if imp.tried:
        card["architectures_tried"] = list(imp.tried)
    if imp.tried_likelihood:
        card["architecture_likelihood"] = dict(imp.tried_likelihood)
    if imp.producer:
        card["producer"] = imp.producer[:PRODUCER_CHARS]
    data = save(_state(imp), metadata={card_reader.CARD_KEY: json.dumps(card)})
    net = read_network(data, imp.source)  # the reader every upload passes
    return Converted(data, net.card, report, acc, like, close)


__all__ = ["ARCH", "AUTO", "CHOICES", "CLOSE_NATS", "Converted", "ImportedNetwork",
           "INPUT_SHAPE", "accuracies", "candidates", "check", "close_to", "pick", "scores",
           "to_checkpoint"]
