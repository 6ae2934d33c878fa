"""The test predictions shipped beside each checkpoint (model/files/shipped.py), read without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from model.files import shipped
from model.store import CHECKPOINT_DIR, PROJECT_ROOT


def test_shipped_predictions_reproduce_each_card_accuracy() -> None:
    for path in sorted(CHECKPOINT_DIR.glob("*.safetensors")):
        labels, preds = shipped.load_shipped(path)
        card = json.loads(path.with_suffix(".json").read_text())
        assert np.mean(labels == preds) == pytest.approx(card["test_accuracy"], abs=1e-9)
        assert shipped.predictions_path(path).stat().st_size < 11_000


def test_a_checkpoint_without_predictions_has_none(tmp_path) -> None:
    assert shipped.load_shipped(tmp_path / "mine.safetensors") is None
    assert shipped.predictions_path(tmp_path / "mine.safetensors") == (
        tmp_path / "mine.predictions.npy")


def test_reading_them_needs_no_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None; from model.files import shipped; "
            "print(len(shipped.load_shipped('checkpoints/seed.safetensors')[0]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(PROJECT_ROOT))
    assert out.stdout.strip() == "10000", out.stderr
