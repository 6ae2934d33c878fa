"""The class store (SQLite and Redis) and the checks on what a student sends."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from model.classroom import rules
from model.classroom.redis_store import RedisStore
from model.classroom.rules import ClassError
from model.classroom.sqlite_store import SqliteStore
from model.classroom.store import NotTeacher, Store
from viz import limits

T0 = 1_800_000_000.0
SECRET = rules.secret_hash("the teacher's secret")
DIGIT = bytes(range(256)) * 3 + bytes(16)  # 784 bytes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server(folder: Path, port: int | None = None, keep: bool = False) -> Iterator[str]:
    """``redis-server`` on 127.0.0.1 with its files in ``folder``; its URL. ``port``: a given
    one (a restart on the same port); ``keep``: an append-only file, so a restart keeps the
    data."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is missing: install Debian's redis-server "
                    "(apt-get install redis-server) to test the Redis store")
    pytest.importorskip("redis", reason="the redis Python package is not installed")
    port = port or _free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir",
                             str(folder), "--save", "", "--appendonly", "yes" if keep else "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "classes.sqlite")
        yield s
        s.close()
        return
    with redis_server(tmp_path) as url:
        s = RedisStore(url)
        yield s
        s.close()


def test_a_class_from_start_to_end(store: Store) -> None:
    assert store.create("ABC234", SECRET, T0)
    assert not store.create("ABC234", rules.secret_hash("another"), T0)  # the code is taken
    info = store.info("ABC234", T0 + 1)
    assert (info.version, info.state, info.ended) == (0, "{}", False)
    assert store.publish("ABC234", SECRET, '{"layer": "conv2"}', T0 + 2) == 1
    assert store.publish("ABC234", SECRET, '{"layer": "relu2"}', T0 + 3) == 2
    info = store.info("ABC234", T0 + 4)
    assert (info.version, info.state) == (2, '{"layer": "relu2"}')
    assert store.join("ABC234", "s1", T0) == 1
    assert store.join("ABC234", "s1", T0) == 1  # the same student again
    assert store.join("ABC234", "s2", T0) == 2
    store.seen("ABC234", "s2", False, T0 + 5)
    assert store.counts("ABC234", T0 + 6) == (2, 1)  # s1 follows; s2 explores on their own
    assert store.counts("ABC234", T0 + 100) == (0, 0)  # nobody seen lately: the seats are free
    first = store.send("ABC234", "s1", DIGIT, 7, 1, "Ada", T0 + 10)
    second = store.send("ABC234", "s2", DIGIT, 3, 3, "", T0 + 10)
    got = store.digits("ABC234")
    assert [(d.id, d.label, d.prediction, d.nickname) for d in got] == [
        (first, 7, 1, "Ada"), (second, 3, 3, "")]
    assert got[0].pixels == DIGIT and second > first
    store.clear("ABC234", SECRET, T0 + 11)
    assert store.digits("ABC234") == []
    store.end("ABC234", SECRET, T0 + 12)
    info = store.info("ABC234", T0 + 13)
    assert info.ended and info.version == 3
    with pytest.raises(ClassError, match="has ended"):
        store.join("ABC234", "s3", T0 + 14)


def test_only_the_teacher_changes_the_class(store: Store) -> None:
    store.create("XYZ789", SECRET, T0)
    store.join("XYZ789", "s1", T0)
    for forged in (rules.secret_hash("guess"), "", rules.secret_hash("")):
        with pytest.raises(NotTeacher):
            store.publish("XYZ789", forged, '{"layer": "conv1"}', T0 + 1)
        with pytest.raises(NotTeacher):
            store.clear("XYZ789", forged, T0 + 1)
        with pytest.raises(NotTeacher):
            store.end("XYZ789", forged, T0 + 1)
    assert store.is_teacher("XYZ789", SECRET, T0 + 1)
    assert not store.is_teacher("XYZ789", rules.secret_hash("guess"), T0 + 1)
    assert not store.is_teacher("NOPE22", SECRET, T0 + 1)
    info = store.info("XYZ789", T0 + 2)
    assert (info.version, info.state, info.ended) == (0, "{}", False)


def test_unknown_code_is_named(store: Store) -> None:
    assert store.info("NOPE22", T0) is None
    with pytest.raises(ClassError, match="there is no class NOPE22"):
        store.join("NOPE22", "s1", T0)
    with pytest.raises(ClassError, match="there is no class"):
        store.publish("NOPE22", SECRET, "{}", T0)


def test_limits(store: Store) -> None:
    store.create("LIM234", SECRET, T0)
    for i in range(limits.CLASS_STUDENTS):
        store.join("LIM234", f"s{i}", T0)
    with pytest.raises(ClassError, match="full \\(60 students"):
        store.join("LIM234", "one too many", T0)
    assert store.join("LIM234", "s0", T0) == limits.CLASS_STUDENTS  # a seated student may rejoin
    store.send("LIM234", "s0", DIGIT, 1, 1, "", T0 + 10)
    with pytest.raises(ClassError, match="one digit every 2 s"):
        store.send("LIM234", "s0", DIGIT, 1, 1, "", T0 + 11.5)
    store.send("LIM234", "s0", DIGIT, 1, 1, "", T0 + 12)
    with pytest.raises(ClassError, match="no seat in class LIM234"):
        store.send("LIM234", "stranger", DIGIT, 1, 1, "", T0 + 20)
    with pytest.raises(ClassError, match="too large"):
        store.publish("LIM234", SECRET, "x" * (limits.CLASS_STATE_CHARS + 1), T0)


def test_a_class_expires_after_12_hours_without_use(store: Store, request) -> None:
    store.create("OLD234", SECRET, T0)
    if isinstance(store, RedisStore):  # Redis forgets by itself: the keys carry a 12 h TTL
        ttl = store.client.ttl("c:OLD234")
        assert rules.EXPIRY_S - 60 < ttl <= rules.EXPIRY_S
        return
    store.publish("OLD234", SECRET, "{}", T0 + 3600)
    assert store.info("OLD234", T0 + 3600 + rules.EXPIRY_S - 1) is not None
    assert store.info("OLD234", T0 + 3600 + rules.EXPIRY_S + 1) is None
    with pytest.raises(ClassError, match="there is no class"):
        store.join("OLD234", "late", T0 + 3600 + rules.EXPIRY_S + 1)
    # A new class sweeps the expired ones out of the file.
    assert store.create("NEW234", SECRET, T0 + 3600 + rules.EXPIRY_S + 2)
    assert store.create("OLD234", SECRET, T0 + 3600 + rules.EXPIRY_S + 2)


def test_two_connections_share_one_sqlite_file(tmp_path: Path) -> None:
    a, b = SqliteStore(tmp_path / "c.sqlite"), SqliteStore(tmp_path / "c.sqlite")
    a.create("TWO234", SECRET, T0)
    a.publish("TWO234", SECRET, '{"view": "saliency"}', T0)
    assert b.info("TWO234", T0).state == '{"view": "saliency"}'
    assert b.join("TWO234", "s1", T0) == 1
    assert a.counts("TWO234", T0) == (1, 1)
    mode = a._db().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


# ---------------------------------------------------------------------------------- the rules

def test_codes_are_readable_and_random() -> None:
    codes = {rules.new_code() for _ in range(200)}
    assert len(codes) == 200
    for c in codes:
        assert len(c) == 6 and not set(c) & set("0O1IL")
    assert rules.code(" abc-234 ") == "ABC234"
    for bad in ("ABC23", "ABC2345", "ABCO23", "ABC1I2", "", None, 42, "A" * 10_000):
        assert rules.code(bad) is None, bad


def test_digits_are_checked_before_they_are_stored() -> None:
    img = np.arange(784).reshape(28, 28) % 256
    assert rules.pixels(img) == bytes(img.reshape(-1).astype(np.uint8))
    assert rules.pixels(list(range(256)) * 3 + [0] * 16) == DIGIT
    bad = [np.zeros(785), np.zeros((28, 29)), np.full(784, 256), np.full(784, -1),
           np.full(784, 0.5), np.full(784, np.nan), [0] * 783, [True] * 784, ["1"] * 784,
           "x" * 784, b"\0" * 783, None, {"a": 1}, np.zeros(784, dtype=object)]
    for value in bad:
        with pytest.raises(ClassError):
            rules.pixels(value)
    assert rules.label("7") == 7 and rules.label(0) == 0
    for value in (10, -1, "seven", 2.5, True, None):
        with pytest.raises(ClassError):
            rules.label(value)
    assert rules.nickname("  Ada  ") == "Ada"
    assert rules.nickname("a\nb<script>") == "a b<script>"  # shown as text, on one line
    with pytest.raises(ClassError, match="at most 20"):
        rules.nickname("x" * 21)
    with pytest.raises(ClassError):
        rules.nickname(["not", "text"])
