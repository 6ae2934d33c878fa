"""Background training for a shared server: one job at a time, progress, stop, per-epoch snapshots.

The app keeps one :class:`JobManager` per server process (``st.cache_resource``). A job trains in
a daemon thread with :func:`model.train.train`; the initial weights and every epoch are written at
once as checkpoints (``runs/<job id>/epoch-NN.safetensors``, epoch 00 = before training), so a
closed browser tab or a stopped job loses nothing already trained. The final model is saved as ``runs/<job id>/final.safetensors`` with its full
model card. Shipped checkpoints are never written. A second request while a job runs gets
:class:`JobBusy`, which says who started the running job and when.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.checkpoint import save_checkpoint
from model.data import MNIST
from model.store import CHECKPOINT_DIR
from model.store import runs_dir as default_runs_dir
from model.train import TrainConfig, model_card, train


class JobBusy(RuntimeError):
    """Raised when a job is requested while another one runs."""


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
        """Ask the job to stop after the current step; what is saved stays saved."""
        self._stop.set()


class JobManager:
    """At most one training job at a time per server; thread-safe."""

    def __init__(self, folder: Path | None = None):
        runs_dir = folder if folder is not None else default_runs_dir()
        if runs_dir.resolve() == CHECKPOINT_DIR.resolve():
            raise ValueError("training output must not go to checkpoints/ (shipped models)")
        self.runs_dir = runs_dir
        self._lock = threading.Lock()
        self._current: Job | None = None
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Job | None:
        return self._current

    def start(self, cfg: TrainConfig, data: MNIST | Callable[[], MNIST], owner: str) -> Job:
        """Start training ``cfg`` in the background; raise :class:`JobBusy` if a job runs."""
        with self._lock:
            job = self._current
            if job is not None and job.running:
                since = time.strftime("%H:%M:%S", time.localtime(job.started))
                raise JobBusy(
                    f"A training job is already running on this server ({job.config.arch}, "
                    f"started by session {job.owner} at {since}, step {job.step}/{job.total}). "
                    f"Wait for it to finish, or ask that session to stop it.")
            job_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
            job = Job(id=job_id, owner=owner, config=cfg, folder=self.runs_dir / job_id)
            self._current = job
            self._thread = threading.Thread(target=self._run, args=(job, data), daemon=True,
                                            name=f"train-{job_id}")
            self._thread.start()
            return job

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
                return False if job._stop.is_set() else None

            result = train(job.config, data, callback=on_event, progress=False)
            card = model_card(job.config, result, data)
            job.final = save_checkpoint(result.model, card, job.folder / "final.safetensors")
            job.status = "stopped" if result.stopped else "done"
        except Exception as exc:  # noqa: BLE001 - a failed job reports, never kills the server
            job.error = f"{type(exc).__name__}: {exc}"
            job.status = "failed"
        finally:
            job.finished = time.time()
