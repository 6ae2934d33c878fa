"""Thin ``st.cache_*`` wrappers around the Streamlit-free code in ``model/`` and ``viz/``.

One model per checkpoint is cached with ``st.cache_resource`` and shared by every session; it is
never mutated and never carries a hook (hook-registering methods run on private copies, see
``model/activations.py``). Results are cached per (model, input, layer, ...) with
``st.cache_data``. Every function takes a :class:`model.store.ModelRef`. Shipped and trained
checkpoints are read with numpy first (``viz/npforward.py``), so the first page is drawn while
torch is still loading.
"""

from __future__ import annotations

import gc
import threading

import numpy as np
import streamlit as st

from model import store
from model.store import ModelRef
from viz import fields, npforward
from viz.layers import LayerInfo, total_params


def _import_torch_side() -> None:
    import torch
    torch.set_num_threads(1)  # 2 threads are barely faster here and sometimes stall
    import captum.attr  # noqa: F401  (another 1-3 s; needed by every view but the first)

    import model.checkpoint  # noqa: F401
    import model.erf  # noqa: F401
    import model.saliency  # noqa: F401

    # Streamlit runs a full garbage collection after every script run. With torch and Captum
    # loaded the server holds ~350k long-lived objects and each collection took ~0.4 s
    # holding the GIL, queueing every other session (bench/results/classroom_findings.md).
    # Freezing what exists now moves it out of the collector's sight: later collections only
    # scan what the sessions create.
    gc.collect()
    gc.freeze()


_FROZEN_AFTER_RUN = threading.Event()


def freeze_after_run() -> None:
    """Once per process, after a full page run with torch loaded: freeze again, so what the
    first pages imported (pandas, plotly's figure classes, Arrow) leaves the collector's sight
    too. Called at the end of app.py."""
    if _FROZEN_AFTER_RUN.is_set() or preload().is_alive():
        return
    _FROZEN_AFTER_RUN.set()
    gc.collect()
    gc.freeze()


@st.cache_resource(show_spinner=False)
def preload() -> threading.Thread:
    """Import torch in the background, once per server process.

    Importing torch and Captum takes 3-5 s here. The first page (prediction and feature maps of
    a shipped checkpoint) is computed in numpy, so it is drawn while torch loads; the views that
    need autograd import it when used (Python's import lock makes them wait for the background
    import instead of starting a second one).
    """
    thread = threading.Thread(target=_import_torch_side, name="preload-torch", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _numpy_checkpoint(path: str) -> npforward.NumpyNet:
    return npforward.load(path)


@st.cache_resource(show_spinner=False)
def _torch_checkpoint(path: str):
    from model.checkpoint import load_checkpoint
    return load_checkpoint(path)


@st.cache_resource(show_spinner=False, max_entries=16)
def _uploaded_model(digest: str, _data: bytes, name: str):
    from model.checkpoint import load_checkpoint_bytes
    return load_checkpoint_bytes(_data, name)


@st.cache_resource(show_spinner=False)
def _untrained_model(arch: str):
    from model.zoo import build
    model = build(arch).eval()
    return model, {"arch": arch, "params": total_params(model.layer_config), "untrained": True}


def upload_model(digest: str, data: bytes, name: str):
    """(model, card) of an uploaded checkpoint (raises CheckpointError, a ValueError)."""
    return _uploaded_model(digest, data, name)


def get_model(ref: ModelRef):
    """(torch model in eval mode, card) for any model reference."""
    if ref.kind == "checkpoint":
        return _torch_checkpoint(ref.target)
    if ref.kind == "upload":
        up = st.session_state.get("model.upload")
        if not up or up["digest"] != ref.target:
            raise ValueError("the uploaded checkpoint is no longer available; upload it again")
        return _uploaded_model(ref.target, up["data"], up["name"])
    return _untrained_model(ref.target)


@st.cache_resource(show_spinner=False, max_entries=32)
def _numpy_from_torch(ref: ModelRef, _model, _card) -> npforward.NumpyNet:
    from model.export import numpy_net
    return numpy_net(_model, _card)


def numpy_net(ref: ModelRef) -> npforward.NumpyNet:
    """Layer records, numpy weights and card of any model (no torch for checkpoints)."""
    if ref.kind == "checkpoint":
        return _numpy_checkpoint(ref.target)
    model, card = get_model(ref)
    return _numpy_from_torch(ref, model, card)


def model_facts(ref: ModelRef) -> tuple[str, int, dict]:
    """(architecture, parameters, card) without importing torch for checkpoints."""
    net = numpy_net(ref)
    return net.arch, total_params(net.layers), net.card


def layer_records(ref: ModelRef) -> list[dict]:
    return numpy_net(ref).layers


def conv_weight(ref: ModelRef, layer: str) -> np.ndarray | None:
    """The conv kernel (out, in, kh, kw) of ``layer``, or None when it is not a conv."""
    return numpy_net(ref).conv_weight(layer)


def conv_bias(ref: ModelRef, layer: str) -> np.ndarray | None:
    """The conv bias (out,) of ``layer``, or None (no bias, or not a conv)."""
    net = numpy_net(ref)
    return net.tensors.get(f"{layer}.bias") if net.conv_weight(layer) is not None else None


@st.cache_resource(show_spinner=False, max_entries=8)
def _randomized(ref: ModelRef, _model):
    from model.activations import randomized_copy
    return randomized_copy(_model)


# ---------------------------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False)
def samples() -> tuple[np.ndarray, np.ndarray]:
    """The shipped sample digits."""
    return store.load_samples()


@st.cache_resource(show_spinner="Reading the MNIST test set ...")
def test_set():
    from model.data import load_mnist
    data = load_mnist(download=False)
    return data.test_images.numpy(), data.test_labels.numpy()


@st.cache_data(show_spinner="Classifying the 10,000 test digits (once per model) ...")
def test_predictions(ref: ModelRef) -> np.ndarray:
    import torch

    from model.train import predict
    images, _ = test_set()
    model, _ = get_model(ref)
    return predict(model, torch.from_numpy(images)).numpy()


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=256)
def forward(ref: ModelRef, image: np.ndarray):
    """(every layer's output, class probabilities): numpy for checkpoints, else torch.

    A shared resource, not data: the ~1 MB of maps is handed out without being copied on every
    read (callers only read it; the arrays are made read-only to keep it so).
    """
    if ref.kind == "checkpoint":
        acts = npforward.forward(_numpy_checkpoint(ref.target), image)
        probs = npforward.softmax(next(reversed(acts.values())))
    else:
        from model.activations import activations, as_input, probabilities
        model, _ = get_model(ref)
        x = as_input(image)
        acts, probs = activations(model, x), probabilities(model, x)
    for a in (*acts.values(), probs):
        a.flags.writeable = False
    return acts, probs


@st.cache_data(show_spinner=False, max_entries=32)
def field_table(ref: ModelRef) -> list[LayerInfo]:
    return fields.field_table(layer_records(ref))


@st.cache_resource(show_spinner=False, max_entries=64)
def growth_figure(ref: ModelRef, layer: str):
    """The field-growth chart of a model with ``layer`` marked (the same for every session and
    digit: built once). Shared: ``ui.common.plot`` copies it before changing anything."""
    from viz import figures
    return figures.field_growth(field_table(ref), layer)


@st.cache_data(show_spinner=False, max_entries=1024)
def attribution(ref: ModelRef, image: np.ndarray, method: str, target: int, layer: str,
                window: int, stride: int, randomized: bool = False) -> np.ndarray:
    from model import saliency
    from model.activations import as_input
    model, _ = get_model(ref)
    if randomized:
        model = _randomized(ref, model)
    return saliency.attribute(method, model, as_input(image), target, layer=layer,
                              window=window, stride=stride)


@st.cache_data(show_spinner=False, max_entries=1024)
def unit_maps(ref: ModelRef, image: np.ndarray, layer: str, unit: tuple[int, int, int]):
    """(effective field, DeepLift attribution) of one unit for one input."""
    from model.activations import as_input
    from model.erf import effective_field
    from model.saliency import neuron_attribution
    model, _ = get_model(ref)
    x = as_input(image)
    return effective_field(model, layer, unit, x), neuron_attribution(model, x, layer, unit)
