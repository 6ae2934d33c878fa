"""Runs on disk and training curves (viz/teaching/training.py)."""

from __future__ import annotations

import pytest
import torch

from model.files.checkpoint import save_checkpoint
from model.zoo import build
from viz.teaching import training


def _run(folder, epochs: int, final: bool) -> None:
    torch.manual_seed(0)
    model = build("compact")
    for e in range(epochs + 1):
        stats = {} if e == 0 else {"val_accuracy": 0.9 + e / 100, "loss": 1.0 / e}
        save_checkpoint(model, {"epochs": e, **stats}, folder / f"epoch-{e:02d}.safetensors")
    if final:
        save_checkpoint(model, {"epochs": epochs, "test_accuracy": 0.987},
                        folder / "final.safetensors")


def test_runs_listed_newest_first_with_snapshots(tmp_path) -> None:
    _run(tmp_path / "20261124-100000-aaaaaa", 2, final=True)
    _run(tmp_path / "20261124-110000-bbbbbb", 1, final=False)
    (tmp_path / "20261124-120000-cccccc").mkdir()  # nothing saved yet: not listed
    runs = training.list_runs(tmp_path)
    assert [r.id for r in runs] == ["20261124-110000-bbbbbb", "20261124-100000-aaaaaa"]
    done = runs[1]
    assert [s.epoch for s in done.snapshots] == [0, 1, 2]
    assert [s.label() for s in done.snapshots] == [
        "start (random weights)", "epoch 1, val 91.0%", "epoch 2, val 92.0%"]
    assert done.arch == "compact" and done.final_card["test_accuracy"] == 0.987
    assert done.label() == "20261124-100000-aaaaaa: compact, 2 epoch(s), finished, test 98.70%"
    assert done.short_label() == "compact, 24 Nov 10:00"  # the picker's, short enough for a phone
    assert runs[0].final is None
    assert runs[0].label() == ("20261124-110000-bbbbbb: compact, 1 epoch(s), interrupted after "
                               "epoch 1")
    assert training.list_runs(tmp_path / "missing") == []


def test_an_unfinished_run_is_in_progress_only_while_its_job_runs(tmp_path) -> None:
    _run(tmp_path / "20261124-100000-aaaaaa", 2, final=True)
    _run(tmp_path / "20261124-110000-bbbbbb", 0, final=False)  # crashed before epoch 1
    _run(tmp_path / "20261124-120000-cccccc", 1, final=False)
    _run(tmp_path / ".deleting-20261124-090000-dddddd-1234abcd", 1, final=True)  # not a run

    def states(running):
        return {r.id[-6:]: (r.state(), r.deletable)
                for r in training.list_runs(tmp_path, running)}

    assert states(None) == {"aaaaaa": ("finished", True),
                            "bbbbbb": ("interrupted before its first epoch", True),
                            "cccccc": ("interrupted after epoch 1", True)}
    first = ("interrupted before its first epoch", True)
    assert states("20261124-120000-cccccc") == {"aaaaaa": ("finished", True), "bbbbbb": first,
                                               "cccccc": ("in progress", False)}
    # Another process trains a job it does not name: unfinished runs might be it.
    assert states("") == {"aaaaaa": ("finished", True),
                          "bbbbbb": ("in progress or interrupted", False),
                          "cccccc": ("in progress or interrupted", False)}
    # A job training elsewhere (its folder not made yet) leaves the others interrupted.
    assert states("20261124-130000-eeeeee")["cccccc"] == ("interrupted after epoch 1", True)


def test_damaged_snapshot_is_skipped_and_header_errors_name_the_file(tmp_path) -> None:
    run = tmp_path / "20261124-100000-aaaaaa"
    _run(run, 1, final=False)
    (run / "epoch-02.safetensors").write_bytes(b"\x05\x00")  # being written, or damaged
    assert [s.epoch for s in training.read_run(run).snapshots] == [0, 1]
    with pytest.raises(ValueError, match="epoch-02.safetensors: not a checkpoint"):
        training.read_header_card(run / "epoch-02.safetensors")


def test_smooth_duration_and_curves() -> None:
    assert training.smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # bias-corrected
    s = training.smooth([1.0, 0.0])
    assert s[0] == pytest.approx(1.0) and 0 < s[1] < 1
    assert [training.duration(v) for v in (None, 12.4, 250, 3900)] == [
        "", "12 s", "4 min 10 s", "1 h 05 min"]
    fig = training.curves([2.0, 1.0, 0.5, 0.4], [{"epoch": 1, "val_accuracy": 0.95}], 4)
    assert [t.name for t in fig.data] == ["loss (each step)", "loss (smoothed)",
                                          "validation accuracy"]
    assert list(fig.data[2].x) == [4] and list(fig.data[2].y) == [95.0]
