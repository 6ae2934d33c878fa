"""Training runs on disk and their curves, for the train page. Streamlit-free, no torch.

A run is a folder ``runs/<id>/`` holding ``epoch-00.safetensors`` (the random start),
``epoch-01.safetensors``, ... and, once finished or stopped, ``final.safetensors``. Cards are
read from the safetensors headers only (a few hundred bytes), never the weights.

A run without ``final.safetensors`` is "in progress" while its job trains (in any app process
sharing the folder: the caller says which job that is) and "interrupted" otherwise (its server
stopped or crashed mid-run); it keeps every epoch saved before.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from viz.network.card import read_header_file
from viz.pictures import style

_EPOCH = re.compile(r"epoch-(\d+)\.safetensors$")


def read_header_card(path: Path) -> dict[str, Any]:
    """The model card in a checkpoint's header, reading only the header."""
    return read_header_file(path)[0]


@dataclass
class Snapshot:
    epoch: int
    path: Path
    val_accuracy: float | None = None
    loss: float | None = None

    def label(self) -> str:
        if self.epoch == 0:
            return "start (random weights)"
        acc = "" if self.val_accuracy is None else f", val {self.val_accuracy:.1%}"
        return f"epoch {self.epoch}{acc}"


@dataclass
class Run:
    id: str
    folder: Path
    arch: str
    snapshots: list[Snapshot] = field(default_factory=list)
    final: Path | None = None
    final_card: dict[str, Any] | None = None
    status: str = ""  # finished, in progress, interrupted; "" when unknown (see list_runs)

    @property
    def last_epoch(self) -> int:
        return max((s.epoch for s in self.snapshots), default=0)

    @property
    def deletable(self) -> bool:
        """Finished or interrupted: never the run training now (nor one that might be)."""
        return self.status in ("finished", "interrupted")

    def state(self) -> str:
        if self.final:
            return "finished"
        if self.status == "interrupted":
            last = self.last_epoch
            return (f"interrupted after epoch {last}" if last else
                    "interrupted before its first epoch")
        return self.status or "in progress or interrupted"

    def short_label(self) -> str:
        """The run picker's words, short enough for a phone: "compact, 24 Nov 10:00"."""
        m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-\w+", self.id)
        months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        if m is None or not 1 <= int(m[2]) <= 12:
            return f"{self.arch}, {self.id}"
        return f"{self.arch}, {int(m[3])} {months[int(m[2]) - 1]} {m[4]}:{m[5]}"

    def label(self) -> str:
        acc = (self.final_card or {}).get("test_accuracy")
        acc_text = f", test {acc:.2%}" if isinstance(acc, (int, float)) else ""
        return f"{self.id}: {self.arch}, {self.last_epoch} epoch(s), {self.state()}{acc_text}"


def read_run(folder: Path) -> Run | None:
    """A run folder's snapshots and final card; None when it holds no readable snapshot."""
    snaps: list[Snapshot] = []
    arch = "?"
    for path in sorted(folder.glob("epoch-*.safetensors")):
        m = _EPOCH.search(path.name)
        if not m:
            continue
        try:
            card = read_header_card(path)
        except (OSError, ValueError):
            continue  # a file being written right now, or damaged: skip it
        arch = card.get("arch", arch)
        snaps.append(Snapshot(int(m.group(1)), path, card.get("val_accuracy"), card.get("loss")))
    if not snaps:
        return None
    final = folder / "final.safetensors"
    final_card = None
    if final.exists():
        try:
            final_card = read_header_card(final)
        except (OSError, ValueError):
            final = None
    return Run(folder.name, folder, arch, snaps, final if final_card else None, final_card)


def list_runs(runs_dir: Path, running: str | None = None) -> list[Run]:
    """Every readable run under ``runs_dir``, newest first (hidden folders, such as a run being
    deleted, are not runs).

    ``running`` is the id of the job training into ``runs_dir`` now, in any process: None when
    none runs (every unfinished run is then interrupted), "" when one runs whose id is unknown
    (unfinished runs are then of unknown status).
    """
    if not runs_dir.is_dir():
        return []
    runs = [read_run(p) for p in sorted(runs_dir.iterdir(), reverse=True)
            if p.is_dir() and not p.name.startswith(".")]
    out = [r for r in runs if r is not None]
    for r in out:
        if r.final:
            r.status = "finished"
        elif running is None or (running and r.id != running):
            r.status = "interrupted"
        else:
            r.status = "in progress" if running else ""
    return out


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (as TensorBoard's smoothing)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** i))
    return out


def duration(seconds: float | None) -> str:
    """'1 h 05 min', '4 min 10 s', '12 s'; '' for None."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def curves(step_losses: list[float], epochs: list[dict[str, Any]], steps_per_epoch: int,
           height: int = 300) -> go.Figure:
    """Training loss per step (raw and smoothed) and validation accuracy at each epoch's end."""
    fig = go.Figure()
    x = list(range(1, len(step_losses) + 1))
    if step_losses:
        fig.add_scatter(x=x, y=step_losses, mode="lines", name="loss (each step)",
                        line=dict(color=style.PALE_BLUE, width=1), hovertemplate="step %{x}: %{y:.3f}")
        fig.add_scatter(x=x, y=smooth(step_losses), mode="lines", name="loss (smoothed)",
                        line=dict(color=style.BLUE, width=3), hovertemplate="step %{x}: %{y:.3f}")
    if epochs:
        ex = [min(e["epoch"] * steps_per_epoch, len(step_losses) or e["epoch"] * steps_per_epoch)
              for e in epochs]
        fig.add_scatter(x=ex, y=[100 * e["val_accuracy"] for e in epochs], yaxis="y2",
                        mode="lines+markers", name="validation accuracy",
                        line=dict(color=style.ORANGE, width=3), marker=dict(size=10),
                        hovertemplate="epoch end, step %{x}: %{y:.2f}%<extra></extra>")
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
        font=dict(size=15), legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0),
        xaxis=dict(title="training step", gridcolor=style.GRID_GREY, rangemode="tozero"),
        yaxis=dict(title="loss", gridcolor=style.GRID_GREY, rangemode="tozero"),
        yaxis2=dict(title="validation accuracy (%)", overlaying="y", side="right",
                    range=[0, 101], tickmode="linear", tick0=0, dtick=20, showgrid=False))
    return fig
