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
