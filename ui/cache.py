"""Thin ``st.cache_*`` wrappers around the Streamlit-free code in ``model/`` and ``viz/``.

One model per checkpoint, shared by every session and never mutated (hooks go on private
copies); every function takes a :class:`model.store.ModelRef`. Numpy first: the prediction, the
feature maps and the lens come from a NumpyNet; the torch model is built from it only when a view
needs gradients. The caches that grow with networks or digits are bounded by bytes
(``model.cache``; docs/caching.md has the memory budget). Also here: the page slots.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import streamlit as st

from model import store
from model.cache import process
from model.cache.budget import (
    FORWARD_BYTES,
    RANDOMIZED_BYTES,
    UPLOAD_BYTES,
    UPLOAD_FORWARD_BYTES,
    batch_size,
    model_bytes,
)
from model.cache.lru import ByteLRU, array_bytes, image_key
from model.cache.uploads import Upload, read_upload
from model.store import ModelRef
from ui import state
from viz.network import npforward
from viz.network.layers import LayerInfo, total_params
from viz.teaching import fields

PAGE_SLOTS = process.slots_from_env(os.environ.get("CNN_LENS_PAGE_SLOTS"), os.cpu_count() or 1)
# The longest a page waits for a slot before it runs anyway, sharing the cores as before: a page
# that took a slot and never gave it back (nothing known does) slows the class, never stops it.
SLOT_WAIT_S = 20.0
_slot_depth = threading.local()
# Sessions that never queue for a slot (each a predicate on the running session): the teacher's,
# whose screen is on the projector (registered by ui/classroom/session.py).
UNQUEUED: list[Callable[[], bool]] = []


def _unqueued() -> bool:
    try:
        return any(check() for check in UNQUEUED)
    except Exception:  # noqa: BLE001 - a predicate that fails queues like any page
        return False


@st.cache_resource(show_spinner=False)
def _page_slots(n: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(n)


@contextlib.contextmanager
def page_slot(queue: bool | None = None) -> Iterator[None]:
    """Hold one of the process's ``PAGE_SLOTS`` while a page (or a fragment of one) runs.

    A class's costly pages then compute a few at a time, in the order they came, each sent as
    soon as it is drawn, instead of all sharing the GIL with the thread that sends them
    (docs/caching.md). Re-entrant in one thread; a page that waited ``SLOT_WAIT_S`` runs anyway.
    ``queue`` False: no slot (default: unless an :data:`UNQUEUED` predicate says so).
    """
    depth = getattr(_slot_depth, "n", 0)
    wait = depth == 0 and (queue if queue is not None else not _unqueued())
    slots = _page_slots(PAGE_SLOTS)
    held = slots.acquire(timeout=SLOT_WAIT_S) if wait else False
    _slot_depth.n = depth + 1
    try:
        yield
    finally:
        _slot_depth.n = depth
        if held:
            slots.release()


F = TypeVar("F", bound=Callable[..., Any])


def in_page_slot(fn: F) -> F:
    """``fn`` runs holding a page slot (:func:`page_slot`): for a fragment that computes, whose
    own reruns (a click inside it) do not pass through ``app.py``."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with page_slot():
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


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
    """Import torch in the background, once per server process (3-5 s here): the first page is
    computed in numpy meanwhile; a view that needs autograd waits on Python's import lock
    (model.cache.process.import_torch_side)."""
    process.one_blas_thread()
    thread = threading.Thread(target=process.import_torch_side, name="preload-torch",
                              daemon=True)
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
    """(torch model, card) of a checkpoint file, sharing the arrays of its NumpyNet."""
    from model.files.checkpoint import torch_model
    net = _numpy_checkpoint(path)
    return torch_model(net, path, share=True), net.card


@st.cache_resource(show_spinner=False)
def _uploads() -> ByteLRU[Upload]:
    return ByteLRU(UPLOAD_BYTES, lambda up: up.nbytes)


def _uploaded(digest: str, data: bytes, name: str) -> Upload:
    return _uploads().get_or_compute(digest, lambda: read_upload(data, name))


@st.cache_resource(show_spinner=False)
def _untrained_model(arch: str):
    from model.zoo import build
    model = build(arch).eval()
    return model, {"arch": arch, "params": total_params(model.layer_config), "untrained": True}


def upload_model(digest: str, data: bytes, name: str) -> npforward.NumpyNet:
    """The checked network of an uploaded checkpoint, in numpy (raises CheckpointError, a
    ValueError); no torch network is built."""
    return _uploaded(digest, data, name).net


def _in_page_run() -> bool:
    """Whether this thread runs a session's page (else a view's background task)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    return get_script_run_ctx(suppress_warning=True) is not None


def _upload_entry(ref: ModelRef) -> Upload:
    if not _in_page_run():
        # a view's background task (atlas, confusion, trust): no session here; the page that
        # started it held this upload, loaded under its digest
        found = _uploads().get(ref.target)
        if found is not None:
            return found
    up = state.uploaded()
    if not up or up["digest"] != ref.target:
        raise ValueError("the uploaded checkpoint is no longer available; upload it again")
    return _uploaded(ref.target, up["data"], up["name"])


def get_model(ref: ModelRef):
    """(torch model in eval mode, card) for any model reference: for the views that need
    gradients. A checkpoint's or upload's model is built on first use from its NumpyNet."""
    if ref.kind == "checkpoint":
        return _torch_checkpoint(ref.target)
    if ref.kind == "upload":
        up = _upload_entry(ref)
        return up.model(), up.net.card
    return _untrained_model(ref.target)


@st.cache_resource(show_spinner=False, max_entries=16)
def _numpy_from_torch(ref: ModelRef, _model, _card) -> npforward.NumpyNet:
    """Untrained zoo networks only (a fixed, small set): checkpoints and uploads are read in
    numpy."""
    from model.files.export import numpy_net
    return numpy_net(_model, _card)


def numpy_net(ref: ModelRef) -> npforward.NumpyNet:
    """Layer records, numpy weights and card of any model (no torch for checkpoints and
    uploads)."""
    if ref.kind == "checkpoint":
        return _numpy_checkpoint(ref.target)
    if ref.kind == "upload":
        return _upload_entry(ref).net
    model, card = get_model(ref)
    return _numpy_from_torch(ref, model, card)


def model_facts(ref: ModelRef) -> tuple[str, int, dict]:
    """(architecture, parameters, card) without torch for checkpoints and uploads."""
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


@st.cache_resource(show_spinner=False)
def _randomized_models() -> ByteLRU:
    return ByteLRU(RANDOMIZED_BYTES, model_bytes)


def _randomized(ref: ModelRef, model):
    from model.insight.activations import randomized_copy
    return _randomized_models().get_or_compute(ref, lambda: randomized_copy(model))


# ---------------------------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def samples() -> tuple[np.ndarray, np.ndarray]:
    """The shipped sample digits (images, labels), shared by every session and read-only: every
    page run reads them, so they are handed out as they are, not copied at each call."""
    images, labels = store.load_samples()
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


@st.cache_resource(show_spinner="Reading the MNIST test set ...")
def test_set():
    from model.data import load_mnist
    data = load_mnist(download=False)
    return data.test_images.numpy(), data.test_labels.numpy()


@st.cache_data(show_spinner="Classifying the 10,000 test digits (once per model) ...",
               max_entries=32)
def test_predictions(ref: ModelRef) -> np.ndarray:
    import torch

    from model.train import predict
    images, _ = test_set()
    model, _ = get_model(ref)
    return predict(model, torch.from_numpy(images), batch_size(field_table(ref))).numpy()


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _forward_results() -> ByteLRU:
    """Results of checkpoint files (numpy), shared by the class."""
    return ByteLRU(FORWARD_BYTES, array_bytes)


@st.cache_resource(show_spinner=False)
def _upload_results() -> ByteLRU:
    """Results of uploads (numpy) and untrained networks (torch)."""
    return ByteLRU(UPLOAD_FORWARD_BYTES, array_bytes)


def forward(ref: ModelRef, image: np.ndarray):
    """(every layer's output, class probabilities) of one digit, in one forward pass: numpy for
    checkpoints and uploads, torch for untrained networks (their weights are torch's).

    Shared, not copied: the ~1 MB of maps (16 MB at the limits) is handed out as it is
    (callers only read it; the arrays are made read-only to keep it so), from caches of
    :data:`FORWARD_BYTES` (checkpoint files) and :data:`UPLOAD_FORWARD_BYTES` (the others).
    """
    def run():
        if ref.kind == "untrained":
            from model.insight.activations import activations, as_input
            model, _ = get_model(ref)
            acts = activations(model, as_input(image))
        else:
            acts = npforward.forward(numpy_net(ref), image)
        probs = npforward.softmax(next(reversed(acts.values())))  # the logits' softmax
        for a in (*acts.values(), probs):
            a.flags.writeable = False
        return acts, probs

    if ref.kind == "checkpoint":
        return _forward_results().get_or_compute((ref, image_key(image)), run)
    if ref.kind == "upload":
        _upload_entry(ref)  # the session must hold this upload, even when the result is cached
    return _upload_results().get_or_compute((ref, image_key(image)), run)


@st.cache_resource(show_spinner=False, max_entries=32)
def field_table(ref: ModelRef) -> tuple[LayerInfo, ...]:
    """The receptive-field table of a model, shared (frozen rows in a tuple: nothing to copy)."""
    return tuple(fields.field_table(layer_records(ref)))


@st.cache_resource(show_spinner=False, max_entries=64)
def growth_figure(ref: ModelRef, layer: str):
    """The field-growth chart of a model with ``layer`` marked (the same for every session and
    digit: built once). Shared: ``ui.common.plot`` copies it before changing anything."""
    from viz.pictures import figures
    return figures.field_growth(field_table(ref), layer)


@st.cache_data(show_spinner=False, max_entries=1024)
def attribution(ref: ModelRef, image: np.ndarray, method: str, target: int, layer: str,
                window: int, stride: int, randomized: bool = False) -> np.ndarray:
    from model import saliency
    from model.insight.activations import as_input
    model, _ = get_model(ref)
    if randomized:
        model = _randomized(ref, model)
    return saliency.attribute(method, model, as_input(image), target, layer=layer,
                              window=window, stride=stride)


def attributions(ref: ModelRef, image: np.ndarray, jobs: list[tuple[str, bool]], target: int,
                 layer: str, window: int, stride: int) -> dict[tuple[str, bool], np.ndarray | None]:
    """Several :func:`attribution` maps of one digit, ``jobs`` = [(method, randomized)], on two
    threads: the page's and one helper (torch releases the GIL while it computes, so the two
    use both cores of the server). The All methods view's two rows (the trained network and the
    randomized copy) take about the same time, so each thread takes one. The maps are exactly
    :func:`attribution`'s (the same calls, and its cache); a method that does not apply to
    ``layer`` (Grad-CAM on a vector) gives None."""
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    def run(part: list[tuple[str, bool]], out: dict) -> None:
        for method, randomized in part:
            try:
                out[(method, randomized)] = attribution(ref, image, method, target, layer,
                                                        window, stride, randomized=randomized)
            except ValueError:  # e.g. Grad-CAM on a layer without feature maps
                out[(method, randomized)] = None

    mine = [j for j in jobs if not j[1]]
    other = [j for j in jobs if j[1]]
    if not mine or not other:  # one row: every other job
        mine, other = jobs[::2], jobs[1::2]
    done: dict[tuple[str, bool], np.ndarray | None] = {}
    theirs: dict[tuple[str, bool], np.ndarray | None] = {}
    helper = None
    if other:
        helper = threading.Thread(target=run, args=(other, theirs), name="attributions",
                                  daemon=True)
        add_script_run_ctx(helper, get_script_run_ctx())
        helper.start()
    try:
        run(mine, done)
    finally:
        if helper is not None:
            helper.join()
    missing = [j for j in other if j not in theirs]  # the helper failed: compute them here
    run(missing, theirs)
    done.update(theirs)
    return {j: done[j] for j in jobs}


@st.cache_data(show_spinner=False, max_entries=1024)
def unit_maps(ref: ModelRef, image: np.ndarray, layer: str, unit: tuple[int, int, int]):
    """(effective field, DeepLift attribution) of one unit for one input."""
    from model.insight.activations import as_input
    from model.insight.erf import effective_field
    from model.saliency import neuron_attribution
    model, _ = get_model(ref)
    x = as_input(image)
    return effective_field(model, layer, unit, x), neuron_attribution(model, x, layer, unit)
