"""Settings for many sessions in one server process: the torch side imported once, in the
background; numpy's BLAS on the calling thread; how many pages compute at once."""

from __future__ import annotations

import gc


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
