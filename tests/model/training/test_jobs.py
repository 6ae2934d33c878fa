"""Background training jobs: one at a time, snapshots per epoch, stop, failure reporting."""

import threading

import pytest

from model.files.checkpoint import CHECKPOINT_DIR, load_checkpoint
from model.training.jobs import JobBusy, JobManager
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
    assert job.status == "stopped" and job.final is not None and not job.timed_out
    assert 2 <= len(job.snapshots) < 51
    assert all(p.exists() for p in job.snapshots)
    assert job.message.startswith("Stopped by its owner")
    _, card = load_checkpoint(job.final)  # a stopped run is not tested
    assert card["test_accuracy"] is None and card["stopped"] and "stopped_by" not in card


def test_failure_is_reported_not_raised(tmp_path):
    manager = JobManager(tmp_path)
    job = manager.start(small_cfg(arch="nope"), tiny_data(), owner="a")
    manager.wait(60)
    assert job.status == "failed" and "unknown architecture" in job.error


def test_never_writes_shipped_checkpoints():
    with pytest.raises(ValueError, match="checkpoints/"):
        JobManager(CHECKPOINT_DIR)


_HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from model.training.jobs import JobManager
from pathlib import Path
from tests.model.test_train import small_cfg

def never_ready():
    time.sleep(120)  # holds the lock while "loading data", until killed

JobManager(Path({runs!r})).start(small_cfg(epochs=1), never_ready, owner="other")
print("training", flush=True)
time.sleep(120)
"""


def test_one_job_per_runs_folder_across_processes_and_a_killed_holder_frees_it(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[3])
    runs = tmp_path / "runs"
    child = subprocess.Popen([sys.executable, "-c", _HOLDER.format(root=root, runs=str(runs))],
                             stdout=subprocess.PIPE, text=True, cwd=root)
    try:
        assert child.stdout.readline().strip() == "training"
        manager = JobManager(runs)  # another process, the same runs folder
        holder = manager.busy_elsewhere()
        assert holder["pid"] == child.pid and holder["owner"] == "other"
        with pytest.raises(JobBusy, match=rf"compact, started by session other at .*, in app "
                                          rf"process {child.pid} on "):
            manager.start(small_cfg(max_steps=2), tiny_data(), owner="me")
        os.kill(child.pid, signal.SIGKILL)  # the holder dies without cleaning up
        child.wait(10)
        assert manager.busy_elsewhere() is None
        job = manager.start(small_cfg(max_steps=2), tiny_data(), owner="me")
        assert manager.busy_elsewhere() is None  # our own job is not "elsewhere"
        assert manager.runs_lock.holder()["owner"] == "me"
        manager.wait(60)
        assert job.status == "done" and manager.runs_lock.holder() is None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_over_budget_runs_are_refused_before_they_start(tmp_path, monkeypatch):
    from model.training import budget
    from model.training.jobs import RunsLock

    monkeypatch.setenv(budget.MAX_MINUTES_ENV, "0.001")
    manager = JobManager(tmp_path)
    with pytest.raises(budget.OverBudget, match=r"Training compact .* would take about .* here; "
                                                r"this server allows runs of up to 0.001 minutes"):
        manager.start(small_cfg(epochs=50), tiny_data(), owner="a")
    assert manager.current is None and RunsLock(tmp_path).holder() is None


def test_a_run_past_the_time_limit_stops_itself_and_says_so(tmp_path, monkeypatch):
    from model.training import budget

    monkeypatch.setattr(budget, "deadline_seconds", lambda: 0.5)
    # 500 epochs are estimated near the 15-minute default on this machine: a busy moment when the
    # estimate is measured must not refuse the run (the deadline, not the estimate, is tested)
    monkeypatch.setenv(budget.MAX_MINUTES_ENV, "600")
    manager = JobManager(tmp_path)
    job = manager.start(small_cfg(epochs=500), tiny_data(), owner="a")
    manager.wait(120)
    assert job.status == "stopped" and job.timed_out and job.final is not None
    assert job.finished - job.started < 30  # not 500 epochs
    assert "time limit" in job.message and "stopped itself" in job.message
    _, card = load_checkpoint(job.final)
    assert card["stopped"] and card["stopped_by"] == "time limit"
    assert card["test_accuracy"] is None
    assert all(p.exists() for p in job.snapshots)

