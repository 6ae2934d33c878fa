"""Which store a class lives in: Redis when ``CNN_LENS_REDIS_URL`` is set (app processes on
several machines), else SQLite in the runs folder (one machine); either behind the fault guard."""

from __future__ import annotations

import os
from pathlib import Path

from model.classroom.store import DB_NAME, REDIS_ENV, Guarded


def open_store(runs: Path) -> Guarded:
    """The class store for this process.

    Args:
        runs: the runs folder (SQLite's ``classes.sqlite`` lives there).
    Returns:
        The backend the environment names, wrapped so a failing store never raises to a page.
    """
    url = os.environ.get(REDIS_ENV, "").strip()
    if url:
        from model.classroom.redis_store import RedisStore
        return Guarded(RedisStore(url))
    from model.classroom.sqlite_store import SqliteStore
    return Guarded(SqliteStore(Path(runs) / DB_NAME))
