"""Background training for a shared server: one job at a time, progress, stop, per-epoch snapshots.

A job trains in a daemon thread and saves its random start and every epoch at once, so a closed
tab loses nothing. One job per runs folder across processes: an ``fcntl.flock`` that the kernel
drops if the process dies. Every run passes the training budget first; stop is honoured within a
step, and a run far past its time limit stops itself, keeping what it saved.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import platform
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.architectures import ARCHITECTURES
from model.data import MNIST
from model.files.atomic import NotWritable
from model.files.checkpoint import save_checkpoint
from model.store import CHECKPOINT_DIR
from model.store import runs_dir as default_runs_dir
from model.train import TrainConfig, model_card, train
from model.training import budget

LOCK_NAME = ".training.lock"


class JobBusy(RuntimeError):
    """Raised when a job is requested while another one runs."""


class RunsLock:
    """An exclusive lock on a runs folder, shared by every process that trains into it.

    ``fcntl.flock`` on ``<runs>/.training.lock``: held while a job trains, released when it
    ends, and released by the kernel when the holding process dies. The file holds the holder's
    pid, host, start time, session and network, for the message others get.
    """

    def __init__(self, runs_dir: Path):
        self.path = Path(runs_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, info: dict[str, Any]) -> None:
        """Take the lock and record ``info`` in it, or raise :class:`JobBusy` naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JobBusy(self.busy_message(self.read())) from None
        record = {"pid": os.getpid(), "host": platform.node(), "since": time.time(), **info}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock (their record), or None when it is free."""
        if self._fd is not None:
            return self.read()
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None
        except OSError as exc:  # a read-only folder: a read-only descriptor still tests the lock
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.read()
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    @staticmethod
    def busy_message(info: dict[str, Any]) -> str:
        since = info.get("since")
        when = time.strftime(" at %H:%M:%S", time.localtime(since)) if isinstance(
            since, (int, float)) else ""
        who = f"session {info['owner']}" if info.get("owner") else "another process"
        what = f"{info['arch']}, " if info.get("arch") else ""
        where = (f"app process {info.get('pid')} on {info.get('host')}" if info.get("pid")
                 else "another app process")
        return (f"A training job is already running on this server ({what}started by {who}"
                f"{when}, in {where}). Wait for it to finish, or ask that session to stop it.")


@dataclass
class Job:
    """What a client can read about a job (updated by the training thread)."""

    id: str
    owner: str
    config: TrainConfig
    folder: Path
    started: float = field(default_factory=time.time)
    status: str = "starting"  # starting, running, done, stopped, failed
    step: int = 0
    total: int = 0
    loss: list[float] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[Path] = field(default_factory=list)
    final: Path | None = None
    error: str | None = None
    finished: float | None = None
    deadline: float | None = None  # time.time() after which the run stops itself
    timed_out: bool = False  # stopped by the time limit, not by its owner
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return self.status in ("starting", "running")

    def seconds_left(self) -> float | None:
        """Estimated seconds to the end, from the pace so far."""
        if not self.running or self.step == 0 or self.total == 0:
            return None
        elapsed = time.time() - self.started
        return elapsed / self.step * (self.total - self.step)

    def stop(self) -> None:
        """Ask the job to stop after the current step or evaluation batch; what is saved stays
        saved."""
        self._stop.set()

    def should_stop(self) -> bool:
        """Stop was asked for, or the run is past its deadline (which then stops it)."""
        if self._stop.is_set():
            return True
        if self.deadline is not None and time.time() > self.deadline:
            self.timed_out = True
            self._stop.set()
            return True
        return False

    @property
    def message(self) -> str | None:
        """Why a stopped run stopped, for its status line (None otherwise)."""
        if self.status != "stopped":
            return None
        if self.timed_out:
            minutes = (self.deadline - self.started) / 60 if self.deadline else 0
            return (f"It ran past this server's time limit ({budget.max_minutes():g} minutes "
                    f"estimated, stopped on the clock after {minutes:.0f}) and stopped itself: "
                    f"every finished epoch and the model so far are saved; the test digits "
                    f"were not measured.")
        return ("Stopped by its owner: every finished epoch and the model so far are saved; "
                "the test digits were not measured.")


class JobManager:
    """At most one training job at a time per server; thread-safe."""

    def __init__(self, folder: Path | None = None):
        runs_dir = folder if folder is not None else default_runs_dir()
        if runs_dir.resolve() == CHECKPOINT_DIR.resolve():
            raise ValueError("training output must not go to checkpoints/ (shipped models)")
        self.runs_dir = runs_dir
        self.runs_lock = RunsLock(runs_dir)
        self._lock = threading.Lock()
        self._current: Job | None = None
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Job | None:
        return self._current

    def start(self, cfg: TrainConfig, data: MNIST | Callable[[], MNIST], owner: str) -> Job:
        """Start training ``cfg`` in the background; raise :class:`JobBusy` if a job runs (in
        this process or another one sharing the runs folder) and
        :class:`model.training.budget.OverBudget` if the run is over the server's budget."""
        self.check_budget(cfg, data)
        with self._lock:
            job = self._current
            if job is not None and job.running:
                since = time.strftime("%H:%M:%S", time.localtime(job.started))
                raise JobBusy(
                    f"A training job is already running on this server ({job.config.arch}, "
                    f"started by session {job.owner} at {since}, step {job.step}/{job.total}). "
                    f"Wait for it to finish, or ask that session to stop it.")
            job_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
            self.runs_lock.acquire({"owner": owner, "arch": cfg.arch, "job": job_id})
            job = Job(id=job_id, owner=owner, config=cfg, folder=self.runs_dir / job_id)
            job.deadline = job.started + budget.deadline_seconds()
            self._current = job
            self._thread = threading.Thread(target=self._run, args=(job, data), daemon=True,
                                            name=f"train-{job_id}")
            self._thread.start()
            return job

    def busy_elsewhere(self) -> dict[str, Any] | None:
        """The lock record of a job another process runs into this runs folder, else None."""
        job = self._current
        if job is not None and job.running:
            return None
        return self.runs_lock.holder()

    def check_budget(self, cfg: TrainConfig, data: MNIST | Callable[[], MNIST]
                     ) -> budget.Estimate | None:
        """The run's estimate on this server, or :class:`model.training.budget.OverBudget`. (An unknown
        architecture is left to the job, which reports it as its failure.)"""
        layers = cfg.layers if cfg.layers is not None else (
            ARCHITECTURES[cfg.arch].layers() if cfg.arch in ARCHITECTURES else None)
        if layers is None:
            return None
        images = None if callable(data) else len(data.train_labels) - cfg.val_size
        name = "this table" if cfg.arch == "lab" else cfg.arch
        return budget.check(name, layers, cfg.epochs, self.runs_dir, cfg.batch_size,
                            cfg.max_steps, train_images=images, optimizer=cfg.optimizer)

    def wait(self, timeout: float | None = None) -> Job | None:
        """Block until the current job's thread ends (for scripts and tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._current

    def _run(self, job: Job, data: MNIST | Callable[[], MNIST]) -> None:
        try:
            if callable(data):
                data = data()
            job.status = "running"

            def on_event(event: dict[str, Any]) -> bool | None:
                if event["kind"] == "init":  # the random start, to compare epochs against
                    job.total = event["total"]
                    path = job.folder / "epoch-00.safetensors"
                    save_checkpoint(event["model"], {"epochs": 0, "snapshot_of": job.id,
                                                     "recipe": asdict(job.config)}, path)
                    job.snapshots.append(path)
                    return None
                if event["kind"] == "step":
                    job.step, job.total = event["step"], event["total"]
                    job.loss.append(event["loss"])
                else:
                    model = event["model"]
                    path = job.folder / f"epoch-{event['epoch']:02d}.safetensors"
                    stats = {k: v for k, v in event.items() if k not in ("kind", "model")}
                    save_checkpoint(model, {"epochs": event["epoch"], "snapshot_of": job.id,
                                            "recipe": asdict(job.config), **stats}, path)
                    job.snapshots.append(path)
                    job.epochs.append(stats)
                return False if job.should_stop() else None

            result = train(job.config, data, callback=on_event, progress=False,
                           stop=job.should_stop)
            card = model_card(job.config, result, data, stop=job.should_stop)
            if job.timed_out:
                card["stopped_by"] = "time limit"
            job.final = save_checkpoint(result.model, card, job.folder / "final.safetensors")
            job.status = "stopped" if result.stopped or card["stopped"] else "done"
        except Exception as exc:  # noqa: BLE001 - a failed job reports, never kills the server
            # (a folder that cannot be written says which and what to do: no class name)
            job.error = str(exc) if isinstance(exc, NotWritable) else f"{type(exc).__name__}: {exc}"
            job.status = "failed"
        finally:
            job.finished = time.time()
            self.runs_lock.release()


# ---------------------------------------------------------------------------------------------
# The runs folder's upkeep: what a crash left behind, which run trains now, deleting a run
# ---------------------------------------------------------------------------------------------

PARTIAL_AGE_S = 3600.0  # a temp file of an atomic write this old is no write in progress


def _lock_holder(lock: RunsLock) -> dict[str, Any] | None:
    """``lock.holder()``, also where the lock file cannot be opened for writing (a read-only
    runs folder: tested through a read-only descriptor); None without a lock file."""
    try:
        return lock.holder()
    except OSError:
        pass
    try:
        fd = os.open(lock.path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return lock.read()
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def running_job(manager: JobManager) -> str | None:
    """The id of the job training into ``manager``'s runs folder now, in this process or any
    other sharing the folder; None when none runs, "" when one runs whose id is unknown."""
    job = manager.current
    if job is not None and job.running:
        return job.id
    holder = _lock_holder(manager.runs_lock)
    if holder is None:
        return None
    job_id = holder.get("job")
    return job_id if isinstance(job_id, str) else ""


def delete_run(manager: JobManager, run_id: str) -> Path:
    """Delete a finished or interrupted run of ``manager``'s runs folder (never the running one:
    :class:`model.store.RunInUse`; never anything outside the folder: ``ValueError``)."""
    from model.store import delete_run as delete_run_folder
    return delete_run_folder(run_id, running_job(manager), manager.runs_dir)


def clean_runs_folder(runs: Path | None = None, cache: Path | None = None,
                      max_age: float = PARTIAL_AGE_S) -> list[Path]:
    """At start-up: delete what a crash left in the runs folder (default: ``$CNN_LENS_RUNS_DIR``
    or ``runs/``) and the cache (default ``.cache/``). Returns what was deleted.

    Only the temp files of :mod:`model.files.atomic` (``.<name>.<8 characters>.part``) and run folders
    renamed away by a delete cut short. In the run folders, while no process trains into them
    (this function then holds the training lock, so none can start meanwhile), every such temp
    file; while a job trains, only files over ``max_age`` seconds old and never those of the
    running job. Elsewhere (the throughput cache, ``.cache/``), written without the lock, only
    files over ``max_age`` seconds old. A runs folder that cannot be written is left as it is.
    """
    from model.files.atomic import sweep_partials
    from model.store import CACHE_ROOT, TRASH_PREFIX, empty_trash
    runs = Path(runs) if runs is not None else default_runs_dir()
    cache = Path(cache) if cache is not None else CACHE_ROOT
    removed: list[Path] = []
    if runs.is_dir():
        lock = RunsLock(runs)
        try:
            lock.acquire({"owner": "", "job": None, "purpose": "start-up clean-up"})
        except (JobBusy, OSError):  # a job runs, or the folder is read-only
            holder = _lock_holder(lock)
            live = holder.get("job") if holder else None
            held = False
        else:
            live, held = None, True
        try:
            for trash in sorted(runs.glob(f"{TRASH_PREFIX}*")):
                if trash.is_dir() and not trash.is_symlink() and empty_trash(trash):
                    removed.append(trash)
            live_folder = runs / live if isinstance(live, str) and live else None
            in_run_folder = lambda p: p.parent.parent == runs  # noqa: E731
            if held:
                removed += sweep_partials(runs, 0.0, keep=lambda p: not in_run_folder(p))
            removed += sweep_partials(runs, max_age, keep=lambda p: p.parent == live_folder)
        finally:
            if held:
                lock.release()
    removed += sweep_partials(cache, max_age)
    return removed
