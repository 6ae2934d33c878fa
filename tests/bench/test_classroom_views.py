"""The view-links benchmark's summary: percentiles over finished pages, per kind, and the time
to each page's first element."""

from __future__ import annotations

import math

from bench.classroom_views import Result, summary


def result(i: int, kind: str, seconds: float, first: float | None, finished: bool = True
           ) -> Result:
    return Result(i, kind, f"view={kind}", seconds, finished, True, False, seconds, 1000,
                  [], first)


def test_summary_counts_finished_pages_and_first_elements() -> None:
    rs = [result(0, "saliency", 1.0, 0.2), result(1, "saliency", 3.0, 0.4),
          result(2, "atlas", 2.0, 0.3), result(3, "atlas", 9.0, None, finished=False)]
    s = summary(rs)
    assert s["all"]["count"] == 4 and s["all"]["finished"] == 3
    assert s["all"]["p50_s"] == 2.0 and s["all"]["max_s"] == 3.0
    assert s["all"]["first_p50_s"] == 0.3
    assert math.isclose(s["all"]["first_p95_s"], 0.39)
    assert s["saliency"] == {"count": 2, "p50_s": 2.0, "max_s": 3.0}
    assert s["atlas"]["count"] == 2 and s["atlas"]["p50_s"] == 2.0


def test_the_server_starts_warm_with_the_launcher_or_plain_with_streamlit() -> None:
    import sys
    from pathlib import Path

    import pytest

    from bench.server import ROOT, server_command
    launcher = server_command(8501, start="launcher")
    assert launcher[:3] == [sys.executable, "-m", "ui.launch"]
    assert launcher[launcher.index("--server.port") + 1] == "8501"
    plain = server_command(8502, Path("/srv/app"))
    assert plain[:5] == [sys.executable, "-m", "streamlit", "run", "/srv/app/app.py"]
    assert plain[5:] == server_command(8502, start="launcher")[3:]  # the same options
    other = server_command(8503, script="tests/app/other.py", start="launcher")  # app.py only
    assert other[3:5] == ["run", str(ROOT / "tests/app/other.py")]
    with pytest.raises(ValueError, match="start is one of launcher, streamlit"):
        server_command(8504, start="uvicorn")


def test_the_first_minute_option_is_bounded() -> None:
    import pytest

    from bench.classroom_views import run
    from bench.server import ROOT
    with pytest.raises(ValueError, match="--after is 0..600 seconds"):
        run(30, ROOT, None, 0.0, 60.0, 60.0, {}, after=-1.0)
