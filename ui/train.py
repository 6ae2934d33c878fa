"""The train page: train a network live, watch it learn, scrub through its epochs.

Training runs in a background thread owned by one :class:`model.training.jobs.JobManager` per server
(``st.cache_resource``): one job at a time, the random start and every epoch saved at once under
``runs/<id>/`` (never in ``checkpoints/``), so closing the tab loses nothing. The page polls the
job once a second in a fragment, so only the progress panel reruns. Session-state keys:
``train.*``.
"""

from __future__ import annotations

import math
import os
import shlex
import time

import numpy as np
import streamlit as st

from model import store
from model.architectures import ARCHITECTURES, TRAIN_DEFAULT
from model.data import TRAIN_SIZE
from model.store import ModelRef
from ui import cache, checked, common, state
from ui.cache import forward, unit_maps
from ui.common import context, guard, plot
from viz.pictures import figures, raster
from viz.teaching import training

SCRUB_HEIGHT = 280  # px, every figure of "Watch it learn"


def mnist_missing() -> str | None:
    """None when the four MNIST files are where training reads them; else the message that says
    so up front, with the one command that fetches them (Train page and the lab)."""
    from model.data import mnist_available, resolve_data_dir
    if mnist_available():
        return None
    folder = resolve_data_dir()
    try:
        shown = folder.resolve().relative_to(store.PROJECT_ROOT)
    except ValueError:  # outside the project (MNIST_DIR)
        shown = folder
    command = ".venv/bin/python -m model.data" + (
        f" {shlex.quote(str(folder))}" if os.environ.get("MNIST_DIR") else "")
    return (f"Training needs the MNIST digits, which are not on this server yet (looked in "
            f"`{shown}`). Run `{command}` once in the app's folder on a machine with internet: "
            f"it downloads the four files into `{shown}` and checks them. Then reload this page. "
            f"Everything else in the app works without them.")


# ---------------------------------------------------------------------------------------------
# Start a run
# ---------------------------------------------------------------------------------------------

def train_form() -> None:
    from model.train import TrainConfig
    ctx = context()
    trainable = [a.name for a in ARCHITECTURES.values() if a.trainable]
    if st.session_state.get("train.arch") not in trainable:
        st.session_state["train.arch"] = ctx.arch if ctx.arch in trainable else TRAIN_DEFAULT
    with st.container(border=True):
        arch = st.selectbox("Architecture", trainable, key="train.arch",
                            help="The zoo's networks; edit your own in the Architecture lab and "
                                 "train it from there.")
        st.caption(ARCHITECTURES[arch].description)
        c1, c2 = st.columns(2)
        for k, kind, what in [("train.epochs", checked.whole(1, 30), "The Epochs box"),
                              ("train.max_steps", checked.whole(0, 100_000),
                               "The Stop after steps box"),
                              ("train.batch", checked.one_of([64, 128, 256]), "The Batch size"),
                              ("train.lr", checked.number(0.001, 1.0),
                               "The Peak learning rate box"),
                              ("train.augment", checked.SWITCH, "The Augment switch"),
                              ("train.seed", checked.whole(0, 10_000), "The Random seed box")]:
            checked.check(k, kind, what)
        epochs = c1.number_input("Epochs", 1, 30, 3, key="train.epochs",
                                 help="One epoch = one pass over the 55,000 training images.")
        max_steps = c2.number_input(
            "Stop after steps", 0, 100_000, 0, step=10, key="train.max_steps",
            help="0 = train every epoch. For a quick demonstration: a few dozen steps already "
                 "take a network from chance to well over 80% accuracy.")
        with st.expander("Recipe"):
            r1, r2 = st.columns(2)
            batch = r1.selectbox("Batch size", [64, 128, 256], index=1, key="train.batch")
            lr = r2.number_input("Peak learning rate", 0.001, 1.0, 0.1, format="%.3f",
                                 key="train.lr", help="SGD with Nesterov momentum 0.9 and a "
                                                      "one-cycle schedule peaking here.")
            augment = r1.toggle("Augment (rotate ±7°, shift ±2 px)", True, key="train.augment")
            seed = r2.number_input("Random seed", 0, 10_000, 0, key="train.seed")
        steps = epochs * math.ceil(TRAIN_SIZE / batch)
        if max_steps:
            steps = min(steps, int(max_steps))
        missing = mnist_missing()
        est = refusal = None
        if missing is None:  # no estimate for a run that cannot start
            est, refusal = common.training_estimate(arch, ARCHITECTURES[arch].layers(),
                                                    int(epochs), int(batch),
                                                    int(max_steps) or None)
        took = f" Estimated time: **{est.text()}**." if est else ""
        st.caption(f"{steps:,} steps of {batch} images.{took} The random start and every epoch "
                   f"are saved under runs/; the shipped checkpoints are never touched.")
        if missing:
            st.warning(missing, icon=":material/download:")
        if refusal:
            st.warning(refusal)
        job = common.job_manager().current
        elsewhere = common.job_manager().busy_elsewhere()  # another app process's run
        if elsewhere is not None:
            from model.training.jobs import RunsLock
            st.info(RunsLock.busy_message(elsewhere))
        busy = (job is not None and job.running) or elsewhere is not None
        submitted = st.button("Start training", type="primary", width="stretch",
                              key="train.start", disabled=bool(busy or refusal or missing),
                              help="Training needs the MNIST digits: see above." if missing
                              else "One run at a time on this server: wait for the current "
                                   "one to end." if busy else None)
    st.caption(f"You are session **{common.session_name()}**.")
    if submitted:
        cfg = TrainConfig(arch=arch, epochs=int(epochs), batch_size=int(batch), max_lr=float(lr),
                          rotate_deg=7.0 if augment else 0.0, shift_px=2.0 if augment else 0.0,
                          seed=int(seed), max_steps=int(max_steps) or None)
        if common.start_training(cfg):
            st.session_state["train.run"] = None  # follow the new run below
            st.rerun()


# ---------------------------------------------------------------------------------------------
# The running (or last) job
# ---------------------------------------------------------------------------------------------

def _open_in_explorer(path: str) -> None:
    state.select_model(ModelRef.checkpoint(path))
    st.session_state["train.open"] = True


def job_panel() -> None:
    job = common.job_manager().current
    if job is None:
        st.info("No training is running on this server. Choose a network on the left and "
                "press Start: loss and accuracy appear here as it learns.")
        return
    if not job.running and job.final is not None and not job.final.exists():
        st.info(f"No training is running on this server. The last run ({job.id}) was deleted "
                f"since it ended.")
        return
    running = job.running

    @st.fragment(run_every=1.0 if running else None)
    def live() -> None:
        j = common.job_manager().current
        if j is None:
            return
        mine = j.owner == common.session_name()
        since = time.strftime("%H:%M:%S", time.localtime(j.started))
        who = "you" if mine else f"session {j.owner}"
        st.markdown(f"**{j.config.arch}**, started {since} by {who}")
        per_epoch = math.ceil(TRAIN_SIZE / j.config.batch_size)
        if j.running:
            done = j.step / j.total if j.total else 0.0
            epochs = min(j.config.epochs, math.ceil(j.total / per_epoch)) if j.total else 1
            epoch = min(j.step // per_epoch + 1, epochs)
            left = training.duration(j.seconds_left())
            text = ("loading MNIST ..." if j.status == "starting" else
                    f"step {j.step:,} of {j.total:,} · epoch {epoch} of {epochs}"
                    + (f" · about {left} left" if left else ""))
            st.progress(done, text=text)
            if mine:
                if st.button("Stop training", key="train.stop",
                             help="Stops after the current step; every finished epoch is kept "
                                  "and the model so far is saved."):
                    j.stop()
                    st.toast("Stopping after this step ...")
            else:
                st.caption(f"Only session {j.owner} can stop this run.")
        elif j.status == "failed":
            st.error(f"Training failed: {j.error}")
        else:
            took = training.duration((j.finished or time.time()) - j.started)
            card = training.read_header_card(j.final) if j.final else {}
            val, test = card.get("val_accuracy"), card.get("test_accuracy")
            verb = "Stopped" if j.status == "stopped" else "Finished"
            accs = []
            if isinstance(val, (int, float)):
                accs.append(f"validation accuracy {val:.2%}")
            if isinstance(test, (int, float)):
                accs.append(f"test accuracy {test:.2%} (the 10,000 test digits, measured once, "
                            f"at the end)")
            text = f"{verb} after {j.step:,} steps in {took}" + (
                f": {', '.join(accs)}" if accs else "") + (
                f". Saved as runs/{j.id}/final.safetensors." if card else ".")
            why = getattr(j, "message", None)  # a stopped run: by its owner or the time limit
            (st.warning if getattr(j, "timed_out", False) else st.success)(
                f"{text} {why}" if why else text)
            if j.final is not None:
                b1, b2, _ = st.columns([1, 1, 1.2])
                b1.button("Open it in the explorer", key="train.open_btn", width="stretch",
                          on_click=_open_in_explorer, args=(str(j.final),))
                b2.download_button("Download the checkpoint", j.final.read_bytes(),
                                   file_name=f"{j.config.arch}-{j.id}.safetensors",
                                   mime="application/octet-stream", key="train.download",
                                   icon=":material/download:", width="stretch",
                                   help="A .safetensors file with its model card: upload it in "
                                        "the sidebar of any copy of this app.")
        if j.loss:
            plot(training.curves(j.loss, j.epochs, per_epoch), key="train.curves")
            st.caption("Loss falls as the network learns (pale: every step; dark: smoothed); "
                       "the orange points are the accuracy on 5,000 held-out training images "
                       "at the end of each epoch.")
        if running and not j.running:
            st.rerun(scope="app")  # the run ended: stop polling, list its last snapshot
        if j.running and st.session_state.get("train.seen") != (j.id, len(j.snapshots)):
            st.session_state["train.seen"] = (j.id, len(j.snapshots))
            st.rerun(scope="app")  # a new epoch was saved: offer it for scrubbing below

    live()
    if st.session_state.pop("train.open", False):
        st.switch_page(common.PAGES["explore"])


# ---------------------------------------------------------------------------------------------
# Scrub through a run's epochs
# ---------------------------------------------------------------------------------------------

def _spatial_layers(acts) -> list[str]:
    return [n for n, a in acts.items() if a.ndim == 3 and a.shape[1] > 1]


def _delete_run(run_id: str) -> None:
    """The confirmed delete button's callback: delete the run, or say why not."""
    from model.training.jobs import delete_run
    try:
        delete_run(common.job_manager(), run_id)
    except ValueError as exc:  # the running run, a name outside the runs folder, gone already
        st.session_state["train.deleted"] = ("error", str(exc))
    else:
        st.session_state["train.deleted"] = ("ok", f"Run {run_id} was deleted.")


def _delete_button(run: training.Run) -> None:
    """Delete a finished or interrupted run, after a confirmation (never the running one)."""
    if not run.deletable:
        return
    with st.popover("Delete this run", icon=":material/delete:"):
        n = len(run.snapshots) + (run.final is not None)
        st.markdown(f"Delete run **{run.id}** ({run.arch}, {run.state()}) and its {n} "
                    f"saved model(s) from this server? This cannot be undone; the shipped "
                    f"checkpoints are never touched.")
        st.button(f"Delete {run.id}", type="primary", key=f"train.delete.{run.id}",
                  on_click=_delete_run, args=(run.id,))


def scrub() -> None:
    st.subheader("Watch it learn")
    said = st.session_state.pop("train.deleted", None)
    if said is not None:
        (st.error if said[0] == "error" else st.success)(said[1])
    from model.training.jobs import running_job
    runs = training.list_runs(store.runs_dir(), running_job(common.job_manager()))
    if not runs:
        st.info("Runs trained here are kept under runs/, one snapshot per epoch; train one above "
                "and scrub through it here, for the input chosen in the sidebar.")
        return
    ids = [r.id for r in runs]
    job = common.job_manager().current
    if st.session_state.get("train.run") not in ids:
        st.session_state["train.run"] = job.id if job is not None and job.id in ids else ids[0]
    by_id = {r.id: r for r in runs}
    c1, c2, c3 = st.columns([2.2, 1.5, 1])  # the run's label ("compact, 24 Nov 15:30 ...") whole
    run = by_id[c1.selectbox("Run", ids, key="train.run",
                             format_func=lambda i: by_id[i].short_label())]
    with c1:
        st.caption(run.label())
        _delete_button(run)
    snaps = run.snapshots
    if len(snaps) == 1:
        snap = snaps[0]
        c2.caption(f"Only {snap.label()} is saved so far.")
    else:
        labels = [s.label() for s in snaps]
        checked.check(f"train.epoch.{run.id}", checked.one_of(labels), "The Epoch slider")
        chosen = c2.select_slider("Epoch", labels, value=labels[-1], key=f"train.epoch.{run.id}")
        snap = snaps[labels.index(chosen)]
    ctx = context()
    if ctx.image is None:
        st.info("Choose an input in the sidebar to see what this snapshot makes of it.")
        return
    key = ModelRef.checkpoint(snap.path)
    acts, probs = forward(key, ctx.image)
    layers = _spatial_layers(acts)
    pred = int(np.argmax(probs))
    if layers:
        default = next((n for n in ("relu3", "relu2", "relu1") if n in layers), layers[0])
        if st.session_state.get("train.layer") not in layers:
            st.session_state["train.layer"] = default
        layer = c3.selectbox("Layer", layers, key="train.layer",
                             format_func=lambda n: f"{n}  ·  {'x'.join(map(str, acts[n].shape))}")
    st.markdown(f"At **{snap.label()}** the network says **{pred}** ({probs[pred]:.0%} sure)"
                + (f"; the digit is a {ctx.label}." if ctx.label is not None else "."))
    if not layers:
        return
    cols = st.columns(4, gap="medium")
    parts = [("Feature maps", lambda: _maps(acts, layer)),
             ("First-layer kernels", lambda: _filters(key, acts)),
             ("Effective receptive field", lambda: _erf(key, ctx.image, acts, layer)),
             ("Saliency", lambda: _saliency(key, ctx.image, pred))]
    for col, (title, draw) in zip(cols, parts, strict=True):
        with col:
            st.markdown(f"**{title}**")
            guard(title, draw)


def _maps(acts, layer: str) -> None:
    a = acts[layer][:8]
    plot(figures.feature_grid(a, first_channel=0, per_map=True, colorscale="cividis",
                              cols=4, height=SCRUB_HEIGHT), key="train.maps")
    st.caption(f"Feature maps 0-{len(a) - 1} of {layer} for this input.")


def _filters(key: str, acts) -> None:
    first = next((n for n in acts if n.startswith("conv")), None)
    w = cache.conv_weight(key, first) if first else None
    if w is None:
        st.caption("This network has no convolution to show.")
        return
    fig, shown, _ = figures.filter_grid(w, max_in=1, cols=4, height=SCRUB_HEIGHT)
    plot(fig, key="train.filters")
    st.caption(f"The first {shown} {w.shape[2]}x{w.shape[3]} kernels of {first}: from "
               f"random noise towards stroke and edge detectors.")


def _erf(key: str, image, acts, layer: str) -> None:
    from viz.teaching import fields
    a = acts[layer]
    c = int(np.argmax(a.reshape(a.shape[0], -1).max(axis=1)))
    y, x = a.shape[1] // 2, a.shape[2] // 2
    row = fields.row_for(cache.field_table(key), layer)
    region = fields.unit_region(row, y, x)
    erf, _ = unit_maps(key, image, layer, (c, y, x))
    st.image(raster.field_picture(image, region, overlay=erf), width="stretch",
             output_format="PNG", alt=f"Effective field of the centre unit of {layer}")
    if erf is None or not np.any(np.abs(erf) > 0):  # an inactive unit: no pixel moves it
        st.caption(f"The centre unit ({c}, {y}, {x}) of {layer} is inactive on this digit (its "
                   f"output is {float(a[c, y, x]):.2g}), so no pixel changes it and there is no "
                   f"effective field to show, only its {row.r}x{row.r} theoretical field (box). "
                   f"Try another digit, a later snapshot or another layer.")
        return
    st.caption(f"Where the centre unit ({c}, {y}, {x}) of {layer} looks: its {row.r}x{row.r} "
               f"theoretical field (box) and its sensitivity |d unit / d pixel| (yellow).")


def _saliency(key: str, image, target: int) -> None:
    attr = cache.attribution(key, image, "saliency", target, "", 1, 1)
    plot(figures.digit(image, SCRUB_HEIGHT, overlay=attr, opacity=0.65, overlay_name="Saliency"),
         key="train.saliency")
    st.caption(f"Saliency for class {target}: which pixels the score depends on at this epoch.")


def page() -> None:
    st.title("Train a network")
    left, right = st.columns([1, 1.7], gap="large")
    with left:
        guard("Starting a run", train_form)
    with right:
        guard("The training panel", job_panel)
    st.divider()
    guard("Scrubbing through the run", scrub)

