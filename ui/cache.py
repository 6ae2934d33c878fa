"""Thin ``st.cache_*`` wrappers around the Streamlit-free code in ``model/`` and ``viz/``.

One model per checkpoint is cached with ``st.cache_resource`` and shared by every session; it is
never mutated and never carries a hook (hook-registering methods run on private copies, see
``model/insight/activations.py``). Every function takes a :class:`model.store.ModelRef`.

Numpy first, torch when gradients are needed. Shipped and trained checkpoints and uploads are read
into a :class:`viz.network.npforward.NumpyNet` (``viz.network.card``'s checks; the arrays are read-only views of
the file's bytes): the prediction, the feature maps and the in-browser lens's payload come from it,
one numpy forward pass per digit, so the first page is drawn while torch is still loading and an
upload is checked and shown without building a torch network. The torch model of such a network
(:func:`get_model`) is built from the NumpyNet only when a view needs gradients (saliency,
effective fields, atlas, confusion, trust), sharing its arrays (``model.files.checkpoint.torch_model``).
Untrained zoo networks are made in torch (random weights) and exported to numpy for the lens.

Memory budget. Whatever a user uploads, the caches together stay within about 650 MB beyond the
app itself, because every network passes ``viz.network.card``'s limits first (5,000,000 parameters,
4,000,000 activation values per image: at most 20 MB of weights and 16 MB of layer outputs per
digit, in float32) and the caches that grow with networks or digits are bounded by bytes, not
by entries (:class:`ByteLRU`, least recently used first out):

- :func:`forward` (every layer's output and the class probabilities of one digit), in two
  pools. Checkpoint files (shipped and trained here), whose digits a whole class views:
  :data:`FORWARD_BYTES`, 300 MB. A seed digit takes 1.0 MB, so the 200 samples of the default
  network that a class of 30 shares stay cached, with about 100 digits of other networks.
  Uploads and untrained networks (an upload is seen by its own session only):
  :data:`UPLOAD_FORWARD_BYTES`, 68 MB: the last 4 digits of an upload at the limits (16 MB
  each), 65 of a seed-sized one; a digit that has left it is computed again (a seed-sized
  network in milliseconds), so an upload cannot push the class's digits out.
- Uploaded networks (numpy views of the uploaded bytes; the torch model built for the gradient
  views shares the same memory): :data:`UPLOAD_BYTES`, 200 MB: 10 networks at the parameter
  limit, hundreds of small ones. An evicted upload is read again from the bytes its session
  holds.
- Randomized copies for the sanity check: :data:`RANDOMIZED_BYTES`, 64 MB (3 at the limit).
- Small results, bounded by entries: attribution and unit maps (28x28 maps, 1,024 entries each:
  about 3 and 6 MB), test-set predictions (80 kB per network, 32 networks), field tables and
  figures (per network, tens of kB). Shipped checkpoints and untrained zoo networks are a fixed,
  small set.

Passes over many images are batched so that one batch's layer outputs stay within
:data:`BATCH_BYTES` (64 MB, ``viz.network.layers``): classifying the 10,000 test digits with
seed-original holds 9 of them at a time instead of 1,000 (1.6 GB). ``bench/server_memory.py``
measures the server's memory while a session views 20 digits of the widest network the limits
accept.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

import numpy as np
import streamlit as st

from model import store
from model.store import ModelRef
from ui import state
from viz.network import npforward
from viz.network.layers import BATCH_BYTES, LayerInfo, images_per_batch, total_params
from viz.teaching import fields

MB = 1_000_000
FORWARD_BYTES = 300 * MB
UPLOAD_FORWARD_BYTES = 68 * MB
UPLOAD_BYTES = 200 * MB
RANDOMIZED_BYTES = 64 * MB
PREDICT_BATCH = 1000  # test digits per batch when the layer outputs are small

V = TypeVar("V")


class ByteLRU(Generic[V]):
    """A thread-safe map that keeps its values' total size within ``budget`` bytes, dropping
    the least recently used first.

    ``size(value)`` says what a value costs. A value larger than the whole budget is handed
    out but never kept. :meth:`get_or_compute` computes a missing value once, however many
    threads ask for it at the same time (as ``st.cache_resource`` does).
    """

    def __init__(self, budget: int, size: Callable[[V], int]) -> None:
        if not isinstance(budget, int) or budget < 1:
            raise ValueError(f"a cache budget is a number of bytes, 1 or more, not {budget!r}")
        self.budget = budget
        self._size = size
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._computing: dict[Hashable, list] = {}  # key -> [lock, threads using it]
        self.hits = self.misses = self.evictions = 0

    @property
    def nbytes(self) -> int:
        """Bytes held now (the sum of ``size`` over the values kept)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def keys(self) -> list[Hashable]:
        """The keys kept, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            return self._hit(key, default)

    def _hit(self, key: Hashable, default: Any) -> Any:
        item = self._items.get(key)
        if item is None:
            return default
        self._items.move_to_end(key)
        self.hits += 1
        return item[0]

    def put(self, key: Hashable, value: V) -> None:
        """Keep ``value`` (the most recently used), dropping the oldest until within budget."""
        n = int(self._size(value))
        if n < 0:
            raise ValueError(f"a cached value cannot take {n} bytes")
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if n > self.budget:
                return
            self._items[key] = (value, n)
            self._bytes += n
            while self._bytes > self.budget:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
                self.evictions += 1

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value of ``key``, computed (once, whoever else asks meanwhile) when missing.
        An exception from ``compute`` is raised and nothing is kept."""
        missing = object()
        with self._lock:
            value = self._hit(key, missing)
            if value is not missing:
                return value
            slot = self._computing.setdefault(key, [threading.Lock(), 0])
            slot[1] += 1
        try:
            with slot[0]:
                with self._lock:
                    value = self._hit(key, missing)
                    if value is not missing:
                        return value
                    self.misses += 1
                value = compute()
                self.put(key, value)
                return value
        finally:
            with self._lock:
                slot[1] -= 1
                if not slot[1]:
                    self._computing.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def array_bytes(value: Any) -> int:
    """Bytes of the numpy arrays in ``value`` (arrays, or dicts, lists and tuples of them)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(array_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(array_bytes(v) for v in value)
    return 0


def image_key(image: np.ndarray) -> tuple[tuple[int, ...], str, str]:
    """A digit's cache key: its shape, dtype and a digest of its pixels."""
    a = np.ascontiguousarray(image)
    return a.shape, a.dtype.str, hashlib.blake2b(a.tobytes(), digest_size=16).hexdigest()


def _import_torch_side() -> None:
    import torch
    torch.set_num_threads(1)  # 2 threads are barely faster here and sometimes stall
    import captum.attr  # noqa: F401  (another 1-3 s; needed by every view but the first)

    # torch.optim imports torch._dynamo (and sympy) on its first optimizer: about 0.8 s of CPU
    # holding the GIL. Here, not in the first feature visualization a class's atlas starts, which
    # stalled every session's page for that long (bench/results/classroom_views_findings.md).
    import torch._dynamo  # noqa: F401

    import model.files.checkpoint  # noqa: F401
    import model.insight.erf  # noqa: F401
    import model.saliency  # noqa: F401

    # Streamlit runs a full garbage collection after every script run. With torch and Captum
    # loaded the server holds ~350k long-lived objects and each collection took ~0.4 s
    # holding the GIL, queueing every other session (bench/results/classroom_findings.md).
    # Freezing what exists now moves it out of the collector's sight: later collections only
    # scan what the sessions create.
    gc.collect()
    gc.freeze()


def slots_from_env(value: str | None, cores: int) -> int:
    """How many page runs may compute at once: ``CNN_LENS_PAGE_SLOTS`` when it is a whole number
    from 1 to 64, else one per core (30 costly pages at once on 2 cores: p95 1.38 s with 2 slots,
    1.53 s with 3, bench/classroom_views.py)."""
    try:
        n = int(value or "")
    except ValueError:
        n = 0
    return n if 1 <= n <= 64 else max(1, cores)


PAGE_SLOTS = slots_from_env(os.environ.get("CNN_LENS_PAGE_SLOTS"), os.cpu_count() or 1)
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

    Every session's script runs in a thread of one process, and the thread that sends every
    message to every browser (the server's event loop) needs the GIL as they do. When a class
    opened 30 costly pages at once, 30 threads took turns with it, so no page's first message
    left the server before all of them were nearly done (all 30 finished together, at the total
    work divided by the cores). With a few slots the pages compute a few at a time, roughly in the
    order they came, the rest wait without the GIL, and each page is sent as soon as it is drawn
    (bench/results/classroom_views_findings.md). Re-entrant in one thread: a fragment drawn
    inside a page run holds its page's slot. A page that waited ``SLOT_WAIT_S`` runs anyway.
    ``queue`` False: run at once without a slot (default: unless an :data:`UNQUEUED` predicate
    says this session skips the queue, as a teacher's does).
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
    """Import torch in the background, once per server process.

    Importing torch and Captum takes 3-5 s here. The first page (prediction and feature maps of
    a shipped checkpoint) is computed in numpy, so it is drawn while torch loads; the views that
    need autograd import it when used (Python's import lock makes them wait for the background
    import instead of starting a second one).
    """
    one_blas_thread()
    thread = threading.Thread(target=_import_torch_side, name="preload-torch", daemon=True)
    thread.start()
    return thread


def one_blas_thread() -> None:
    """Let numpy's BLAS (OpenBLAS, for the numpy forward pass) compute on the calling thread.

    By default OpenBLAS keeps a worker per core and, after every call, lets it spin waiting for
    the next one: on a 2-core server that was about 70 ms of a core per page (55 ms of the 100 a
    cheap Saliency page cost), taken from the other sessions while a class opens its pages
    (bench/results/classroom_views_findings.md). The app's matrices are small; one thread per
    session is the parallelism that pays. torch is limited the same way in the preload.
    """
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=1, user_api="blas")  # process-wide until changed (no ``with``)
    except Exception as exc:  # noqa: BLE001 - a speed setting: the app works without it
        print(f"numpy's BLAS threads were left as they are: {type(exc).__name__}: {exc}")


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


class _Upload:
    """An uploaded network: its checked NumpyNet (views of the uploaded bytes) and, once a view
    needs gradients, its torch model (built once, sharing the NumpyNet's arrays)."""

    def __init__(self, net: npforward.NumpyNet, name: str) -> None:
        self.net, self.name = net, name
        self._model: Any = None
        self._lock = threading.Lock()

    def model(self):
        with self._lock:
            if self._model is None:
                from model.files.checkpoint import torch_model
                self._model = torch_model(self.net, self.name, share=True)
            return self._model


@st.cache_resource(show_spinner=False)
def _uploads() -> ByteLRU[_Upload]:
    return ByteLRU(UPLOAD_BYTES, lambda up: array_bytes(up.net.tensors))


def _uploaded(digest: str, data: bytes, name: str) -> _Upload:
    def load() -> _Upload:
        from model.files.checkpoint import read_network
        return _Upload(read_network(data, name), name)
    return _uploads().get_or_compute(digest, load)


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


def _upload_entry(ref: ModelRef) -> _Upload:
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
    def size(model) -> int:
        return sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return ByteLRU(RANDOMIZED_BYTES, size)


def _randomized(ref: ModelRef, model):
    from model.insight.activations import randomized_copy
    return _randomized_models().get_or_compute(ref, lambda: randomized_copy(model))


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


def batch_size(infos: list[LayerInfo], budget: int = BATCH_BYTES, most: int = PREDICT_BATCH
               ) -> int:
    """Images per batch of a forward pass without gradients within ``budget`` bytes
    (:func:`viz.network.layers.images_per_batch`, the one rule every batched view follows)."""
    return images_per_batch(infos, budget, most=most)


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


@st.cache_data(show_spinner=False, max_entries=32)
def field_table(ref: ModelRef) -> list[LayerInfo]:
    return fields.field_table(layer_records(ref))


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
