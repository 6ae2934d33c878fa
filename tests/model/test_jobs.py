"""Background training jobs: one at a time, snapshots per epoch, stop, failure reporting."""

import threading

import pytest

from model.checkpoint import CHECKPOINT_DIR, load_checkpoint
from model.jobs import JobBusy, JobManager
from tests.model.test_train import small_cfg, tiny_data


def test_job_runs_saves_every_epoch_and_final(tmp_path):
    manager = JobManager(tmp_path)
    job = manager.start(small_cfg(epochs=2), tiny_data(), owner="alice")
    manager.wait(60)
    assert job.status == "done", job.error
    assert [p.name for p in job.snapshots] == ["epoch-00.safetensors", "epoch-01.safetensors",
                                               "epoch-02.safetensors"]
    model, card = load_checkpoint(job.final)
    assert card["epochs"] == 2 and card["test_n"] == 100
    _, start = load_checkpoint(job.snapshots[0])
    assert start["epochs"] == 0 and "val_accuracy" not in start
    _, snap = load_checkpoint(job.snapshots[1])
    assert snap["epochs"] == 1 and 0 <= snap["val_accuracy"] <= 1
    assert job.step == job.total and len(job.loss) == job.total


def test_second_job_is_refused_with_owner(tmp_path):
    manager = JobManager(tmp_path)
    gate = threading.Event()

    def slow_data():
        gate.wait(10)
        return tiny_data()

    manager.start(small_cfg(epochs=1), slow_data, owner="alice")
    with pytest.raises(JobBusy, match="started by session alice"):
        manager.start(small_cfg(), tiny_data(), owner="bob")
    gate.set()
    manager.wait(60)
    job = manager.start(small_cfg(max_steps=2), tiny_data(), owner="bob")  # free again
    manager.wait(60)
    assert job.status == "done" and job.owner == "bob"


def test_stop_keeps_what_was_saved(tmp_path):
    manager = JobManager(tmp_path)
    job = manager.start(small_cfg(epochs=50), tiny_data(), owner="a")
    while len(job.snapshots) < 2 and job.status != "failed":
        threading.Event().wait(0.05)
    job.stop()
    manager.wait(60)
    assert job.status == "stopped" and job.final is not None
    assert 2 <= len(job.snapshots) < 51
    assert all(p.exists() for p in job.snapshots)


def test_failure_is_reported_not_raised(tmp_path):
    manager = JobManager(tmp_path)
    job = manager.start(small_cfg(arch="nope"), tiny_data(), owner="a")
    manager.wait(60)
    assert job.status == "failed" and "unknown architecture" in job.error


def test_never_writes_shipped_checkpoints():
    with pytest.raises(ValueError, match="checkpoints/"):
        JobManager(CHECKPOINT_DIR)
