"""The sidebar's upload box takes PyTorch state dicts: a LeNet-5 ``.pth`` opens as ``lenet5``
with a picker of the networks that fit its tensors; a whole pickled model is refused in one
line; a state dict that fits no zoo network leaves an architecture picker, and a network picked
that does not fit says which tensors disagree."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_app import APP, ok

torch = pytest.importorskip("torch")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pytorch"
pytestmark = pytest.mark.slow  # an app run and a conversion per upload


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lens.on"] = False
    at.run()
    ok(at)
    return at


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.session_state["view"] = "Feature maps"
    at.file_uploader(key="model.uploader").set_value(
        [(name, data, "application/octet-stream")]).run()
    ok(at)
    return at


def test_lenet5_state_dict_opens_with_the_networks_tried(app: AppTest) -> None:
    at = upload(app, "lenet5.pth", (FIXTURES / "lenet5.pth").read_bytes())
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="model.choice").value.kind == "upload"
    imp = at.session_state["model.upload"]["imported"]
    assert imp["architecture"] == "lenet5" and imp["scale"] == "unit"
    picker = at.selectbox(key="model.import_arch")
    assert picker.value == "lenet5" and len(picker.options) == 4
    picker.select("lenet5 (relu, maxpool)").run()  # the teacher's choice: converted again
    ok(at)
    assert at.session_state["model.upload"]["imported"]["architecture"] == \
        "lenet5 (relu, maxpool)"


def test_whole_model_refused_in_one_line(app: AppTest) -> None:
    at = upload(app, "whole_model.pt", (FIXTURES / "whole_model.pt").read_bytes())
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "whole pickled model" in errors[0], errors
    assert "state_dict()" in errors[0].replace("\\", "") and "\n" not in errors[0]
    assert "model.upload" not in at.session_state


def test_unmatched_state_dict_leaves_a_picker(app: AppTest, tmp_path: Path) -> None:
    import io

    from torch import nn

    buf = io.BytesIO()
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).state_dict(), buf)
    at = upload(app, "mine.pt", buf.getvalue())
    assert "fit no network of the zoo" in at.error[0].value
    picker = at.selectbox(key="model.import_arch")
    assert "lenet5" in picker.options
    picker.select("lenet5").run()
    ok(at)
    assert "do not fit lenet5" in at.error[0].value
    assert at.selectbox(key="model.import_arch").value == "lenet5"
