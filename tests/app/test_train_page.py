"""The train page under AppTest: a real (short) background run, its progress, and scrubbing."""

from __future__ import annotations

import pytest

from model.store import ModelRef
from tests.app.test_app import fresh, ok, texts
from ui import common


def _train_page(monkeypatch, runs):
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(runs))
    at = fresh()
    at.switch_page("ui/pages/train.py").run()
    ok(at)
    return at


def test_empty_server_explains_what_to_do(tmp_path, monkeypatch) -> None:
    at = _train_page(monkeypatch, tmp_path / "runs")
    assert "No training is running on this server" in texts(at)
    assert "train one above and scrub through it" in texts(at)


def placeholder_mnist(folder, monkeypatch) -> None:
    """MNIST_DIR at ``folder`` holding four empty files named as MNIST's: enough for the pages to
    offer training (they check the files are there, not what is in them)."""
    from model.data import RAW_MD5
    folder.mkdir(parents=True, exist_ok=True)
    for name in RAW_MD5:
        (folder / f"{name}.gz").write_bytes(b"")
    monkeypatch.setenv("MNIST_DIR", str(folder))


def test_training_without_mnist_says_so_up_front(tmp_path, monkeypatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MNIST_DIR", str(empty))
    at = _train_page(monkeypatch, tmp_path / "runs")
    start = at.button(key="train.start")
    assert start.disabled  # before any click
    warning = " ".join(w.value for w in at.warning)
    assert "Training needs the MNIST digits, which are not on this server yet" in warning
    assert f"Run `.venv/bin/python -m model.data {empty}` once" in warning
    assert f"downloads the four files into `{empty}`" in warning
    assert "Estimated time" not in texts(at) and "would take" not in texts(at)
    assert common.job_manager().current is None
    # the files arrive (as the command puts them): the button and the estimate come back
    placeholder_mnist(empty, monkeypatch)
    at.run()
    ok(at)
    assert not at.button(key="train.start").disabled
    assert "Estimated time: **about" in texts(at) and "MNIST digits" not in texts(at)


def test_a_run_of_another_process_on_the_same_runs_folder_is_shown(tmp_path, monkeypatch
                                                                   ) -> None:
    from model.training.jobs import RunsLock
    other = RunsLock(tmp_path / "runs")  # as another app process would hold it
    other.acquire({"owner": "ab12cd", "arch": "compact", "job": "x"})
    try:
        at = _train_page(monkeypatch, tmp_path / "runs")
        assert "A training job is already running on this server (compact, started by session " \
               "ab12cd" in texts(at)
        assert at.button(key="train.start").disabled
    finally:
        other.release()


@pytest.mark.slow
@pytest.mark.mnist
def test_quick_run_shows_progress_saves_and_scrubs(mnist_dir, tmp_path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    at = _train_page(monkeypatch, runs)
    at.selectbox(key="train.arch").set_value("compact")
    at.number_input(key="train.max_steps").set_value(150)
    at.button(key="train.start").click().run()
    ok(at)
    manager = common.job_manager()
    job = manager.current
    assert job is not None and job.owner == at.session_state["train.session"]

    # A second session sees who is training, cannot start another run here, and is told why
    # when it tries from the lab.
    other = _train_page(monkeypatch, runs)
    assert job.running, "the run ended before a second session could look"
    assert f"by session {job.owner}" in texts(other)
    assert other.button(key="train.start").disabled
    other.switch_page("ui/pages/lab.py").run()
    other.button(key="lab.train").click().run()
    ok(other)
    assert f"started by session {job.owner}" in texts(other)
    assert "Wait for it to finish" in texts(other)

    manager.wait(180)
    assert job.status == "done", job.error
    assert [p.name for p in job.snapshots] == ["epoch-00.safetensors", "epoch-01.safetensors"]
    at.run()
    ok(at)
    shown = texts(at)
    assert "Finished after 150 steps" in shown and "test accuracy" in shown
    assert f"runs/{job.id}/final.safetensors" in shown
    assert job.epochs[0]["val_accuracy"] > 0.5  # 150 steps take compact far above chance (0.1)

    # Scrub: the run is listed, start and epoch 1 can be compared on the same input.
    assert at.selectbox(key="train.run").value == job.id
    slider = at.select_slider(key=f"train.epoch.{job.id}")
    assert slider.options == ["start (random weights)",
                              f"epoch 1, val {job.epochs[0]['val_accuracy']:.1%}"]
    slider.set_value("start (random weights)").run()
    ok(at)
    assert "At **start (random weights)** the network says" in texts(at)
    assert not at.error

    assert [b.proto.label for b in at.get("download_button")] == ["Download the checkpoint"]

    # The finished model opens in the explorer, and the sidebar lists it.
    at.button(key="train.open_btn").click().run()
    ok(at)
    assert at.session_state["model.choice"] == ModelRef.checkpoint(job.final)
    assert "Inside a convolutional network" in [t.value for t in at.title]


# ---------------------------------------------------------------------------------------------
# The runs folder: interrupted runs, deleting a run, a folder that cannot be written
# ---------------------------------------------------------------------------------------------

def _saved_run(folder, epochs: int, final: bool) -> None:
    import torch

    from model.files.checkpoint import save_checkpoint
    from model.zoo import build
    torch.manual_seed(0)
    model = build("compact")
    for e in range(epochs + 1):
        save_checkpoint(model, {"epochs": e, "arch": "compact"},
                        folder / f"epoch-{e:02d}.safetensors")
    if final:
        save_checkpoint(model, {"epochs": epochs, "arch": "compact"},
                        folder / "final.safetensors")


def _short(run_id: str) -> str:
    """The run picker's label of a compact run named ``run_id`` (20261124-110000-...)."""
    return f"compact, 24 Nov {run_id[9:11]}:{run_id[11:13]}"


def _delete_keys(at) -> list[str]:
    return [b.key for b in at.button if (b.key or "").startswith("train.delete.")]


def test_an_interrupted_run_says_so_and_can_be_deleted(tmp_path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    cut, done = "20261124-110000-bbbbbb", "20261124-100000-aaaaaa"
    _saved_run(runs / cut, 1, final=False)  # its server crashed after epoch 1
    _saved_run(runs / done, 1, final=True)
    at = _train_page(monkeypatch, runs)
    assert at.selectbox(key="train.run").options == [  # the labels, newest first
        _short(cut), _short(done)]
    assert f"{cut}: compact, 1 epoch(s), interrupted after epoch 1" in texts(at)  # its caption
    assert at.selectbox(key="train.run").value == cut
    assert _delete_keys(at) == [f"train.delete.{cut}"]
    assert f"Delete run **{cut}** (compact, interrupted after epoch 1) and its 2 saved" \
           in texts(at)
    at.button(key=f"train.delete.{cut}").click().run()
    ok(at)
    assert f"Run {cut} was deleted." in texts(at)
    assert not (runs / cut).exists()
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == [done]
    assert at.selectbox(key="train.run").options == [_short(done)]
    assert f"{done}: compact, 1 epoch(s), finished" in texts(at)
    assert _delete_keys(at) == [f"train.delete.{done}"]  # a finished run can go too


def test_the_run_another_process_trains_is_in_progress_and_cannot_be_deleted(tmp_path,
                                                                             monkeypatch) -> None:
    from model.training.jobs import RunsLock
    runs = tmp_path / "runs"
    live = "20261124-110000-cccccc"
    _saved_run(runs / live, 1, final=False)
    other = RunsLock(runs)  # another app process trains it
    other.acquire({"owner": "ab12cd", "arch": "compact", "job": live})
    try:
        at = _train_page(monkeypatch, runs)
        assert at.selectbox(key="train.run").options == [_short(live)]
        assert f"{live}: compact, 1 epoch(s), in progress" in texts(at)
        assert _delete_keys(at) == []
    finally:
        other.release()
    at.run()  # its process died: the run is interrupted now
    ok(at)
    assert at.selectbox(key="train.run").options == [_short(live)]
    assert f"{live}: compact, 1 epoch(s), interrupted after epoch 1" in texts(at)
    assert _delete_keys(at) == [f"train.delete.{live}"]


def test_a_runs_folder_that_cannot_be_made_names_it_and_the_fix(tmp_path, monkeypatch) -> None:
    (tmp_path / "afile").write_text("not a folder")
    runs = tmp_path / "afile" / "runs"
    at = _train_page(monkeypatch, runs)
    problem = (f"The runs folder {runs} cannot be made: {tmp_path / 'afile'} is a file, not a "
               f"folder. Set CNN_LENS_RUNS_DIR to a writable folder.")
    assert [e.value for e in at.error] == [f"Starting a run: {problem}"]
    assert "failed unexpectedly" not in texts(at)
    assert "train one above and scrub through it" in texts(at)  # no runs: the page goes on


def test_a_read_only_runs_folder_names_it_and_the_fix(tmp_path, monkeypatch) -> None:
    import errno

    from model.training.jobs import RunsLock
    runs = tmp_path / "runs"
    runs.mkdir()

    def read_only(self, info):  # as on a read-only file system (root ignores chmod)
        raise OSError(errno.EROFS, "Read-only file system", str(self.path))

    monkeypatch.setattr(RunsLock, "acquire", read_only)
    monkeypatch.setattr("model.data.mnist_available", lambda *a, **k: True)
    at = _train_page(monkeypatch, runs)
    at.selectbox(key="train.arch").set_value("compact")
    at.number_input(key="train.max_steps").set_value(20)
    at.button(key="train.start").click().run()
    ok(at)
    assert [e.value for e in at.error] == [
        f"Starting a run: The runs folder {runs} is read-only (a read-only file system): set "
        f"CNN_LENS_RUNS_DIR to a writable folder, or make it writable."]
    assert "failed unexpectedly" not in texts(at)


def test_the_app_deletes_what_a_crash_left_when_it_starts(tmp_path, monkeypatch) -> None:
    import threading
    runs = tmp_path / "runs"
    cut = runs / "20261124-110000-bbbbbb"
    _saved_run(cut, 1, final=False)
    left = cut / ".epoch-02.safetensors.k3x9_q2a.part"  # a crash mid-snapshot
    left.write_bytes(b"half a checkpoint")
    mine = cut / "notes.part"  # not a name the atomic writer makes: never touched
    mine.write_text("kept")
    at = _train_page(monkeypatch, runs)
    for thread in threading.enumerate():  # the clean-up runs in the background
        if thread.name == "clean-runs":
            thread.join(60)
    assert not left.exists() and mine.exists()
    assert (cut / "epoch-01.safetensors").exists()
    assert at.selectbox(key="train.run").options == [_short(cut.name)]
    assert f"{cut.name}: compact, 1 epoch(s), interrupted after epoch 1" in texts(at)


def test_deleting_the_last_finished_run_of_this_server_leaves_the_panel_working(
        tmp_path, monkeypatch) -> None:
    import time

    from model.train import TrainConfig
    from model.training.jobs import Job
    runs = tmp_path / "runs"
    done = runs / "20261124-100000-aaaaaa"
    _saved_run(done, 1, final=True)
    at = _train_page(monkeypatch, runs)
    manager = common.job_manager()  # as if this server had just trained it
    manager._current = Job(id=done.name, owner="ab12cd", config=TrainConfig(arch="compact"),
                           folder=done, status="done", final=done / "final.safetensors",
                           finished=time.time())
    at.run()
    ok(at)
    assert [b.proto.label for b in at.get("download_button")] == ["Download the checkpoint"]
    at.button(key=f"train.delete.{done.name}").click().run()
    ok(at)
    assert not at.error and not done.exists()
    assert f"The last run ({done.name}) was deleted since it ended." in texts(at)
    assert len(at.get("download_button")) == 0
