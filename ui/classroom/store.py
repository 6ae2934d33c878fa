"""Where a class lives while it runs: one small interface, two backends.

- :class:`SqliteStore` (the default): ``classes.sqlite`` in the runs folder, in WAL mode, so any
  number of app processes on one machine share the classes (``deploy/``'s processes behind one
  proxy);
- :class:`RedisStore`: with ``CNN_LENS_REDIS_URL`` set (``redis://host:6379/0``), for app
  processes on several machines behind one proxy.

Both keep, per class: the teacher's secret's hash, the teacher's view (JSON) and its version
number, who joined (a random id per student session, never a name) and when each was last seen,
and the gallery (784 bytes, the digit meant, the network's reading and an optional nickname per
digit). Every limit of :mod:`ui.classroom.rules` is enforced here, atomically (one SQLite
transaction, one Redis script), so two processes cannot together pass one; a class untouched for
12 h is gone. Streamlit-free: :func:`open_store` picks the backend from the environment.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ui.classroom import rules
from ui.classroom.rules import ClassError

REDIS_ENV = "CNN_LENS_REDIS_URL"
DB_NAME = "classes.sqlite"


@dataclass(frozen=True)
class ClassInfo:
    """A class as a follower sees it."""

    code: str
    version: int  # bumped by every change the teacher publishes
    state: str  # the teacher's view, JSON
    ended: bool


@dataclass(frozen=True)
class Digit:
    """One gallery digit."""

    id: int
    label: int  # the digit the student meant
    prediction: int  # what the class's network read
    nickname: str
    pixels: bytes  # 784 values 0..255


class NotTeacher(ClassError):
    """A change only the class's teacher may make, asked without the teacher's secret."""

    def __init__(self) -> None:
        super().__init__("only the browser that started this class can change what it shows.")


def _unknown(code: str) -> ClassError:
    return ClassError(f"there is no class {code} (it ended, or nobody used it for 12 hours). "
                      f"Check the code with your teacher.")


class Store:
    """The interface both backends implement (``now``: seconds, ``time.time()``)."""

    def create(self, code: str, secret_hash: str, now: float) -> bool:
        """Start class ``code``; False when that code is taken (draw another)."""
        raise NotImplementedError

    def info(self, code: str, now: float) -> ClassInfo | None:
        """The class, or None when there is none (never started, or expired)."""
        raise NotImplementedError

    def publish(self, code: str, secret_hash: str, state: str, now: float) -> int:
        """The teacher's view becomes ``state``; returns its version. :class:`NotTeacher`
        without the right secret."""
        raise NotImplementedError

    def is_teacher(self, code: str, secret_hash: str, now: float) -> bool:
        """Whether ``secret_hash`` is the running class ``code``'s teacher's."""
        raise NotImplementedError

    def end(self, code: str, secret_hash: str, now: float) -> None:
        raise NotImplementedError

    def join(self, code: str, student: str, now: float) -> int:
        """Count ``student`` in (again: no change); returns how many joined. ClassError when
        the class is full, ended or unknown."""
        raise NotImplementedError

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        """A joined student is still here, following the teacher or not."""
        raise NotImplementedError

    def counts(self, code: str, now: float) -> tuple[int, int]:
        """(joined, following now)."""
        raise NotImplementedError

    def send(self, code: str, student: str, pixels: bytes, label: int, prediction: int,
             nickname: str, now: float) -> int:
        """Add a digit to the gallery; returns its id. ClassError when the student has not
        joined, sent one less than 2 s ago, or the gallery is full."""
        raise NotImplementedError

    def digits(self, code: str) -> list[Digit]:
        """The gallery, oldest first."""
        raise NotImplementedError

    def clear(self, code: str, secret_hash: str, now: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of connections (tests)."""


def _check(state: str) -> None:
    if not isinstance(state, str) or len(state) > rules.MAX_STATE_CHARS:
        raise ClassError("the view is too large to share with the class.")


# ---------------------------------------------------------------------------------------------
# SQLite: one machine, any number of processes
# ---------------------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY, secret TEXT NOT NULL, state TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL DEFAULT 0, ended INTEGER NOT NULL DEFAULT 0,
    touched REAL NOT NULL);
CREATE TABLE IF NOT EXISTS students (
    code TEXT NOT NULL, student TEXT NOT NULL, seen REAL NOT NULL,
    following INTEGER NOT NULL DEFAULT 1, sent REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (code, student));
CREATE TABLE IF NOT EXISTS digits (
    id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL, label INTEGER NOT NULL,
    prediction INTEGER NOT NULL, nickname TEXT NOT NULL, pixels BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS digits_code ON digits (code, id);
"""


class SqliteStore(Store):
    """Classes in one SQLite file (WAL: readers never wait for the writer)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")  # one writer at a time: the limits hold
            return self.db

        def __exit__(self, kind, *_: Any) -> None:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _tx(self) -> _Tx:
        return self._Tx(self._db())

    def _live(self, db: sqlite3.Connection, code: str, now: float) -> tuple | None:
        row = db.execute("SELECT secret, state, version, ended, touched FROM classes "
                         "WHERE code = ?", (code,)).fetchone()
        if row is None or now - row[4] > rules.EXPIRY_S:
            return None
        return row

    def _open(self, db: sqlite3.Connection, code: str, now: float) -> tuple:
        """The class's row when a student may join it or send to it (live, not ended)."""
        row = self._live(db, code, now)
        if row is None:
            raise _unknown(code)
        if row[3]:
            raise ClassError(f"class {code} has ended.")
        return row

    def _forget(self, db: sqlite3.Connection, now: float) -> None:
        old = [r[0] for r in db.execute("SELECT code FROM classes WHERE touched < ?",
                                        (now - rules.EXPIRY_S,))]
        for code in old:
            for table in ("classes", "students", "digits"):
                db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))  # noqa: S608

    def create(self, code: str, secret_hash: str, now: float) -> bool:
        with self._tx() as db:
            self._forget(db, now)
            if db.execute("SELECT 1 FROM classes WHERE code = ?", (code,)).fetchone():
                return False
            db.execute("INSERT INTO classes (code, secret, touched) VALUES (?, ?, ?)",
                       (code, secret_hash, now))
            return True

    def info(self, code: str, now: float) -> ClassInfo | None:
        row = self._live(self._db(), code, now)
        return None if row is None else ClassInfo(code, row[2], row[1], bool(row[3]))

    def _teacher(self, db: sqlite3.Connection, code: str, secret_hash: str, now: float) -> tuple:
        row = self._live(db, code, now)
        if row is None:
            raise _unknown(code)
        if not rules.same_hash(row[0], secret_hash):
            raise NotTeacher()
        return row

    def is_teacher(self, code: str, secret_hash: str, now: float) -> bool:
        row = self._live(self._db(), code, now)
        return row is not None and not row[3] and rules.same_hash(row[0], secret_hash)

    def publish(self, code: str, secret_hash: str, state: str, now: float) -> int:
        _check(state)
        with self._tx() as db:
            row = self._teacher(db, code, secret_hash, now)
            version = row[2] + 1
            db.execute("UPDATE classes SET state = ?, version = ?, touched = ? WHERE code = ?",
                       (state, version, now, code))
            return version

    def end(self, code: str, secret_hash: str, now: float) -> None:
        with self._tx() as db:
            row = self._teacher(db, code, secret_hash, now)
            db.execute("UPDATE classes SET ended = 1, version = ?, touched = ? WHERE code = ?",
                       (row[2] + 1, now, code))

    def join(self, code: str, student: str, now: float) -> int:
        with self._tx() as db:
            self._open(db, code, now)
            known = db.execute("SELECT 1 FROM students WHERE code = ? AND student = ?",
                               (code, student)).fetchone()
            count = db.execute("SELECT COUNT(*) FROM students WHERE code = ?",
                               (code,)).fetchone()[0]
            if not known:
                if count >= rules.MAX_STUDENTS:
                    raise ClassError(f"class {code} is full ({rules.MAX_STUDENTS} students).")
                db.execute("INSERT INTO students (code, student, seen) VALUES (?, ?, ?)",
                           (code, student, now))
                count += 1
            db.execute("UPDATE classes SET touched = ? WHERE code = ?", (now, code))
            return count

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        self._db().execute("UPDATE students SET seen = ?, following = ? WHERE code = ? AND "
                           "student = ?", (now, int(following), code, student))

    def counts(self, code: str, now: float) -> tuple[int, int]:
        row = self._db().execute(
            "SELECT COUNT(*), COALESCE(SUM(following AND seen > ?), 0) FROM students "
            "WHERE code = ?", (now - rules.FOLLOWING_S, code)).fetchone()
        return int(row[0]), int(row[1])

    def send(self, code: str, student: str, pixels: bytes, label: int, prediction: int,
             nickname: str, now: float) -> int:
        pixels = rules.pixels(pixels)
        label, prediction = rules.label(label), rules.label(prediction)
        nickname = rules.nickname(nickname)
        with self._tx() as db:
            self._open(db, code, now)
            who = db.execute("SELECT sent FROM students WHERE code = ? AND student = ?",
                             (code, student)).fetchone()
            if who is None:
                raise ClassError(f"join class {code} before sending a digit.")
            if now - who[0] < rules.SEND_GAP_S:
                raise ClassError(f"one digit every {rules.SEND_GAP_S:.0f} s: wait a moment and "
                                 f"send it again.")
            n = db.execute("SELECT COUNT(*) FROM digits WHERE code = ?", (code,)).fetchone()[0]
            if n >= rules.MAX_GALLERY:
                raise ClassError(f"the class gallery is full ({rules.MAX_GALLERY} digits): ask "
                                 f"your teacher to clear it.")
            cur = db.execute("INSERT INTO digits (code, label, prediction, nickname, pixels) "
                             "VALUES (?, ?, ?, ?, ?)", (code, label, prediction, nickname,
                                                        pixels))
            db.execute("UPDATE students SET sent = ?, seen = ? WHERE code = ? AND student = ?",
                       (now, now, code, student))
            db.execute("UPDATE classes SET touched = ? WHERE code = ?", (now, code))
            return int(cur.lastrowid)

    def digits(self, code: str) -> list[Digit]:
        rows = self._db().execute("SELECT id, label, prediction, nickname, pixels FROM digits "
                                  "WHERE code = ? ORDER BY id LIMIT ?",
                                  (code, rules.MAX_GALLERY)).fetchall()
        return [Digit(int(r[0]), int(r[1]), int(r[2]), str(r[3]), bytes(r[4])) for r in rows]

    def clear(self, code: str, secret_hash: str, now: float) -> None:
        with self._tx() as db:
            self._teacher(db, code, secret_hash, now)
            db.execute("DELETE FROM digits WHERE code = ?", (code,))
            db.execute("UPDATE classes SET touched = ? WHERE code = ?", (now, code))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


# ---------------------------------------------------------------------------------------------
# Redis: several machines
# ---------------------------------------------------------------------------------------------

# Every change is one Lua script: Redis runs it whole, so limits hold across processes. Keys of a
# class: c:CODE (hash: secret, state, version, ended), c:CODE:s (hash: student -> "seen following
# sent"), c:CODE:d (list of digits, JSON); all expire EXPIRY_S after the last touch.
_TOUCH = """
local function touch(code, ttl)
  for _, k in ipairs({'c:' .. code, 'c:' .. code .. ':s', 'c:' .. code .. ':d',
                      'c:' .. code .. ':n'}) do
    if redis.call('EXISTS', k) == 1 then redis.call('EXPIRE', k, ttl) end
  end
end
local function teacher(code, secret)
  local s = redis.call('HGET', 'c:' .. code, 'secret')
  if not s then return 'unknown' end
  if s ~= secret then return 'not teacher' end
  return nil
end
"""
_SCRIPTS = {
    "publish": _TOUCH + """
local bad = teacher(ARGV[1], ARGV[2]); if bad then return {err = bad} end
redis.call('HSET', 'c:' .. ARGV[1], 'state', ARGV[3])
local v = redis.call('HINCRBY', 'c:' .. ARGV[1], 'version', 1)
touch(ARGV[1], tonumber(ARGV[4])); return v""",
    "end": _TOUCH + """
local bad = teacher(ARGV[1], ARGV[2]); if bad then return {err = bad} end
redis.call('HSET', 'c:' .. ARGV[1], 'ended', 1)
redis.call('HINCRBY', 'c:' .. ARGV[1], 'version', 1)
touch(ARGV[1], tonumber(ARGV[3])); return 1""",
    "clear": _TOUCH + """
local bad = teacher(ARGV[1], ARGV[2]); if bad then return {err = bad} end
redis.call('DEL', 'c:' .. ARGV[1] .. ':d'); touch(ARGV[1], tonumber(ARGV[3])); return 1""",
    "join": _TOUCH + """
local c = 'c:' .. ARGV[1]
if redis.call('EXISTS', c) == 0 then return {err = 'unknown'} end
if redis.call('HGET', c, 'ended') == '1' then return {err = 'ended'} end
local n = redis.call('HLEN', c .. ':s')
if redis.call('HEXISTS', c .. ':s', ARGV[2]) == 0 then
  if n >= tonumber(ARGV[4]) then return {err = 'full'} end
  redis.call('HSET', c .. ':s', ARGV[2], ARGV[3] .. ' 1 0'); n = n + 1
end
touch(ARGV[1], tonumber(ARGV[5])); return n""",
    "send": _TOUCH + """
local c = 'c:' .. ARGV[1]
if redis.call('EXISTS', c) == 0 then return {err = 'unknown'} end
if redis.call('HGET', c, 'ended') == '1' then return {err = 'ended'} end
local who = redis.call('HGET', c .. ':s', ARGV[2])
if not who then return {err = 'not joined'} end
local sent = tonumber(string.match(who, '%S+ %S+ (%S+)'))
if tonumber(ARGV[3]) - sent < tonumber(ARGV[5]) then return {err = 'too soon'} end
if redis.call('LLEN', c .. ':d') >= tonumber(ARGV[6]) then return {err = 'gallery full'} end
local id = redis.call('INCR', c .. ':n')
redis.call('RPUSH', c .. ':d', string.format('%d ', id) .. ARGV[4])
local f = string.match(who, '%S+ (%S+) %S+')
redis.call('HSET', c .. ':s', ARGV[2], ARGV[3] .. ' ' .. f .. ' ' .. ARGV[3])
touch(ARGV[1], tonumber(ARGV[7])); return id""",
    "seen": """
local k = 'c:' .. ARGV[1] .. ':s'
local who = redis.call('HGET', k, ARGV[2]); if not who then return 0 end
local sent = string.match(who, '%S+ %S+ (%S+)')
redis.call('HSET', k, ARGV[2], ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. sent); return 1""",
}


class RedisStore(Store):
    """Classes in Redis (``redis://host:port/db``)."""

    def __init__(self, url: str) -> None:
        import redis  # only where Redis is configured
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._scripts = {name: self.client.register_script(text)
                         for name, text in _SCRIPTS.items()}
        self._ttl = int(rules.EXPIRY_S)

    def _run(self, name: str, code: str, *args: Any) -> Any:
        import redis
        try:
            return self._scripts[name](args=[code, *args])
        except redis.exceptions.ResponseError as exc:
            reason = str(exc)
            if "not teacher" in reason:
                raise NotTeacher() from None
            if "unknown" in reason:
                raise _unknown(code) from None
            if "ended" in reason:
                raise ClassError(f"class {code} has ended.") from None
            if "full" in reason and name == "join":
                raise ClassError(f"class {code} is full ({rules.MAX_STUDENTS} students).") \
                    from None
            if "gallery full" in reason:
                raise ClassError(f"the class gallery is full ({rules.MAX_GALLERY} digits): ask "
                                 f"your teacher to clear it.") from None
            if "too soon" in reason:
                raise ClassError(f"one digit every {rules.SEND_GAP_S:.0f} s: wait a moment and "
                                 f"send it again.") from None
            if "not joined" in reason:
                raise ClassError(f"join class {code} before sending a digit.") from None
            raise

    def create(self, code: str, secret_hash: str, now: float) -> bool:
        key = f"c:{code}"
        with self.client.pipeline() as pipe:
            pipe.hsetnx(key, "secret", secret_hash)
            pipe.hsetnx(key, "state", "{}")
            pipe.hsetnx(key, "version", 0)
            pipe.hsetnx(key, "ended", 0)
            pipe.expire(key, self._ttl)
            made = pipe.execute()[0]
        return bool(made)

    def info(self, code: str, now: float) -> ClassInfo | None:
        values = self.client.hmget(f"c:{code}", "state", "version", "ended")
        if values[1] is None:
            return None
        return ClassInfo(code, int(values[1]), values[0].decode("utf-8"), values[2] == b"1")

    def is_teacher(self, code: str, secret_hash: str, now: float) -> bool:
        secret, ended = self.client.hmget(f"c:{code}", "secret", "ended")
        return (secret is not None and ended != b"1"
                and rules.same_hash(secret.decode(), secret_hash))

    def publish(self, code: str, secret_hash: str, state: str, now: float) -> int:
        _check(state)
        return int(self._run("publish", code, secret_hash, state, self._ttl))

    def end(self, code: str, secret_hash: str, now: float) -> None:
        self._run("end", code, secret_hash, self._ttl)

    def join(self, code: str, student: str, now: float) -> int:
        return int(self._run("join", code, student, repr(now), rules.MAX_STUDENTS, self._ttl))

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        self._run("seen", code, student, repr(now), int(bool(following)))

    def counts(self, code: str, now: float) -> tuple[int, int]:
        rows = self.client.hvals(f"c:{code}:s")
        here = 0
        for row in rows:
            seen, following, _ = row.decode().split()
            here += following == "1" and now - float(seen) < rules.FOLLOWING_S
        return len(rows), here

    def send(self, code: str, student: str, pixels: bytes, label: int, prediction: int,
             nickname: str, now: float) -> int:
        record = json.dumps({"label": rules.label(label), "prediction": rules.label(prediction),
                             "nickname": rules.nickname(nickname),
                             "pixels": rules.pixels(pixels).hex()})
        return int(self._run("send", code, student, repr(now), record, rules.SEND_GAP_S,
                             rules.MAX_GALLERY, self._ttl))

    def digits(self, code: str) -> list[Digit]:
        out = []
        for raw in self.client.lrange(f"c:{code}:d", 0, rules.MAX_GALLERY - 1):
            ident, _, text = raw.decode().partition(" ")
            d = json.loads(text)
            out.append(Digit(int(ident), int(d["label"]), int(d["prediction"]),
                             str(d["nickname"]), bytes.fromhex(d["pixels"])))
        return out

    def clear(self, code: str, secret_hash: str, now: float) -> None:
        self._run("clear", code, secret_hash, self._ttl)

    def close(self) -> None:
        self.client.close()


def open_store(runs: Path) -> Store:
    """Redis when ``CNN_LENS_REDIS_URL`` is set, else SQLite in the runs folder ``runs``."""
    url = os.environ.get(REDIS_ENV, "").strip()
    if url:
        return RedisStore(url)
    return SqliteStore(Path(runs) / DB_NAME)


def now() -> float:
    return time.time()
