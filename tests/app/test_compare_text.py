"""The All methods view's sanity-check text is computed from the numbers: the maps on the page
(per digit) and the Trust view's measurements of the current network, never fixed prose."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from model import store
from model.trust import MethodTrust
from ui.views import compare

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "checkpoints" / "seed.safetensors"
MEASURED_SEED = {"saliency": 0.21, "ig": 0.18, "smoothgrad": 0.15, "guided": 0.39,
                 "deeplift": 0.2, "gradcam": 0.33, "occlusion": 0.77}
OTHER = {"saliency": 0.07, "ig": 0.1, "smoothgrad": 0.05, "guided": 0.88,
         "deeplift": 0.09, "gradcam": 0.62, "occlusion": 0.25}


def _measured(n: int, spearman: dict[str, float]) -> None:
    """Put a finished trust measurement of seed over n digits where the Trust view keeps it."""
    from model.training.background import TASKS
    flat = np.zeros(11)
    rows = [MethodTrust(k, 0.2, 0.6, v, flat, flat) for k, v in spearman.items()]
    key = f"trust:{store.file_sha256(SEED)}:{n}"
    with TASKS._lock:  # a test double: replace whatever an earlier test left there
        TASKS._tasks.pop(key, None)
    task = TASKS.start(key, lambda progress: {"rows": rows, "source": f"the first {n} test "
                                              f"digits"})
    while task.running:
        time.sleep(0.01)


def _forget(n: int) -> None:
    from model.training.background import TASKS
    with TASKS._lock:
        TASKS._tasks.pop(f"trust:{store.file_sha256(SEED)}:{n}", None)


def test_digit_spearman_of_the_maps_on_the_page() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(28, 28)).astype(np.float32)
    rows = {"trained": {"Same": a, "Other": a, "Blank": a},
            "random weights": {"Same": -2 * a, "Other": rng.normal(size=(28, 28)), "Blank": a}}
    got = compare.digit_spearman(rows, skipped={"Blank"})
    assert set(got) == {"Same", "Other"}
    assert got["Same"] == 1.0  # |map| ranks unchanged by sign and scale
    assert abs(got["Other"]) < 0.15


def test_the_view_says_what_the_trust_numbers_say() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lens.on"] = False
    at.session_state["view"] = "All methods"
    try:
        _forget(100)
        at.run()
        assert not at.exception, at.exception
        text = "\n".join(m.value for m in at.markdown if "Sanity check" in m.value)
        assert text.startswith("**Sanity check (Adebayo et al., 2018).**")
        # seed's maps are in the browser, which prints this digit's numbers under the grid
        assert "on this digit (Occlusion: " in text and "Spearman" in text
        assert "The Trust view measures the same check" in text  # not measured yet: hedged
        assert "turn to noise" not in text

        _measured(100, MEASURED_SEED)
        at.run()
        text = "\n".join(m.value for m in at.markdown if "Sanity check" in m.value)
        assert ("Over the first 100 test digits (the Trust view: Occlusion in 4x4 tiles, "
                "Grad-CAM on the last activation with a map), Smooth") in text
        assert ("Occlusion stays correlated with the trained map (Spearman 0.77, 0.5 or more)"
                in text)
        passing = text.split("with a map), ")[1].split("Occlusion stays")[0]
        assert "Guided Backprop" in passing and "(Spearman 0.15, 0.18, 0.20" in passing

        _measured(100, OTHER)
        at.run()
        text = "\n".join(m.value for m in at.markdown if "Sanity check" in m.value)
        net = text.split("with a map), ")[1]
        assert ("Guided Backprop and Grad-CAM stay correlated with the trained maps "
                "(Spearman 0.88, 0.62, 0.5 or more)") in net
        assert "Occlusion" in net.split("stay correlated")[0]  # now it passes
    finally:
        _forget(100)
