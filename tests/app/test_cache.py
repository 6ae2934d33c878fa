"""The shared caches are bounded by bytes: least recently used out first, values computed once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from model.cache import budget
from model.cache.budget import batch_size
from model.cache.lru import ByteLRU, array_bytes
from ui import cache
from viz.teaching.lab import analyse, rows_to_layers


def test_a_byte_budget_drops_the_least_recently_used_values_first() -> None:
    lru: ByteLRU[str] = ByteLRU(10, len)
    lru.put("a", "xxxx")
    lru.put("b", "yyy")
    lru.put("c", "zz")
    assert lru.nbytes == 9 and lru.keys() == ["a", "b", "c"]
    assert lru.get("a") == "xxxx"  # "a" is now the most recently used
    lru.put("d", "www")  # 12 bytes: "b" goes, the oldest
    assert lru.keys() == ["c", "a", "d"] and lru.nbytes == 9 and lru.evictions == 1
    lru.put("e", "v" * 8)  # 17 bytes: "c", "a" and "d" go
    assert lru.keys() == ["e"] and lru.nbytes == 8 and lru.evictions == 4
    lru.put("e", "v")  # replacing a value counts its new size only
    assert lru.nbytes == 1
    lru.put("huge", "h" * 11)  # larger than the whole budget: never kept, nothing dropped
    assert lru.keys() == ["e"] and "huge" not in lru and lru.get("huge", "none") == "none"
    lru.clear()
    assert len(lru) == 0 and lru.nbytes == 0


def test_get_or_compute_computes_once_and_keeps_nothing_on_error() -> None:
    lru: ByteLRU[np.ndarray] = ByteLRU(1000, array_bytes)
    calls = []
    first = lru.get_or_compute("k", lambda: calls.append(1) or np.zeros(100, np.float32))
    again = lru.get_or_compute("k", lambda: calls.append(1) or np.ones(100, np.float32))
    assert again is first and calls == [1] and lru.nbytes == 400
    assert (lru.hits, lru.misses) == (1, 1)
    lru.get_or_compute("j", lambda: np.zeros(100, np.float32))
    lru.get_or_compute("i", lambda: np.zeros(100, np.float32))  # 1200 bytes: "k" goes
    assert lru.keys() == ["j", "i"]

    def boom() -> np.ndarray:
        raise RuntimeError("no")
    with pytest.raises(RuntimeError):
        lru.get_or_compute("bad", boom)
    assert "bad" not in lru and lru.keys() == ["j", "i"]


def test_threads_asking_for_the_same_missing_value_share_one_computation() -> None:
    lru: ByteLRU[int] = ByteLRU(100, lambda v: 1)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return 42

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(lru.get_or_compute("k", slow)))
    first.start()
    started.wait(10)
    others = [threading.Thread(target=lambda: results.append(lru.get_or_compute("k", slow)))
              for _ in range(4)]
    for t in others:
        t.start()
    release.set()
    for t in (first, *others):
        t.join(10)
    assert results == [42] * 5 and calls == [1] and lru._computing == {}


def test_array_bytes_counts_nested_arrays() -> None:
    acts = {"a": np.zeros((4, 5, 5), np.float32), "b": np.zeros(10, np.float32)}
    assert array_bytes((acts, np.zeros(10, np.float32))) == 400 + 40 + 40
    assert array_bytes("text") == 0


def test_the_forward_budget_holds_the_classroom_case_and_bounds_the_worst() -> None:
    from model.architectures import ARCHITECTURES
    from viz.limits import NETWORK_ACTIVATIONS
    from viz.network.layers import activation_elements
    seed_digit = 4 * (activation_elements(list(analyse(ARCHITECTURES["seed"].layers()).layers))
                      + 10)
    assert seed_digit == 1_016_184
    assert budget.FORWARD_BYTES // seed_digit >= 200 + 90  # the 200 samples, and room besides
    assert budget.FORWARD_BYTES // (4 * (NETWORK_ACTIVATIONS + 10)) == 18  # digits at the limit
    assert budget.UPLOAD_FORWARD_BYTES // (4 * (NETWORK_ACTIVATIONS + 10)) == 4  # an upload's


def test_batches_keep_a_layer_input_and_output_within_the_budget() -> None:
    from model.architectures import ARCHITECTURES
    seed = list(analyse(ARCHITECTURES["seed"].layers()).layers)
    original = list(analyse(ARCHITECTURES["seed-original"].layers()).layers)
    # viz.network.layers.FORWARD_FACTOR = 2: measured peak over a layer's input and output
    assert batch_size(seed) == 64_000_000 // (2 * 4 * 2 * 12544) == 318
    assert batch_size(original) == 64_000_000 // (2 * 4 * 2 * 401408) == 9
    tiny = list(analyse(rows_to_layers([{"type": "flatten"}, {"type": "linear"}])).layers)
    assert batch_size(tiny) == 1000  # small networks keep the default batch
    huge = list(analyse(rows_to_layers([{"type": "conv", "kernel": 1, "channels": 5000},
                                        {"type": "gap"}, {"type": "flatten"},
                                        {"type": "linear"}])).layers)
    assert batch_size(huge) == 64_000_000 // (2 * 4 * (784 + 5000 * 784)) == 2
    assert batch_size(huge, budget=1) == 1


# ---------------------------------------------------------------------------------------------
# Uploads: numpy from the bytes to the prediction, maps and lens; torch only for gradients
# ---------------------------------------------------------------------------------------------

def upload_bytes(arch: str = "compact", seed: int = 0) -> bytes:
    """A checkpoint of a zoo architecture with random weights of its own (a digest no other
    test has cached): small random conv and linear weights, fresh BatchNorm statistics."""
    import json

    from safetensors.numpy import save

    from model.architectures import ARCHITECTURES
    from viz.network.card import expected_tensors
    layers = ARCHITECTURES[arch].layers()
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {}
    for name, (dtype, shape) in expected_tensors(layers).items():
        if dtype == "I64":
            tensors[name] = np.full(shape, 3, np.int64)
        elif name.endswith("running_var"):
            tensors[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            tensors[name] = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
    return save(tensors, metadata={"model_card": json.dumps({"arch": arch, "layers": layers})})


@pytest.fixture
def uploaded(request):
    """An upload held by the (bare) session, as the sidebar's uploader leaves it."""
    import hashlib

    import streamlit as st

    from model.store import ModelRef
    data = upload_bytes(seed=abs(hash(request.node.name)) % 2**32)
    digest = hashlib.sha256(data).hexdigest()
    st.session_state["model.upload"] = {"name": "mine.safetensors", "data": data,
                                        "digest": digest}
    yield ModelRef.upload(digest), data
    del st.session_state["model.upload"]


def test_an_upload_is_shown_without_building_torch(uploaded, monkeypatch) -> None:
    """Checked, described, run and sent to the lens from its numpy arrays: one numpy pass per
    digit, no torch model built, no torch pass."""
    import model.files.checkpoint
    import model.insight.activations
    import model.zoo
    from viz.browser import lens
    from viz.network import npforward
    ref, data = uploaded

    def never(*args, **kwargs):
        raise AssertionError("a torch model was built or run for an upload's maps")

    monkeypatch.setattr(model.files.checkpoint, "torch_model", never)
    monkeypatch.setattr(model.zoo, "build_from_config", never)
    monkeypatch.setattr(model.insight.activations, "activations", never)
    passes = []
    real = npforward.forward
    monkeypatch.setattr(npforward, "forward",
                        lambda net, image: passes.append(1) or real(net, image))
    net = cache.upload_model(ref.target, data, "mine.safetensors")
    assert cache.model_facts(ref)[:2] == ("compact", net.params)
    assert np.shares_memory(net.tensors["conv1.weight"], np.frombuffer(data, np.uint8))
    images, _ = cache.samples()
    acts, probs = cache.forward(ref, images[0])
    assert passes == [1] and list(acts) == [r["name"] for r in net.layers]
    ref_acts = real(net, images[0])
    for name in ref_acts:
        np.testing.assert_array_equal(acts[name], ref_acts[name])
    np.testing.assert_allclose(probs, npforward.softmax(list(ref_acts.values())[-1]))
    assert abs(float(probs.sum()) - 1) < 1e-6
    assert cache.forward(ref, images[0])[0] is acts and passes == [1]  # cached: no second pass
    cache.forward(ref, images[1])
    assert passes == [1, 1]
    assert cache.numpy_net(ref) is net
    assert lens.payload(cache.numpy_net(ref))["supported"]  # what ui's lens sends


def test_an_upload_and_its_maps_never_import_torch() -> None:
    """In a fresh interpreter (no background import): accepting an upload, its facts, its
    first digit, its field table and its lens payload import neither torch nor Captum."""
    code = (
        "import hashlib, sys\n"
        "import streamlit as st\n"
        "from model.store import ModelRef\n"
        "from tests.app.test_cache import upload_bytes\n"
        "from ui import cache\n"
        "from viz.browser import lens\n"
        "data = upload_bytes()\n"
        "digest = hashlib.sha256(data).hexdigest()\n"
        "st.session_state['model.upload'] = {'name': 'm', 'data': data, 'digest': digest}\n"
        "ref = ModelRef.upload(digest)\n"
        "cache.upload_model(digest, data, 'm')\n"
        "arch = cache.model_facts(ref)[0]\n"
        "acts, probs = cache.forward(ref, cache.samples()[0][0])\n"
        "cache.field_table(ref)\n"
        "lens.payload(cache.numpy_net(ref))\n"
        "print(arch, len(acts) == len(cache.numpy_net(ref).layers), sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'captum'}))\n")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["compact", "True", "[]"], out.stdout


def test_the_torch_model_of_an_upload_is_built_once_from_its_arrays(uploaded) -> None:
    """Built on first use by a view that needs gradients; the same numbers as the numpy pass
    (within 1e-5 of each layer's largest value), the same memory."""
    from model.insight.activations import activations, as_input
    ref, data = uploaded
    net = cache.upload_model(ref.target, data, "mine.safetensors")
    images, _ = cache.samples()
    model, card = cache.get_model(ref)
    assert card is net.card and cache.get_model(ref)[0] is model  # built once
    assert not model.training
    assert np.shares_memory(model.conv1.weight.detach().numpy(), net.tensors["conv1.weight"])
    for image in images[:3]:
        acts, probs = cache.forward(ref, image)
        ref_acts = activations(model, as_input(image))
        for name, a in ref_acts.items():
            scale = max(1.0, float(np.abs(a).max()))
            assert float(np.abs(acts[name] - a).max()) <= 1e-5 * scale, name
        np.testing.assert_allclose(probs, softmax_of(model, image), atol=1e-5)
    erf, attr = cache.unit_maps(ref, images[0], "conv1", (0, 5, 5))
    assert erf.shape == (28, 28) and float(np.abs(erf).sum()) > 0


def softmax_of(model, image: np.ndarray) -> np.ndarray:
    from model.insight.activations import as_input, probabilities
    return probabilities(model, as_input(image))


def test_an_upload_the_session_no_longer_holds_is_refused(uploaded, monkeypatch) -> None:
    """In a page run, only the session's own upload is used (a forged digest of another
    session's upload is refused); a view's background task, which has no session, finds the
    upload its page held under its digest."""
    import streamlit as st
    ref, data = uploaded
    cache.upload_model(ref.target, data, "mine.safetensors")
    images, _ = cache.samples()
    cache.forward(ref, images[0])
    held = st.session_state["model.upload"]
    del st.session_state["model.upload"]
    try:
        monkeypatch.setattr(cache, "_in_page_run", lambda: True)
        for call in (lambda: cache.forward(ref, images[0]), lambda: cache.numpy_net(ref),
                     lambda: cache.get_model(ref)):
            with pytest.raises(ValueError, match="no longer available; upload it again"):
                call()
        monkeypatch.setattr(cache, "_in_page_run", lambda: False)
        assert cache.numpy_net(ref) is cache.upload_model(ref.target, data, "mine.safetensors")
    finally:
        st.session_state["model.upload"] = held


def test_a_checkpoint_file_has_one_copy_of_its_weights() -> None:
    """Shipped and trained checkpoints: the torch model of the gradient views is built from the
    numpy network the maps use, on the same arrays (the file is not read again)."""
    from model.store import ModelRef
    ref = ModelRef.checkpoint(str(Path(__file__).resolve().parents[2] / "checkpoints" /
                                  "compact.safetensors"))
    net = cache.numpy_net(ref)
    model, card = cache.get_model(ref)
    assert card is net.card and cache.get_model(ref)[0] is model and not model.training
    for name, tensor in model.state_dict().items():
        assert np.shares_memory(tensor.numpy(), net.tensors[name]), name
