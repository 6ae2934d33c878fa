"""Settings for many sessions in one server process: the torch side imported once, in the
background; numpy's BLAS on the calling thread; how many pages compute at once; Python's AST
builder used by one thread at a time where Python needs it."""

from __future__ import annotations

import ast
import functools
import gc
import sys
import threading
from collections.abc import Callable
from types import ModuleType

# CPython 3.11.0-3.11.7 and 3.12.0-3.12.1 count the AST builder's recursion depth in state
# shared by every thread (python/cpython#106905, fixed in 3.11.8 and 3.12.2).
_SHARED_AST_DEPTH = ((3, 11) <= sys.version_info[:3] < (3, 11, 8)
                     or (3, 12) <= sys.version_info[:3] < (3, 12, 2))
_AST_LOCK = threading.RLock()


def import_torch_side() -> None:
    """Import torch, Captum and the model modules the gradient views use, then freeze what
    exists for the garbage collector.

    torch.optim imports torch._dynamo (and sympy) on its first optimizer, about 0.8 s holding
    the GIL: done here, not in the first feature visualization a class's atlas starts. With
    torch loaded the server holds ~350k long-lived objects and each full collection took ~0.4 s
    holding the GIL: frozen, later collections only scan what the sessions create
    (bench/results/classroom_findings.md).
    """
    import torch
    torch.set_num_threads(1)  # 2 threads are barely faster here and sometimes stall
    import captum.attr  # noqa: F401
    import torch._dynamo  # noqa: F401

    import model.files.checkpoint  # noqa: F401
    import model.insight.erf  # noqa: F401
    import model.saliency  # noqa: F401
    gc.collect()
    gc.freeze()


def serialize_ast_parse(module: ModuleType = ast, needed: bool = _SHARED_AST_DEPTH) -> bool:
    """Make ``module.parse`` build one tree at a time, process-wide, on the Pythons that need it.

    On those Pythons two threads building trees at once (Streamlit compiling a page for one
    session while the preload thread imports torch, whose ``inspect.signature`` and matplotlib's
    settings parse text) corrupt the shared count whenever the garbage collector lets the other
    thread run mid-tree, and one of them fails with "SystemError: AST constructor recursion
    depth mismatch": a page that shows "Script compilation error"
    (tests/app/test_preload.py reproduces it). Call it before the process starts threads.

    Args:
        module: the module whose ``parse`` is wrapped (``ast``).
        needed: whether this Python needs it.

    Returns:
        Whether ``module.parse`` is (now or already) serialized.
    """
    if not needed:
        return False
    with _AST_LOCK:
        if getattr(module.parse, "_one_at_a_time", False):
            return True
        module.parse = _one_at_a_time(module.parse)
    return True


def _one_at_a_time(parse: Callable) -> Callable:
    @functools.wraps(parse)
    def wrapper(*args, **kwargs):
        with _AST_LOCK:  # reentrant: a finalizer may parse while this thread builds a tree
            return parse(*args, **kwargs)
    wrapper._one_at_a_time = True  # type: ignore[attr-defined]
    return wrapper


def one_blas_thread() -> None:
    """Let numpy's BLAS compute on the calling thread.

    OpenBLAS keeps a worker per core spinning after every call: on 2 cores about 70 ms of a core
    per page, taken from the other sessions (bench/results/classroom_views_findings.md). The
    app's matrices are small; one thread per session is the parallelism that pays.
    """
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=1, user_api="blas")  # process-wide until changed (no ``with``)
    except Exception as exc:  # noqa: BLE001 - a speed setting: the app works without it
        print(f"numpy's BLAS threads were left as they are: {type(exc).__name__}: {exc}")


def slots_from_env(value: str | None, cores: int) -> int:
    """How many page runs may compute at once: ``value`` (``CNN_LENS_PAGE_SLOTS``) when it is a
    whole number from 1 to 64, else one per core (30 costly pages at once on 2 cores: p95
    1.38 s with 2 slots, 1.53 s with 3, bench/classroom_views.py)."""
    try:
        n = int(value or "")
    except ValueError:
        n = 0
    return n if 1 <= n <= 64 else max(1, cores)
