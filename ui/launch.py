"""Serve CNN lens warm: ``python -m ui.launch [streamlit run options]``.

``streamlit run app.py`` runs nothing of the app until a browser connects, so the first visitors
of a fresh process paid every import and shared cache. This is the same server (Streamlit's own
``streamlit run app.py``, with the same options, e.g. ``--server.port 8501``) whose process
starts the warm-up (``ui/warm.py``) as the server starts, and whose health check
(``/_stcore/health``, what deploy/serve.py and the benchmarks wait for) answers 503 "warming
up" until the warm-up has ended.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
# The longest the health check waits for the warm-up: a warm-up that never ends (nothing known
# does) makes a slow first page, never a server that is never ready.
READY_LIMIT_S = 300.0


def gate_health(ready: threading.Event, limit_s: float = READY_LIMIT_S) -> bool:
    """Make Streamlit's readiness, the health check's answer, wait for ``ready`` (at most
    ``limit_s`` seconds from now).

    Returns:
        False when this Streamlit has no such hook (the server then reports ready at once).
    """
    try:
        from streamlit.runtime.runtime import Runtime
        original = Runtime.is_ready_for_browser_connection.fget
    except (ImportError, AttributeError) as exc:
        print(f"The health check does not wait for the warm-up: {exc}", flush=True)
        return False
    deadline = time.monotonic() + limit_s

    async def is_ready(self) -> tuple[bool, str]:
        ok, message = await original(self)
        if ok and not ready.is_set() and time.monotonic() < deadline:
            return False, "warming up"
        return ok, message

    Runtime.is_ready_for_browser_connection = property(is_ready)  # type: ignore[assignment]
    return True


def warm_as_the_server_starts() -> None:
    """Start the warm-up when Streamlit's command line starts the server, after it has read
    its configuration (``streamlit.web.bootstrap.run``)."""
    from streamlit.web import bootstrap

    from ui import warm
    run = bootstrap.run

    def run_warm(*args, **kwargs):
        warm.start()
        return run(*args, **kwargs)

    bootstrap.run = run_warm


def main(argv: list[str] | None = None) -> int:
    """``streamlit run app.py ARGV``, warmed; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    from model.cache import process
    process.serialize_ast_parse()  # before the server and the warm-up start threads
    from streamlit.web import cli

    from ui import warm
    gate_health(warm.WARM)
    warm_as_the_server_starts()
    try:
        cli.main.main(args=["run", str(APP), *args], prog_name="python -m ui.launch")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
