"""The sidebar every page shares: the network and the input digit, and what they chose.

Session-state keys: ``model.*`` and ``in.*``; the sidebar's choice for the page that runs after
it is a :class:`Context` (``context()``).
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from model import store
from model.architectures import ARCHITECTURES, DEFAULT
from model.files import formats
from model.store import ModelRef
from ui import cache, checked, state
from viz.inputs import preprocess, urlstate

SOURCES = state.SOURCES
DIGITS = ["any"] + list(range(10))  # the digit filters' choices


def _on_model_upload() -> None:
    ups = st.session_state.get("model.uploader")
    if not ups:
        return
    ups = ups if isinstance(ups, list) else [ups]
    from model import importer
    main = importer.main_file([u.name for u in ups])
    if main is None and len(ups) == 1:
        data = ups[0].getvalue()
        st.session_state[state.UPLOAD] = {"name": ups[0].name, "data": data,
                                            "digest": hashlib.sha256(data).hexdigest()}
        return
    files = {u.name: u.getvalue() for u in ups}
    _import(files, main, "auto")


def _import(files: dict[str, bytes], main: str | None, scale: str,
            architecture: str | None = None) -> None:
    """Convert an ONNX (or other registered) upload into a checkpoint held as the upload; a
    state dict's ``architecture`` (None: matched by its tensors' shapes)."""
    from model import importer
    from model.files.statedict_import import ArchitectureNeeded
    st.session_state.pop("model.arch_pick", None)
    try:
        if main is None:
            raise ValueError(f"upload one network file ({', '.join(importer.READERS)}, or "
                             f".safetensors) with its data files, not {len(files)} files.")
        conv = importer.convert(files, main, scale, architecture=architecture)
    except ValueError as exc:  # CardError: one line saying why
        if isinstance(exc, ArchitectureNeeded) or (architecture and main):
            # a state dict whose network is not found (or not the one picked): pick another
            st.session_state["model.arch_pick"] = {
                "files": files, "main": main, "architecture": architecture,
                "nearest": architecture or getattr(exc, "nearest", None)}
        st.session_state["model.error"] = str(exc)
        st.session_state["model.last_upload"] = None
        st.session_state.pop(state.UPLOAD, None)
        return
    except Exception as exc:  # noqa: BLE001 - a file from a user must never break the session
        print(traceback.format_exc())
        st.session_state["model.error"] = (f"{urlstate.cut(main or '?')}: it could not be "
                                           f"converted ({type(exc).__name__}).")
        st.session_state.pop(state.UPLOAD, None)
        return
    st.session_state[state.UPLOAD] = {
        "name": main, "data": conv.data, "digest": hashlib.sha256(conv.data).hexdigest(),
        "imported": {"files": files, "main": main, "accuracy": conv.scale_accuracy,
                     "scale": conv.card["input_scale"], "likelihood": conv.scale_likelihood,
                     "close": conv.close, "architecture": conv.card.get("architecture"),
                     "tried": conv.card.get("architectures_tried", [])}}


def _on_import_scale() -> None:
    up = st.session_state.get(state.UPLOAD) or {}
    imp = up.get("imported")
    choice = st.session_state.get("model.import_scale")
    from viz.inputs.scaling import WORDS
    if imp and isinstance(choice, str) and choice in WORDS and choice != imp["scale"]:
        _import(imp["files"], imp["main"], "raw" if choice == "inside" else choice,
                imp.get("architecture"))


def _import_scale_picker() -> None:
    """The imported network's input scaling: found on the samples, with their accuracies."""
    from viz.inputs.scaling import WORDS
    imp = (st.session_state.get(state.UPLOAD) or {}).get("imported")
    if not imp:
        return
    acc, like = imp["accuracy"], imp.get("likelihood") or {}
    st.caption("Input scaling found on the shipped samples by the likelihood (the mean "
               "log-probability of the true digit, in brackets; accuracy beside it): "
               + ", ".join(f"{k} {v:.0%} ({like.get(k, float('nan')):.2f})"
                           for k, v in acc.items())
               + (f". Close to {', '.join(imp['close'])}: check both." if imp.get("close")
                  else ""))
    names = list(acc)
    st.session_state["model.import_scale"] = imp["scale"]
    # short choices (a sidebar's expander is narrow): the formulas are listed under the picker
    st.selectbox("Input scaling of the uploaded network", names, key="model.import_scale",
                 format_func=lambda n: f"{n} ({acc[n]:.0%})",
                 on_change=_on_import_scale,
                 help="How the pixels were scaled when it was trained; change it if the "
                      "guess is wrong.")
    st.caption(" · ".join(f"{n}: {WORDS[n]}" for n in names))


def run_label(path: Path) -> str:
    """'compact, 24 Nov 15:30' for runs/20261124-153012-ab12cd/final.safetensors."""
    run = path.parent.name
    try:
        arch = cache.numpy_net(ModelRef.checkpoint(path)).arch
    except Exception:  # noqa: BLE001 - a label must never fail
        arch = "?"
    stamp = run[:15]
    when = f"{stamp[6:8]}.{stamp[4:6]}. {stamp[9:11]}:{stamp[11:13]}" if len(stamp) == 15 else run
    return f"{arch}, {when}"


def model_options() -> dict[ModelRef, str]:
    """{reference: label} of every model the sidebar offers, the default first."""
    options: dict[ModelRef, str] = {}
    shipped = store.shipped_checkpoints()
    first = shipped.pop(DEFAULT, None)
    for name, path in ([(DEFAULT, first)] if first else []) + list(shipped.items()):
        options[ModelRef.checkpoint(path)] = f"{name} (trained)"
    for path in store.trained_here():
        options[ModelRef.checkpoint(path)] = f"trained here: {run_label(path)}"
    for arch in ARCHITECTURES.values():
        if arch.offer_untrained and not any(label.startswith(f"{arch.name} (")
                                            for label in options.values()):
            options[ModelRef.untrained(arch.name)] = (f"{arch.name} (untrained: random "
                                                      f"weights)")
    up = st.session_state.get(state.UPLOAD)
    if up:
        options[ModelRef.upload(up["digest"])] = f"uploaded: {urlstate.cut(up['name'])}"
    return options


def _check_upload(up: dict) -> str | None:
    """None when the uploaded checkpoint loads; otherwise what to tell the user. Any error,
    expected (a CheckpointError names the problem) or not, is caught here."""
    try:
        cache.upload_model(up["digest"], up["data"], up["name"])
    except ValueError as exc:  # CheckpointError is a ValueError
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a file from a user must never break the session
        print(traceback.format_exc())
        return (f"{urlstate.cut(up['name'])}: it could not be loaded ({type(exc).__name__}: "
                f"{str(exc)[:200]}). It was dropped; the other models keep working.")
    return None


def sidebar_model():
    """The model picker. Returns (model key, a sidebar slot for its description)."""
    st.sidebar.header("Model")
    options = model_options()
    up = st.session_state.get(state.UPLOAD)
    if up and st.session_state.get("model.last_upload") != up["digest"]:
        # A new upload: validate it and select it, or explain why it does not fit.
        st.session_state["model.last_upload"] = up["digest"]
        error = _check_upload(up)
        if error is None:
            state.select_model(ModelRef.upload(up["digest"]))
            st.session_state.pop("model.error", None)
        else:  # drop the upload: the session keeps working with the other models
            st.session_state["model.error"] = error
            st.session_state.pop(state.UPLOAD, None)
            options.pop(ModelRef.upload(up["digest"]), None)
    try:  # (a forged value may not even be hashable)
        known = state.chosen_model() in options
    except TypeError:
        known = False
    if not known:
        state.select_model(next(iter(options)))
    key = st.sidebar.selectbox("Network", list(options), format_func=options.get,
                               key=state.MODEL)
    if st.session_state.get("model.error"):
        # The message names the file and quotes its card: text from a user, never markdown.
        st.sidebar.error("That checkpoint cannot be used. "
                         + urlstate.plain(st.session_state["model.error"]))
    try:
        arch, params, card = cache.model_facts(key)
    except Exception as exc:  # noqa: BLE001 - a broken file must not take the app down
        st.sidebar.error(f"The model could not be loaded ({urlstate.plain(exc)}). Showing an "
                         f"untrained {DEFAULT} network instead.")
        key = ModelRef.untrained(DEFAULT)
        arch, params, card = cache.model_facts(key)
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
            "A .safetensors checkpoint, an .onnx network (with its .onnx.data), a .keras or .h5 "
            "Keras model, or a PyTorch state dict (.pt, .pth)", type=None,
            key="model.uploader", on_change=_on_model_upload, accept_multiple_files=True,
            help="A .safetensors checkpoint made here (python -m model.train); an .onnx file "
                 "from torch.onnx.export (the default exporter writes NAME.onnx and "
                 "NAME.onnx.data: upload both together) or from Keras's model.export(path, "
                 "format='onnx'); a .keras file from Keras 3's model.save, or an .h5 file from "
                 "model.save('net.h5') (Keras 3 or 2); a .pt/.pth from "
                 "torch.save(model.state_dict(), path), read as data and matched to a zoo "
                 "network by its tensors. It must read one 28x28 grayscale digit and give 10 "
                 "classes. Whole pickled models, Lambda layers and custom Keras classes are "
                 "refused for safety.")
        _save_lines()
        _import_scale_picker()
        _architecture_picker()
    return key, arch, slot


def _on_architecture() -> None:
    choice = st.session_state.get("model.import_arch")
    pick = st.session_state.get("model.arch_pick") or \
        (st.session_state.get(state.UPLOAD) or {}).get("imported")
    if pick and isinstance(choice, str) and choice != pick.get("architecture"):
        _import(pick["files"], pick["main"], "auto", choice)


def _architecture_picker() -> None:
    """A state dict's network: the zoo architectures to pick from when its tensors fit none
    (or not the one picked), or the ones that fit when several did."""
    pending = st.session_state.get("model.arch_pick")
    imp = (st.session_state.get(state.UPLOAD) or {}).get("imported") or {}
    if pending:
        names = list(ARCHITECTURES)
        near = pending.get("nearest")
        st.session_state["model.import_arch"] = near if near in names else names[0]
        st.selectbox("Architecture of the uploaded state dict", names, key="model.import_arch",
                     on_change=_on_architecture,
                     help="A state dict holds weights, not the network: pick the network it "
                          "was trained as (its tensors must fit it).")
    elif len(imp.get("tried") or []) > 1:
        st.session_state["model.import_arch"] = imp["architecture"]
        st.selectbox("Architecture of the uploaded state dict", imp["tried"],
                     key="model.import_arch", on_change=_on_architecture,
                     help="These networks all fit its tensors' shapes (their activations or "
                          "poolings differ); the likeliest on the shipped samples was chosen.")


def _save_lines() -> None:
    """Under the upload box, per framework, the one line that saves a file this app reads
    (:data:`model.files.formats.SAVE_LINES`)."""
    rows = []
    for framework, lines in formats.by_framework(formats.SAVE_LINES).items():
        codes = [f"`{ln.code}`" + (f" (or {', '.join(ln.writes[1:])})" if ln.writes[1:] else "")
                 for ln in lines]
        rows.append(f"**{framework}:** " + " or ".join(codes))
    st.caption("Save yours with one line:  \n" + "  \n".join(rows))


def _on_image_upload() -> None:
    up = st.session_state.get("in.uploader")
    if up is not None:
        st.session_state["in.upload"] = {"name": up.name, "data": up.getvalue()}


def sidebar_input(key: ModelRef) -> tuple[np.ndarray | None, int | None, str]:
    """(uint8 28x28 image or None, true label or None, description)."""
    st.sidebar.header("Input")
    state.set_input_ref(None)  # ("sample", i) or ("test", i): what a link can name
    checked.check(state.SOURCE, checked.one_of(SOURCES), "The Digit from choice", st.sidebar)
    source = st.sidebar.radio("Digit from", SOURCES, horizontal=True, key=state.SOURCE)
    if source == state.SAMPLES:
        images, labels = cache.samples()
        checked.check(state.DIGIT, checked.one_of(DIGITS), "The Digit filter", st.sidebar)
        digit = st.sidebar.selectbox("Digit", DIGITS, key=state.DIGIT)
        idx = np.arange(len(labels)) if digit == "any" else np.flatnonzero(labels == digit)
        checked.check(state.sample_key(digit), checked.whole(1, len(idx)), "The Sample slider",
                      st.sidebar)
        # No default value: a link may have set the slider's state (value None = its minimum).
        i = st.sidebar.slider("Sample", 1, len(idx), key=state.sample_key(digit)) - 1
        j = int(idx[i])
        state.set_input_ref(("sample", j))
        return images[j], int(labels[j]), f"sample {j + 1} of {len(labels)} (label {labels[j]})"
    if source == state.TEST_SET:
        from model.data import mnist_available
        if not mnist_available():
            st.sidebar.info("The MNIST test set is not on this machine (set MNIST_DIR to its "
                            "folder). Showing the shipped samples instead.")
            images, labels = cache.samples()
            return images[0], int(labels[0]), f"sample 1 of {len(labels)} (label {labels[0]})"
        images, labels = cache.test_set()
        checked.check(state.TEST_DIGIT, checked.one_of(DIGITS), "The Digit filter", st.sidebar)
        digit = st.sidebar.selectbox("Digit", DIGITS, key=state.TEST_DIGIT)
        checked.check(state.WRONG, checked.SWITCH, "The Misclassified only box", st.sidebar)
        wrong = st.sidebar.checkbox("Misclassified only", key=state.WRONG)
        mask = np.ones(len(labels), bool) if digit == "any" else labels == digit
        if wrong:
            mask &= cache.test_predictions(key) != labels
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            st.sidebar.info("No test digit matches: this model gets all of them right.")
            return None, None, ""
        checked.check(state.test_key(digit, wrong), checked.whole(1, len(idx)),
                      "The Test digit slider", st.sidebar)
        i = st.sidebar.slider(f"Test digit ({len(idx):,} match)", 1, len(idx),
                              key=state.test_key(digit, wrong)) - 1
        j = int(idx[i])
        state.set_input_ref(("test", j))
        return images[j], int(labels[j]), f"test digit #{j} (label {labels[j]})"
    if source == state.DRAW:
        rgba = state.drawing()
        if rgba is None:
            st.sidebar.info("Draw a digit on the pad of the Explore page (mouse, pen or "
                            "finger): the prediction and the feature maps follow the pen; when "
                            "you lift it, your digit is the input of every view.")
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
    name = urlstate.shown(up["name"])  # a file name is the user's text: shown as code
    try:
        img = preprocess.image_bytes_to_mnist(up["data"], name)
    except ValueError as exc:
        st.sidebar.error(f"{exc}")
        return None, None, ""
    preview(img)
    return img, None, f"upload {name}"


def preview(img: np.ndarray) -> None:
    st.sidebar.image(preprocess.to_png(img, 112), width=112, output_format="PNG",
                     alt="The uploaded digit as the network sees it (28x28)",
                     caption="What the network sees: 28x28, MNIST-style (cropped, fitted into "
                             "20x20, centred by mass)")




# ---------------------------------------------------------------------------------------------
# What the sidebar chose, for the page that runs after it
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """The sidebar's choice: model, architecture, input image (or None), label, description."""

    key: ModelRef
    arch: str
    image: np.ndarray | None
    label: int | None
    desc: str


# Plain selection widgets in the sidebar; their values survive a visit to a page that hides them.
KEEP_PREFIXES = (state.MODEL, state.SOURCE, state.DIGIT, state.SAMPLE_KEYS, state.TEST_DIGIT,
                 state.WRONG, state.TEST_KEYS)


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
