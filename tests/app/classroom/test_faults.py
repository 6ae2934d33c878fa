"""The class's store failing mid-class: a locked, deleted, read-only or full SQLite file, Redis
down or restarted, a class expiring while followed. Everyone gets words (StoreDown), never a
traceback, and the class resumes when the store is back."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from model.classroom import rules
from model.classroom.redis_store import RedisStore
from model.classroom.sqlite_store import SqliteStore
from model.classroom.store import Guarded, StoreDown
from tests.app.classroom.test_store import DIGIT, SECRET, T0, _free_port, redis_server

CODE = "FLT234"
SEAT = "f" * 16
NEXT = '{"layer": "conv2", "drawing": "' + "A" * 20_000 + '"}'  # new pages: a full disk shows


def _started(g: Guarded) -> None:
    assert g.create(CODE, SECRET, T0)
    g.publish(CODE, SECRET, '{"layer": "conv1"}', T0)
    g.join(CODE, SEAT, T0, browser="b", address="a")
    g.info(CODE, T0)
    g.digits(CODE)


def _while_down(g: Guarded, t: float) -> None:
    """What teacher and students do while the store fails: words, no traceback."""
    assert g.info(CODE, t).state == '{"layer": "conv1"}'  # the last answer
    g.seen(CODE, SEAT, True, t)  # a heartbeat: skipped
    assert g.publish(CODE, SECRET, NEXT, t) == -1  # waits
    with pytest.raises(StoreDown, match="cannot be reached"):
        g.join(CODE, "e" * 16, t, browser="c", address="d")
    with pytest.raises(StoreDown, match="try again"):
        g.send(CODE, SEAT, DIGIT, 1, 1, "", t, browser="b")
    assert g.down_since is not None


def _after(g: Guarded, t: float) -> None:
    info = g.info(CODE, t)
    assert info.state == NEXT and not info.ended  # the waiting view went out
    assert g.down_since is None and not g.queued
    assert g.send(CODE, SEAT, DIGIT, 1, 1, "", t, browser="b") > 0


def _lock(path: Path):
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return lambda: (other.execute("ROLLBACK"), other.close())


def _read_only(g: Guarded):
    g.backend._db().execute("PRAGMA query_only = ON")  # as a file the process cannot write
    return lambda: g.backend._db().execute("PRAGMA query_only = OFF")


def _disk_full(g: Guarded):
    db = g.backend._db()
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")  # not one page more: a full disk
    return lambda: db.execute("PRAGMA max_page_count = 1073741823")


@pytest.mark.parametrize("fault", ["locked", "read-only", "disk full"])
def test_sqlite_faults_give_words_and_the_class_resumes(tmp_path: Path, fault: str) -> None:
    g = Guarded(SqliteStore(tmp_path / "classes.sqlite", timeout=0.2))
    _started(g)
    g.send(CODE, SEAT, DIGIT, 7, 7, "", T0 + 1, browser="b")
    undo = {"locked": lambda: _lock(tmp_path / "classes.sqlite"),
            "read-only": lambda: _read_only(g), "disk full": lambda: _disk_full(g)}[fault]()
    _while_down(g, T0 + 5)
    if fault == "disk full":  # a digit is the largest write: it fails whole, nothing half-kept
        assert [d.label for d in g.digits(CODE)] == [7]
    undo()
    _after(g, T0 + 10)
    assert [d.label for d in g.digits(CODE)] == [7, 1]
    g.close()


def test_a_deleted_sqlite_file_is_noticed(tmp_path: Path) -> None:
    """Deleted under a running class: the store opens the path again (not the deleted file
    nobody else sees); the class's records went with the file, so its followers read that it
    ended and the teacher is told, in words."""
    path = tmp_path / "classes.sqlite"
    g = Guarded(SqliteStore(path, timeout=0.2))
    _started(g)
    other = Guarded(SqliteStore(path, timeout=0.2))  # another app process
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    assert g.info(CODE, T0 + 1) is None and other.info(CODE, T0 + 1) is None
    with pytest.raises(rules.ClassError, match="there is no class"):
        g.publish(CODE, SECRET, "{}", T0 + 2)
    assert g.create("NEW234", SECRET, T0 + 3)  # the store works on, one file for both
    assert other.info("NEW234", T0 + 3) is not None and path.exists()


def test_a_store_whose_folder_cannot_be_made_gives_words(tmp_path: Path) -> None:
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs folder should be")
    g = Guarded(SqliteStore(blocker / "classes.sqlite", timeout=0.2))
    assert g.info(CODE, T0) is None
    with pytest.raises(StoreDown):
        g.join(CODE, SEAT, T0)
    assert g.create(CODE, SECRET, T0)  # the teacher's start waits
    blocker.unlink()
    assert g.info(CODE, T0 + 1) is not None  # ... and is written when the store is back


@pytest.mark.parametrize("fault", ["down", "restarted"])
def test_redis_down_or_restarted_mid_class(tmp_path: Path, fault: str) -> None:
    port = _free_port()
    with redis_server(tmp_path, port, keep=True) as url:
        g = Guarded(RedisStore(url))
        _started(g)
        g.send(CODE, SEAT, DIGIT, 7, 7, "", T0 + 1, browser="b")
        if fault == "restarted":
            g.backend.client.execute_command("BGREWRITEAOF")
            time.sleep(0.5)
    if fault == "down":
        _while_down(g, T0 + 5)
    with redis_server(tmp_path, port, keep=True):  # back on the same port, with its append-only file
        if fault == "restarted":
            g.publish(CODE, SECRET, NEXT, T0 + 5)  # a stale socket: waits
        _after(g, T0 + 10)
        assert [d.label for d in g.digits(CODE)] == [7, 1]
        g.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_an_expired_class_tells_its_followers_it_ended(tmp_path: Path, backend: str) -> None:
    if backend == "sqlite":
        g = Guarded(SqliteStore(tmp_path / "c.sqlite"))
        _started(g)
        later = T0 + rules.EXPIRY_S + 1
    else:
        ctx = redis_server(tmp_path, keep=True)
        url = ctx.__enter__()
        g = Guarded(RedisStore(url))
        _started(g)
        for key in g.backend.client.keys(f"c:{CODE}*"):
            g.backend.client.pexpire(key, 1)  # 12 h, shortened
        time.sleep(0.05)
        later = T0 + 1
    try:
        assert g.info(CODE, later) is None  # "Class ... has ended" on every follower's bar
        g.seen(CODE, SEAT, True, later)
        with pytest.raises(rules.ClassError, match="there is no class"):
            g.publish(CODE, SECRET, "{}", later)
        with pytest.raises(rules.ClassError, match="there is no class"):
            g.send(CODE, SEAT, DIGIT, 1, 1, "", later)
    finally:
        if backend == "redis":
            ctx.__exit__(None, None, None)
