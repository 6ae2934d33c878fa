"""The runs folder's upkeep: temp files a crash left, which run trains, deleting a run, and what
a folder that cannot be written says (model/files/atomic.py, model/store.py, model/training/jobs.py)."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from model import store
from model.files.atomic import NotWritable, atomic_path, atomic_write, sweep_partials
from model.files.checkpoint import save_checkpoint
from model.store import CHECKPOINT_DIR, PART_NAME, RunInUse
from model.training.jobs import JobManager, RunsLock, clean_runs_folder, delete_run, running_job
from model.zoo import build
from tests.model.test_train import small_cfg, tiny_data

ROOT = Path(__file__).resolve().parents[3]
OLD = 2 * 3600  # seconds: older than model.training.jobs.PARTIAL_AGE_S


def _run(folder: Path, epochs: int, final: bool) -> Path:
    torch.manual_seed(0)
    model = build("compact")
    for e in range(epochs + 1):
        save_checkpoint(model, {"epochs": e}, folder / f"epoch-{e:02d}.safetensors")
    if final:
        save_checkpoint(model, {"epochs": epochs}, folder / "final.safetensors")
    return folder


def _part(folder: Path, target: str, age: float = 0.0, code: str = "abcd_123") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f".{target}.{code}.part"
    p.write_bytes(b"half a file")
    if age:
        t = time.time() - age
        os.utime(p, (t, t))
    return p


def _crash_mid_write(target: Path) -> Path:
    """A process killed (SIGKILL) while it writes ``target`` atomically: its temp file stays."""
    code = ("import os, sys; from model.files.atomic import atomic_path\n"
            f"with atomic_path({str(target)!r}) as tmp:\n"
            "    tmp.write_bytes(b'half'); print(tmp, flush=True); os.kill(os.getpid(), 9)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == -9, out.stderr
    left = Path(out.stdout.strip())
    assert left.exists() and left.parent == target.parent
    return left


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ temp files of a crash

def test_the_atomic_writer_names_its_temp_files_as_the_sweep_matches(tmp_path) -> None:
    with atomic_path(tmp_path / "epoch-01.safetensors") as tmp:
        assert PART_NAME.match(tmp.name) and tmp.name.startswith(".epoch-01.safetensors.")
        assert tmp.exists()
    assert not tmp.exists() and (tmp_path / "epoch-01.safetensors").exists()
    for other in ("epoch-01.safetensors", "x.part", ".x.part", ".x.abc.part", ".x.ABCDEFGH.part",
                  ".x.abcdefgh.part.bak", "notes.abcdefgh.part"):
        assert not PART_NAME.match(other), other


def test_sweep_deletes_only_old_temp_files_and_never_follows_links(tmp_path) -> None:
    old = _part(tmp_path / "a", "epoch-01.safetensors", age=OLD)
    young = _part(tmp_path / "a", "epoch-02.safetensors")
    kept = _part(tmp_path / "b", "final.safetensors", age=OLD)
    mine = tmp_path / "a" / "notes.part"
    mine.write_text("not ours")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-outside"
    outside = _part(elsewhere, "x.npz", age=OLD)
    (tmp_path / "link").symlink_to(elsewhere, target_is_directory=True)
    removed = sweep_partials(tmp_path, 3600, keep=lambda p: p.parent.name == "b")
    assert removed == [old]
    assert young.exists() and kept.exists() and mine.exists() and outside.exists()
    assert set(sweep_partials(tmp_path, 0.0)) == {young, kept}
    assert not young.exists() and not kept.exists() and outside.exists()
    assert sweep_partials(tmp_path / "missing", 0.0) == []


def test_a_crash_mid_snapshot_is_cleaned_at_start_when_no_job_runs(tmp_path) -> None:
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    run = _run(runs / "20261124-100000-aaaaaa", 0, final=False)
    left = _crash_mid_write(run / "epoch-01.safetensors")
    throughput = _part(runs, ".throughput.json")  # written without the lock: by age only
    stale = _part(runs, ".throughput.json", age=OLD, code="zzzz0000")
    atlas = _part(cache / "atlas", "f00d.npz")
    atlas_old = _part(cache / "featvis" / "f00d", "relu1.npz", age=OLD)
    trash = _run(runs / ".deleting-20261124-090000-bbbbbb-1234abcd", 1, final=True)
    removed = clean_runs_folder(runs, cache)
    assert set(removed) == {left, stale, atlas_old, trash}
    assert not left.exists() and not trash.exists() and not atlas_old.exists()
    assert throughput.exists() and atlas.exists()
    assert (run / "epoch-00.safetensors").exists() and (run / "epoch-00.json").exists()
    assert RunsLock(runs).holder() is None  # the clean-up let go of the lock
    assert clean_runs_folder(runs, cache) == []


def test_a_live_jobs_files_are_kept(tmp_path) -> None:
    runs = tmp_path / "runs"
    live = _run(runs / "20261124-110000-cccccc", 1, final=False)
    other = _run(runs / "20261124-100000-aaaaaa", 1, final=False)
    writing = _part(live, "epoch-02.safetensors")
    writing_long = _part(live, "epoch-02.json", age=OLD)
    other_young = _part(other, "epoch-02.safetensors")
    other_old = _part(other, "epoch-02.safetensors", age=OLD, code="0000aaaa")
    holder = RunsLock(runs)  # another app process training "cccccc"
    holder.acquire({"owner": "ab12cd", "arch": "compact", "job": live.name})
    try:
        assert clean_runs_folder(runs, tmp_path / "cache") == [other_old]
        assert writing.exists() and writing_long.exists() and other_young.exists()
        assert holder.holder()["job"] == live.name  # still theirs
    finally:
        holder.release()


def test_a_read_only_runs_folder_is_left_alone_at_start(tmp_path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    part = _part(runs / "20261124-100000-aaaaaa", "epoch-01.safetensors")

    def refuse(self, info):
        raise OSError(errno.EROFS, "Read-only file system", str(self.path))

    monkeypatch.setattr(RunsLock, "acquire", refuse)
    assert clean_runs_folder(runs, tmp_path / "cache") == []  # young, and no lock: kept
    assert part.exists()
    assert clean_runs_folder(tmp_path / "missing", tmp_path / "cache") == []
    assert not (tmp_path / "missing").exists()  # never made by the clean-up


# ------------------------------------------------------------------ which run trains now

def test_running_job_in_this_process_another_or_none(tmp_path) -> None:
    manager = JobManager(tmp_path)
    assert running_job(manager) is None
    other = RunsLock(tmp_path)
    other.acquire({"owner": "x", "job": "20261124-100000-aaaaaa"})
    try:
        assert running_job(manager) == "20261124-100000-aaaaaa"
    finally:
        other.release()
    other.acquire({"owner": "x"})  # an older app version: no job named
    try:
        assert running_job(manager) == ""
    finally:
        other.release()
    job = manager.start(small_cfg(max_steps=2), tiny_data(), owner="me")
    seen = running_job(manager)
    manager.wait(60)
    assert seen in (job.id, None) and job.status == "done"
    assert running_job(manager) is None


# ------------------------------------------------------------------ deleting a run

def test_delete_finished_and_interrupted_runs(tmp_path) -> None:
    runs = tmp_path / "runs"
    done = _run(runs / "20261124-100000-aaaaaa", 1, final=True)
    cut = _run(runs / "20261124-110000-bbbbbb", 2, final=False)
    _part(cut, "epoch-03.safetensors")
    keep = _run(runs / "20261124-120000-cccccc", 1, final=True)
    before = _tree(keep)
    manager = JobManager(runs)
    assert delete_run(manager, done.name) == done and not done.exists()
    assert delete_run(manager, cut.name) == cut and not cut.exists()
    assert _tree(keep) == before
    assert sorted(p.name for p in runs.iterdir()) == [keep.name]  # no trash left
    with pytest.raises(ValueError, match="deleted already"):
        delete_run(manager, done.name)


def test_the_running_run_is_never_deleted(tmp_path) -> None:
    runs = tmp_path / "runs"
    live = _run(runs / "20261124-110000-cccccc", 1, final=False)
    done = _run(runs / "20261124-100000-aaaaaa", 1, final=True)
    before = _tree(live)
    other = RunsLock(runs)  # another process trains "cccccc"
    other.acquire({"owner": "ab12cd", "job": live.name})
    try:
        with pytest.raises(RunInUse, match="is training now"):
            delete_run(JobManager(runs), live.name)
    finally:
        other.release()
    assert _tree(live) == before
    # A job of unknown id runs: unfinished runs might be it and are kept; finished ones are not.
    with pytest.raises(RunInUse):
        store.delete_run(live.name, "", runs)
    store.delete_run(done.name, "", runs)
    assert not done.exists() and _tree(live) == before


@pytest.mark.parametrize("name", ["../outside", "/etc", "a/b", ".hidden", "", "..", ".",
                                  "x" * 101, "run\n", None])
def test_names_that_are_not_runs_of_the_folder_are_refused(tmp_path, name) -> None:
    runs = tmp_path / "runs"
    _run(runs / "20261124-100000-aaaaaa", 0, final=True)
    outside = _run(tmp_path / "outside", 0, final=True)
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match="is not the name of a run"):
        store.delete_run(name, None, runs)
    assert _tree(tmp_path) == before and outside.exists()


def test_links_odd_folders_and_shipped_checkpoints_are_left_alone(tmp_path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    outside = _run(tmp_path / "outside", 0, final=True)
    (runs / "20261124-100000-linked").symlink_to(outside, target_is_directory=True)
    (runs / "20261124-110000-shipped").symlink_to(CHECKPOINT_DIR, target_is_directory=True)
    odd = _run(runs / "20261124-120000-notes", 0, final=True)
    (odd / "lesson-plan.txt").write_text("mine")
    shipped_before = _tree(CHECKPOINT_DIR)
    before = _tree(tmp_path)
    for name in ("20261124-100000-linked", "20261124-110000-shipped"):
        with pytest.raises(ValueError, match="is a link"):
            store.delete_run(name, None, runs)
    with pytest.raises(ValueError, match=r"holds files a training run does not make "
                                         r"\(lesson-plan.txt\)"):
        store.delete_run(odd.name, None, runs)
    with pytest.raises(ValueError, match="There is no run"):
        store.delete_run("20261124-130000-none", None, runs)
    with pytest.raises(ValueError, match="not a run in the runs folder"):
        store.delete_run("checkpoints", None, store.PROJECT_ROOT)  # runs folder = the project
    with pytest.raises(ValueError, match="not a run in the runs folder"):
        store.delete_run(CHECKPOINT_DIR.name, None, CHECKPOINT_DIR.parent)
    assert _tree(tmp_path) == before and _tree(CHECKPOINT_DIR) == shipped_before


def test_two_processes_deleting_the_same_run_one_wins(tmp_path) -> None:
    runs = tmp_path / "runs"
    run = _run(runs / "20261124-100000-aaaaaa", 3, final=True)
    code = ("import sys; from model import store\n"
            "try:\n    store.delete_run(sys.argv[1], None, sys.argv[2]); print('deleted')\n"
            "except ValueError as exc:\n    print('refused', exc)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, run.name, str(runs)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sum(o == "deleted" for o in outs) == 1, outs
    assert all(o == "deleted" or "deleted already" in o for o in outs), outs
    assert list(runs.iterdir()) == []


# ------------------------------------------------------------------ a folder that cannot be written

def test_a_read_only_runs_folder_names_the_folder_and_the_fix(tmp_path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(runs))

    def read_only(*args, **kw):
        raise OSError(errno.EROFS, "Read-only file system", str(runs / ".x.abcdefgh.part"))

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    with pytest.raises(NotWritable) as info:
        atomic_write(runs / "run" / "epoch-01.safetensors", b"x")
    assert str(info.value) == (
        f"The runs folder {runs} is read-only (a read-only file system): set CNN_LENS_RUNS_DIR "
        f"to a writable folder, or make it writable.")
    assert isinstance(info.value, OSError) and info.value.errno == errno.EROFS


def test_a_runs_folder_under_a_file_names_the_file(tmp_path, monkeypatch) -> None:
    (tmp_path / "afile").write_text("not a folder")
    runs = tmp_path / "afile" / "runs"
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(runs))
    with pytest.raises(NotWritable, match=rf"^The runs folder {runs} cannot be made: "
                                          rf"{tmp_path / 'afile'} is a file, not a folder. Set "
                                          rf"CNN_LENS_RUNS_DIR to a writable folder.$"):
        atomic_write(runs / ".throughput.json", b"{}")


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: chmod does not stop root "
                                              "writing (the other tests use a folder under a "
                                              "file and a read-only error instead)")
def test_a_folder_without_write_permission(tmp_path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(runs))
    runs.chmod(0o555)
    try:
        with pytest.raises(NotWritable, match=rf"^The runs folder {runs} is not writable by "
                                              rf"this app .*set CNN_LENS_RUNS_DIR"):
            atomic_write(runs / "x.json", b"{}")
    finally:
        runs.chmod(0o755)


def test_a_full_disk_mid_write_names_the_folder_and_leaves_no_temp_file(tmp_path, monkeypatch
                                                                        ) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(runs))
    full = (rf"^The runs folder {runs} is full \(no space left on its disk\): free some space "
            rf"\(delete old runs on the Train page\)")
    with pytest.raises(NotWritable, match=full), atomic_path(runs / "run" / "epoch-01.bin"):
        raise OSError(errno.ENOSPC, "No space left on device")  # as write() raises it
    assert [p.name for p in runs.rglob("*") if p.is_file()] == []
    # An error about another file (a source being read) is not about this folder.
    with pytest.raises(PermissionError) as info, atomic_path(runs / "copy.bin"):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/else/source.bin")
    assert not isinstance(info.value, NotWritable)


def test_a_full_disk_during_training_says_so_in_the_jobs_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(tmp_path))

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    manager = JobManager(tmp_path)
    job = manager.start(small_cfg(max_steps=2), tiny_data(), owner="me")
    manager.wait(60)
    assert job.status == "failed"
    assert f"The runs folder {tmp_path} is full (no space left on its disk)" in job.error
    assert list(tmp_path.rglob("*.part")) == []


def test_the_cache_and_other_folders_are_named_with_their_own_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CNN_LENS_RUNS_DIR", str(tmp_path / "runs"))
    atlas = store.CACHE_ROOT / "atlas" / "f00d.npz"
    assert store.write_problem(errno.EROFS, atlas).startswith(
        f"The cache folder {store.CACHE_ROOT} ")
    assert "run the app from a copy of the project in a writable folder" in \
        store.write_problem(errno.EROFS, atlas)
    assert store.write_problem(errno.ENOSPC, tmp_path / "x" / "y.npz") == (
        f"The folder {tmp_path / 'x'} is full (no space left on its disk): free some space, or "
        f"choose a writable folder on another disk.")
    assert store.write_problem(errno.EACCES, tmp_path / "runs" / "a" / "b").startswith(
        f"The runs folder {tmp_path / 'runs'} does not exist and cannot be made by this app "
        f"(user ")
