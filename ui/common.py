"""What every page shares: cached models and results, the model and input pickers, guards.

Streamlit UI code (the logic lives in ``viz/`` and ``model/``). One model per checkpoint is cached
with ``st.cache_resource`` and shared by every session; it is never mutated and never carries a
hook (hook-registering methods run on private copies, see ``viz/features.py``). Results are cached
per (model, input, layer, ...) with ``st.cache_data``. Session-state keys: ``model.*`` and
``in.*`` (the sidebar).
"""

from __future__ import annotations

import hashlib
import os
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from viz import npforward, preprocess, present

PLOT_CONFIG = {"displaylogo": False, "displayModeBar": "hover", "modeBarButtons": [["toImage"]],
               "toImageButtonOptions": {"format": "png", "scale": 2}}
ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR = ROOT / "checkpoints"
DEFAULT_NAME = "seed"
SOURCES = ["Samples", "Test set", "Draw", "Upload"]
PAGES: dict[str, object] = {}  # "explore", "tour", "lab", "train" -> st.Page, set by app.py


def _import_torch_side() -> None:
    import torch
    torch.set_num_threads(1)  # 2 threads are barely faster here and sometimes stall
    import captum.attr  # noqa: F401  (another 1-3 s; needed by every view but the first)

    import model.checkpoint  # noqa: F401
    import viz.features  # noqa: F401
    import viz.fields  # noqa: F401


@st.cache_resource(show_spinner=False)
def preload() -> threading.Thread:
    """Import torch in the background, once per server process.

    Importing torch and Captum takes 3-5 s here. The first page (prediction and feature maps of a shipped
    checkpoint) is computed in numpy (viz/npforward.py), so it is drawn while torch loads; the
    views that need autograd import it when used (Python's import lock makes them wait for the
    background import instead of starting a second one).
    """
    thread = threading.Thread(target=_import_torch_side, name="preload-torch", daemon=True)
    thread.start()
    return thread



# ---------------------------------------------------------------------------------------------
# Cached resources and results
# ---------------------------------------------------------------------------------------------

def shipped_checkpoints() -> dict[str, Path]:
    """Shipped checkpoints by name (as model.checkpoint.shipped_checkpoints, without torch)."""
    return {p.stem: p for p in sorted(CHECKPOINT_DIR.glob("*.safetensors"))}


@st.cache_resource(show_spinner=False)
def _numpy_model(path: str) -> npforward.NumpyNet:
    return npforward.load(path)


@st.cache_resource(show_spinner=False)
def _shipped_model(path: str):
    from model.checkpoint import load_checkpoint
    return load_checkpoint(path)


@st.cache_resource(show_spinner=False, max_entries=16)
def _uploaded_model(digest: str, _data: bytes, name: str):
    from model.checkpoint import load_checkpoint_bytes
    return load_checkpoint_bytes(_data, name)


@st.cache_resource(show_spinner=False)
def _untrained_model(arch: str):
    from model.zoo import build, count_params
    model = build(arch).eval()
    return model, {"arch": arch, "params": count_params(model), "untrained": True}


def get_model(key: str):
    """(torch model, card) for a key: 'ckpt:<path>', 'upload:<sha256>' or 'untrained:<arch>'."""
    kind, _, rest = key.partition(":")
    if kind == "ckpt":
        return _shipped_model(rest)
    if kind == "upload":
        up = st.session_state.get("model.upload")
        if not up or up["digest"] != rest:
            raise ValueError("the uploaded checkpoint is no longer available; upload it again")
        return _uploaded_model(rest, up["data"], up["name"])
    return _untrained_model(rest)


def model_facts(key: str) -> tuple[str, int, dict]:
    """(architecture, parameters, card) without importing torch for shipped checkpoints."""
    if key.startswith("ckpt:"):
        net = _numpy_model(key[5:])
        return net.arch, net.params, net.card
    from model.zoo import count_params
    model, card = get_model(key)
    return card.get("arch", "?"), count_params(model), card


def conv_weight(key: str, layer: str) -> np.ndarray | None:
    """The conv kernel (out, in, k, k) of ``layer``, or None when it is not a conv."""
    if key.startswith("ckpt:"):
        net = _numpy_model(key[5:])
        rec = next((r for r in net.layers if r["name"] == layer), None)
        return net.tensors[f"{layer}.weight"] if rec and rec["type"] == "conv" else None
    import torch
    module = dict(get_model(key)[0].named_children()).get(layer)
    if isinstance(module, torch.nn.Conv2d):
        return module.weight.detach().numpy()
    return None


@st.cache_resource(show_spinner=False, max_entries=8)
def _randomized(key: str, _model):
    from viz import features
    return features.randomized_copy(_model)


@st.cache_data(show_spinner=False)
def samples() -> tuple[np.ndarray, np.ndarray]:
    """The shipped sample digits (as model.data.load_samples, without torch)."""
    with np.load(CHECKPOINT_DIR / "samples.npz", allow_pickle=False) as data:
        return data["images"], data["labels"].astype(np.int64)


@st.cache_resource(show_spinner="Reading the MNIST test set ...")
def test_set():
    from model.data import load_mnist
    data = load_mnist(download=False)
    return data.test_images.numpy(), data.test_labels.numpy()


@st.cache_data(show_spinner="Classifying the 10,000 test digits (once per model) ...")
def test_predictions(key: str) -> np.ndarray:
    import torch

    from model.train import predict
    images, _ = test_set()
    model, _ = get_model(key)
    return predict(model, torch.from_numpy(images)).numpy()


@st.cache_data(show_spinner=False, max_entries=512)
def forward(key: str, image: np.ndarray):
    """(every layer's output, class probabilities): numpy for shipped checkpoints, else torch."""
    if key.startswith("ckpt:"):
        acts = npforward.forward(_numpy_model(key[5:]), image)
        return acts, npforward.softmax(next(reversed(acts.values())))
    from viz import features
    model, _ = get_model(key)
    x = features.as_input(image)
    return features.activations(model, x), features.probabilities(model, x)


@st.cache_data(show_spinner=False, max_entries=32)
def field_table(key: str) -> list:
    from viz import fields
    model, _ = get_model(key)
    return fields.field_table(model)


@st.cache_data(show_spinner=False, max_entries=1024)
def attribution(key: str, image: np.ndarray, method: str, target: int, layer: str,
                 window: int, stride: int, randomized: bool = False) -> np.ndarray:
    from viz import features, saliency
    model, _ = get_model(key)
    if randomized:
        model = _randomized(key, model)
    return saliency.attribute(method, model, features.as_input(image), target, layer=layer,
                              window=window, stride=stride)


@st.cache_data(show_spinner=False, max_entries=1024)
def unit_maps(key: str, image: np.ndarray, layer: str, unit: tuple[int, int, int]):
    from viz import features, fields, saliency
    model, _ = get_model(key)
    x = features.as_input(image)
    erf = fields.effective_field(model, layer, unit, x)
    attr = saliency.neuron_attribution(model, x, layer, unit)
    return erf, attr


def guard(what: str, fn: Callable[[], None]) -> None:
    """Run one part of the page; on any error say what failed and keep the rest working."""
    try:
        fn()
    except ValueError as exc:
        st.error(f"{what}: {exc}")
    except Exception as exc:  # noqa: BLE001 - never show a traceback to a class
        st.error(f"{what} failed unexpectedly ({type(exc).__name__}: {exc}). Try another input "
                 f"or layer; the rest of the app keeps working.")
        print(traceback.format_exc())


def presenting() -> bool:
    return bool(st.session_state.get("present.on"))


def plot(fig, key: str | None = None, **kw):
    """A plotly chart; its camera button (on hover) saves it as a PNG. Larger text when presenting."""
    if presenting():
        present.scale_figure(fig)
    return st.plotly_chart(fig, width="stretch", config=PLOT_CONFIG, key=key, **kw)


# ---------------------------------------------------------------------------------------------
# Sidebar: model and input
# ---------------------------------------------------------------------------------------------

def _on_model_upload() -> None:
    up = st.session_state.get("model.uploader")
    if up is None:
        return
    data = up.getvalue()
    st.session_state["model.upload"] = {"name": up.name, "data": data,
                                        "digest": hashlib.sha256(data).hexdigest()}


def trained_here() -> list[Path]:
    """Final checkpoints of training runs on this server (runs/<id>/final.safetensors), newest first."""
    return sorted(runs_dir().glob("*/final.safetensors"), reverse=True)


def run_label(path: Path) -> str:
    """'compact, 24 Nov 15:30' for runs/20261124-153012-ab12cd/final.safetensors."""
    run = path.parent.name
    try:
        arch = _numpy_model(str(path)).arch
    except Exception:  # noqa: BLE001 - a label must never fail
        arch = "?"
    stamp = run[:15]
    when = f"{stamp[6:8]}.{stamp[4:6]}. {stamp[9:11]}:{stamp[11:13]}" if len(stamp) == 15 else run
    return f"{arch}, {when}"


def model_options() -> dict[str, str]:
    """{key: label} of every model the sidebar offers."""
    options: dict[str, str] = {}
    shipped = shipped_checkpoints()
    default = shipped.pop(DEFAULT_NAME, None)
    for name, path in ([(DEFAULT_NAME, default)] if default else []) + list(
            shipped.items()):
        options[f"ckpt:{path}"] = f"{name} (trained)"
    for path in trained_here():
        options[f"ckpt:{path}"] = f"trained here: {run_label(path)}"
    for arch in ("seed", "seed-3x3", "compact"):
        if not any(label.startswith(f"{arch} (") for label in options.values()):
            options[f"untrained:{arch}"] = f"{arch} (untrained: random weights)"
    up = st.session_state.get("model.upload")
    if up:
        options[f"upload:{up['digest']}"] = f"uploaded: {up['name']}"
    return options


def _check_upload(up: dict) -> str | None:
    """None when the uploaded checkpoint loads; otherwise what to tell the user. Any error,
    expected (a CheckpointError names the problem) or not, is caught here."""
    try:
        _uploaded_model(up["digest"], up["data"], up["name"])
    except ValueError as exc:  # CheckpointError is a ValueError
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a file from a user must never break the session
        print(traceback.format_exc())
        return (f"{up['name']}: it could not be loaded ({type(exc).__name__}: "
                f"{str(exc)[:200]}). It was dropped; the other models keep working.")
    return None


def sidebar_model():
    """The model picker. Returns (model key, a sidebar slot for its description)."""
    st.sidebar.header("Model")
    options = model_options()
    up = st.session_state.get("model.upload")
    if up and st.session_state.get("model.last_upload") != up["digest"]:
        # A new upload: validate it and select it, or explain why it does not fit.
        st.session_state["model.last_upload"] = up["digest"]
        error = _check_upload(up)
        if error is None:
            st.session_state["model.choice"] = f"upload:{up['digest']}"
            st.session_state.pop("model.error", None)
        else:  # drop the upload: the session keeps working with the other models
            st.session_state["model.error"] = error
            st.session_state.pop("model.upload", None)
            options.pop(f"upload:{up['digest']}", None)
    if st.session_state.get("model.choice") not in options:
        st.session_state["model.choice"] = next(iter(options))
    key = st.sidebar.selectbox("Network", list(options), format_func=options.get,
                               key="model.choice")
    if st.session_state.get("model.error"):
        st.sidebar.error(f"That checkpoint cannot be used. {st.session_state['model.error']}")
    try:
        arch, params, card = model_facts(key)
    except Exception as exc:  # noqa: BLE001 - a broken file must not take the app down
        st.sidebar.error(f"The model could not be loaded ({exc}). Showing an untrained seed "
                         f"network instead.")
        key = "untrained:seed"
        arch, params, card = model_facts(key)
    facts = [f"**{arch}**", f"{params:,} parameters"]
    acc = card.get("test_accuracy")
    if isinstance(acc, (int, float)):
        facts.append(f"{acc:.2%} test accuracy")
    st.sidebar.caption(" · ".join(facts))
    slot = st.sidebar.empty()
    if card.get("untrained"):
        st.sidebar.warning("Untrained network: predictions are chance. Train one with "
                           "`python -m model.train` to see real features.")
    with st.sidebar.expander("Upload your own checkpoint"):
        st.file_uploader(
            "A .safetensors checkpoint of a zoo architecture", type=None,
            key="model.uploader", on_change=_on_model_upload,
            help="Made with model.checkpoint.save_checkpoint (python -m model.train). Pickles "
                 "and torch.save files are refused for safety.")
    return key, arch, slot


def _on_image_upload() -> None:
    up = st.session_state.get("in.uploader")
    if up is not None:
        st.session_state["in.upload"] = {"name": up.name, "data": up.getvalue()}


def sidebar_input(key: str) -> tuple[np.ndarray | None, int | None, str]:
    """(uint8 28x28 image or None, true label or None, description)."""
    st.sidebar.header("Input")
    st.session_state["in.ref"] = None  # ("sample", i) or ("test", i): what a link can name
    source = st.sidebar.radio("Digit from", SOURCES, horizontal=True, key="in.source")
    if source == "Samples":
        images, labels = samples()
        digit = st.sidebar.selectbox("Digit", ["any"] + list(range(10)), key="in.digit")
        idx = np.arange(len(labels)) if digit == "any" else np.flatnonzero(labels == digit)
        # No default value: a link may have set the slider's state (value None = its minimum).
        i = st.sidebar.slider("Sample", 1, len(idx), key=f"in.sample.{digit}") - 1
        j = int(idx[i])
        st.session_state["in.ref"] = ("sample", j)
        return images[j], int(labels[j]), f"sample {j + 1} of {len(labels)} (label {labels[j]})"
    if source == "Test set":
        from model.data import mnist_available
        if not mnist_available():
            st.sidebar.info("The MNIST test set is not on this machine (set MNIST_DIR to its "
                            "folder). Showing the shipped samples instead.")
            images, labels = samples()
            return images[0], int(labels[0]), f"sample 1 of {len(labels)} (label {labels[0]})"
        images, labels = test_set()
        digit = st.sidebar.selectbox("Digit", ["any"] + list(range(10)), key="in.test_digit")
        wrong = st.sidebar.checkbox("Misclassified only", key="in.wrong")
        mask = np.ones(len(labels), bool) if digit == "any" else labels == digit
        if wrong:
            mask &= test_predictions(key) != labels
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            st.sidebar.info("No test digit matches: this model gets all of them right.")
            return None, None, ""
        i = st.sidebar.slider(f"Test digit ({len(idx):,} match)", 1, len(idx),
                              key=f"in.test.{digit}.{wrong}") - 1
        j = int(idx[i])
        st.session_state["in.ref"] = ("test", j)
        return images[j], int(labels[j]), f"test digit #{j} (label {labels[j]})"
    if source == "Draw":
        draw_canvas()
        rgba = st.session_state.get("in.drawing")
        if rgba is None:
            st.sidebar.info("Draw a digit above with the mouse (or a finger).")
            return None, None, ""
        try:
            img = preprocess.canvas_to_mnist(rgba)
        except ValueError as exc:
            st.sidebar.info(str(exc)[0].upper() + str(exc)[1:])
            return None, None, ""
        preview(img)
        return img, None, "your drawing"
    st.sidebar.file_uploader("Upload a picture of a digit", type=None, key="in.uploader",
                             on_change=_on_image_upload,
                             help="PNG, JPEG, BMP or GIF; dark ink on light paper or the reverse.")
    up = st.session_state.get("in.upload")
    if not up:
        st.sidebar.info("Upload a picture of one handwritten digit.")
        return None, None, ""
    try:
        img = preprocess.image_bytes_to_mnist(up["data"], up["name"])
    except ValueError as exc:
        st.sidebar.error(f"{exc}")
        return None, None, ""
    preview(img)
    return img, None, f"upload {up['name']}"


def draw_canvas() -> None:
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception:  # noqa: BLE001 - the component only registers under `streamlit run`
        st.sidebar.warning("The drawing canvas is unavailable here; upload a picture instead.")
        return
    with st.sidebar:
        result = st_canvas(stroke_width=18, stroke_color="#000000", background_color="#ffffff",
                           height=240, width=240, drawing_mode="freedraw",
                           return_image_data=True, key="in.canvas")
    data = result.image_data if result is not None else None
    if data is not None:
        st.session_state["in.drawing"] = np.asarray(data)


def preview(img: np.ndarray) -> None:
    st.sidebar.image(preprocess.to_png(img, 112), width=112, output_format="PNG",
                     caption="What the network sees: 28x28, MNIST-style (cropped, fitted into "
                             "20x20, centred by mass)")




# ---------------------------------------------------------------------------------------------
# What the sidebar chose, for the page that runs after it
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """The sidebar's choice: model key, architecture, input image (or None), label, description."""

    key: str
    arch: str
    image: np.ndarray | None
    label: int | None
    desc: str


# Plain selection widgets in the sidebar; their values survive a visit to a page that hides them.
KEEP_PREFIXES = ("model.choice", "in.source", "in.digit", "in.sample.", "in.test_digit",
                 "in.wrong", "in.test.")


def keep_sidebar_state() -> None:
    """Stop Streamlit from forgetting the sidebar's widget values on pages that do not draw them."""
    for k in list(st.session_state):
        if isinstance(k, str) and k.startswith(KEEP_PREFIXES):
            st.session_state[k] = st.session_state[k]


def sidebar(with_input: bool = True) -> tuple[Context, object]:
    """Model (and input) pickers; returns the context and a slot for the model's description."""
    key, arch, about = sidebar_model()
    image, label, desc = sidebar_input(key) if with_input else (None, None, "")
    ctx = Context(key, arch, image, label, desc)
    st.session_state["ctx"] = ctx
    return ctx, about


def context() -> Context:
    """The context the sidebar set in this run."""
    ctx = st.session_state.get("ctx")
    if ctx is None:
        raise RuntimeError("the sidebar has not run yet")
    return ctx


# ---------------------------------------------------------------------------------------------
# Background training, shared by the train page and the lab
# ---------------------------------------------------------------------------------------------

def runs_dir() -> Path:
    """Where training runs are kept: runs/ in the project, or $CNN_LENS_RUNS_DIR."""
    return Path(os.environ.get("CNN_LENS_RUNS_DIR") or ROOT / "runs")


@st.cache_resource(show_spinner=False)
def _job_manager(folder: str):
    from model.jobs import JobManager
    return JobManager(Path(folder))


def job_manager():
    """The server's one job manager (shared by every session)."""
    return _job_manager(str(runs_dir()))


def session_name() -> str:
    """A short name for this browser session, shown to others while its job runs."""
    return st.session_state.setdefault("train.session", uuid.uuid4().hex[:6])


def _load_data():
    from model.data import load_mnist
    return load_mnist(download=False)


def start_training(cfg) -> bool:
    """Start training ``cfg`` (a model.train.TrainConfig) in the background.

    Returns True when it started; otherwise says why on the page (MNIST missing, another
    session's job running, or the run over this server's training budget) and returns False.
    """
    from model.data import mnist_available
    from model.jobs import JobBusy
    if not mnist_available():
        st.error("Training needs the four MNIST files, which are not on this server. Set "
                 "MNIST_DIR to the folder that holds them (train-images-idx3-ubyte.gz, ...) and "
                 "restart the app, or run `python -m model.data` once where there is internet to "
                 "download them into .cache/mnist.")
        return False
    try:
        job_manager().start(cfg, _load_data, owner=session_name())
    except (JobBusy, ValueError) as exc:  # another job runs, or over the budget (OverBudget)
        st.error(str(exc))
        return False
    return True


def training_estimate(name: str, layers: list, epochs: int, batch_size: int = 128,
                      max_steps: int | None = None):
    """(estimate, None) for a run on this server, or (None, the message refusing it)."""
    from model import budget
    try:
        return budget.check(name, layers, epochs, runs_dir(), batch_size, max_steps), None
    except ValueError as exc:  # OverBudget
        return None, str(exc)
