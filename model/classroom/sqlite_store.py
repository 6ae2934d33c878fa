"""The class store in one SQLite file (WAL: readers never wait for the writer), for every app
process of one machine. Each limited change is one ``BEGIN IMMEDIATE`` transaction.

The file is checked before each use: when it was deleted or replaced, the connection is opened
again on the path (a fresh file: classes are short-lived records), so no process keeps writing
to a file nobody else sees.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from model.classroom import rules
from model.classroom.rules import ClassError
from model.classroom.store import (
    ENDED,
    GAP,
    LOCKED,
    NEW_SEAT_SOON,
    SEND_SOON,
    ClassInfo,
    Digit,
    NotTeacher,
    Seat,
    Store,
    bound_key,
    check_state,
    full,
    not_seated,
    unknown,
)
from viz.limits import CLASS_GALLERY_DIGITS, CLASS_SEATS_KEPT, CLASS_STUDENTS

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY, secret TEXT NOT NULL, state TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL DEFAULT 0, ended INTEGER NOT NULL DEFAULT 0,
    locked INTEGER NOT NULL DEFAULT 0, approve INTEGER NOT NULL DEFAULT 0,
    touched REAL NOT NULL);
CREATE TABLE IF NOT EXISTS students (
    code TEXT NOT NULL, student TEXT NOT NULL, seen REAL NOT NULL,
    following INTEGER NOT NULL DEFAULT 1, sent REAL NOT NULL DEFAULT 0,
    browser TEXT NOT NULL DEFAULT '', PRIMARY KEY (code, student));
CREATE TABLE IF NOT EXISTS digits (
    id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL, label INTEGER NOT NULL,
    prediction INTEGER NOT NULL, nickname TEXT NOT NULL, pixels BLOB NOT NULL,
    student TEXT NOT NULL DEFAULT '', approved INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS digits_code ON digits (code, id);
CREATE TABLE IF NOT EXISTS buckets (code TEXT NOT NULL, key TEXT NOT NULL, tokens REAL NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (code, key));
"""
TABLES = ("classes", "students", "digits", "buckets")


class SqliteStore(Store):
    """Classes in one SQLite file; ``timeout``: how long a change waits for another writer."""

    FAULTS = (sqlite3.Error, OSError)

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                db.execute("BEGIN IMMEDIATE")
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    for table in TABLES:  # an older layout: its classes are hours old at most
                        db.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened again when the file was deleted or replaced."""
        db = getattr(self._local, "db", None)
        ident = getattr(self._local, "ident", None)
        try:
            st = os.stat(self.path)
            now_ident = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            now_ident = None
        if db is not None and now_ident != ident:
            db.close()
            db = self._local.db = None
        if db is None:
            db = self._connect()
            st = os.stat(self.path)
            self._local.db, self._local.ident = db, (st.st_dev, st.st_ino)
        return db

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")  # one writer at a time: the limits hold
            return self.db

        def __exit__(self, kind, *_: Any) -> None:
            if kind is None:
                try:
                    self.db.execute("COMMIT")
                    return
                except sqlite3.Error:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def _tx(self) -> _Tx:
        return self._Tx(self._db())

    # -- helpers -----------------------------------------------------------------------------

    def _live(self, db: sqlite3.Connection, code: str, now: float) -> tuple | None:
        row = db.execute("SELECT secret, state, version, ended, touched, locked, approve "
                         "FROM classes WHERE code = ?", (code,)).fetchone()
        if row is None or now - row[4] > rules.EXPIRY_S:
            return None
        return row

    def _open(self, db: sqlite3.Connection, code: str, now: float) -> tuple:
        """The class's row when a student may join it or send to it (live, not ended)."""
        row = self._live(db, code, now)
        if row is None:
            raise unknown(code)
        if row[3]:
            raise ClassError(ENDED.format(code=code))
        return row

    def _teacher(self, db: sqlite3.Connection, code: str, secret_hash: str, now: float) -> tuple:
        row = self._live(db, code, now)
        if row is None:
            raise unknown(code)
        if not rules.same_hash(row[0], secret_hash):
            raise NotTeacher()
        return row

    def _forget(self, db: sqlite3.Connection, now: float) -> None:
        old = [r[0] for r in db.execute("SELECT code FROM classes WHERE touched < ?",
                                        (now - rules.EXPIRY_S,))]
        for code in old:
            for table in TABLES:
                db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))  # noqa: S608

    def _fresh(self, db: sqlite3.Connection, code: str, now: float, but: str = "") -> int:
        return db.execute("SELECT COUNT(*) FROM students WHERE code = ? AND seen > ? AND "
                          "student != ?", (code, now - rules.SEAT_FRESH_S, but)).fetchone()[0]

    def _wait(self, db: sqlite3.Connection, code: str, key: str, limit: tuple[int, float],
              now: float) -> float:
        """Seconds until bucket ``key`` holds a token (0: it does now)."""
        row = db.execute("SELECT tokens, at FROM buckets WHERE code = ? AND key = ?",
                         (code, key)).fetchone()
        burst, per = limit
        tokens = burst if row is None else min(burst, row[0] + max(0.0, now - row[1]) / per)
        return 0.0 if tokens >= 1 else (1 - tokens) * per

    def _take(self, db: sqlite3.Connection, code: str, key: str, limit: tuple[int, float],
              now: float) -> None:
        row = db.execute("SELECT tokens, at FROM buckets WHERE code = ? AND key = ?",
                         (code, key)).fetchone()
        burst, per = limit
        tokens = burst if row is None else min(burst, row[0] + max(0.0, now - row[1]) / per)
        db.execute("INSERT OR REPLACE INTO buckets (code, key, tokens, at) VALUES (?, ?, ?, ?)",
                   (code, key, tokens - 1, now))

    def _touch(self, db: sqlite3.Connection, code: str, now: float) -> None:
        db.execute("UPDATE classes SET touched = ? WHERE code = ?", (now, code))

    # -- the class ---------------------------------------------------------------------------

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
        return None if row is None else ClassInfo(code, row[2], row[1], bool(row[3]),
                                                  bool(row[5]), bool(row[6]))

    def is_teacher(self, code: str, secret_hash: str, now: float) -> bool:
        row = self._live(self._db(), code, now)
        return row is not None and not row[3] and rules.same_hash(row[0], secret_hash)

    def publish(self, code: str, secret_hash: str, state: str, now: float) -> int:
        check_state(state)
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

    def options(self, code: str, secret_hash: str, now: float, locked: bool | None = None,
                approve: bool | None = None) -> None:
        with self._tx() as db:
            self._teacher(db, code, secret_hash, now)
            if locked is not None:
                db.execute("UPDATE classes SET locked = ? WHERE code = ?", (int(locked), code))
            if approve is not None:
                db.execute("UPDATE classes SET approve = ? WHERE code = ?", (int(approve), code))
            self._touch(db, code, now)

    # -- seats -------------------------------------------------------------------------------

    def join(self, code: str, student: str, now: float, browser: str = "",
             address: str = "") -> int:
        browser, address = bound_key(browser), bound_key(address)
        with self._tx() as db:
            row = self._open(db, code, now)
            known = db.execute("SELECT seen FROM students WHERE code = ? AND student = ?",
                               (code, student)).fetchone()
            fresh = self._fresh(db, code, now, but=student)
            if known is None or now - known[0] >= rules.SEAT_FRESH_S:
                if row[5] and known is None:
                    raise ClassError(LOCKED.format(code=code))
                if fresh >= CLASS_STUDENTS:
                    raise full(code)
            if known is None:
                limits = [(f"a:{address}", rules.NEW_SEATS_PER_ADDRESS, "address")] \
                    if address else []
                if browser:
                    limits.append((f"b:{browser}", rules.NEW_SEATS_PER_BROWSER, "browser"))
                for key, limit, what in limits:
                    wait = self._wait(db, code, key, limit, now)
                    if wait > 0:
                        raise ClassError(NEW_SEAT_SOON.format(what=what, wait=max(1.0, wait)))
                for key, limit, _ in limits:
                    self._take(db, code, key, limit, now)
                self._make_room(db, code, now)
                db.execute("INSERT INTO students (code, student, seen, browser) "
                           "VALUES (?, ?, ?, ?)", (code, student, now, browser))
            else:
                db.execute("UPDATE students SET seen = ? WHERE code = ? AND student = ?",
                           (now, code, student))
            self._touch(db, code, now)
            return fresh + 1

    def _make_room(self, db: sqlite3.Connection, code: str, now: float) -> None:
        """At most CLASS_SEATS_KEPT seat records: the stalest (and their digits) go."""
        kept = db.execute("SELECT COUNT(*) FROM students WHERE code = ?", (code,)).fetchone()[0]
        if kept < CLASS_SEATS_KEPT:
            return
        old = db.execute("SELECT student FROM students WHERE code = ? AND seen <= ? "
                         "ORDER BY seen LIMIT ?", (code, now - rules.SEAT_FRESH_S,
                                                   kept - CLASS_SEATS_KEPT + 1)).fetchall()
        for (student,) in old:
            self._drop_seat(db, code, student)

    def _drop_seat(self, db: sqlite3.Connection, code: str, student: str) -> None:
        db.execute("DELETE FROM students WHERE code = ? AND student = ?", (code, student))
        db.execute("DELETE FROM digits WHERE code = ? AND student = ?", (code, student))

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        # A stale seat takes its place again only while the class has room.
        with self._tx() as db:
            db.execute(
                "UPDATE students SET seen = ?, following = ? WHERE code = ? AND student = ? "
                "AND (seen > ? OR (SELECT COUNT(*) FROM students WHERE code = ? AND seen > ?) "
                "< ?)", (now, int(following), code, student, now - rules.SEAT_FRESH_S, code,
                         now - rules.SEAT_FRESH_S, CLASS_STUDENTS))

    def counts(self, code: str, now: float) -> tuple[int, int]:
        row = self._db().execute(
            "SELECT COALESCE(SUM(seen > ?), 0), COALESCE(SUM(following AND seen > ?), 0) "
            "FROM students WHERE code = ?", (now - rules.SEAT_FRESH_S, now - rules.FOLLOWING_S,
                                             code)).fetchone()
        return int(row[0]), int(row[1])

    def seats(self, code: str, secret_hash: str, now: float) -> list[Seat]:
        db = self._db()
        self._teacher(db, code, secret_hash, now)
        rows = db.execute(
            "SELECT s.student, s.seen, s.following, (SELECT COUNT(*) FROM digits d WHERE "
            "d.code = s.code AND d.student = s.student) FROM students s WHERE s.code = ? "
            "ORDER BY s.seen DESC LIMIT ?", (code, CLASS_SEATS_KEPT)).fetchall()
        return [Seat(r[0], float(r[1]), bool(r[2]), now - r[1] < rules.SEAT_FRESH_S, int(r[3]))
                for r in rows]

    def remove_seat(self, code: str, secret_hash: str, student: str, now: float) -> None:
        with self._tx() as db:
            self._teacher(db, code, secret_hash, now)
            self._drop_seat(db, code, student)
            self._touch(db, code, now)

    # -- the gallery -------------------------------------------------------------------------

    def send(self, code: str, student: str, pixels: bytes, label: int, prediction: int,
             nickname: str, now: float, browser: str = "") -> int:
        pixels = rules.pixels(pixels)
        label, prediction = rules.label(label), rules.label(prediction)
        nickname, browser = rules.nickname(nickname), bound_key(browser)
        with self._tx() as db:
            row = self._open(db, code, now)
            who = db.execute("SELECT sent, seen FROM students WHERE code = ? AND student = ?",
                             (code, student)).fetchone()
            if who is None:
                raise not_seated(code)
            if now - who[1] >= rules.SEAT_FRESH_S and \
                    self._fresh(db, code, now) >= CLASS_STUDENTS:
                raise full(code)
            if now - who[0] < rules.SEND_GAP_S:
                raise ClassError(GAP)
            limits = [(f"s:{student}", rules.SENDS_PER_SEAT, "seat")]
            if browser:
                limits.append((f"sb:{browser}", rules.SENDS_PER_BROWSER, "browser"))
            for key, limit, what in limits:
                wait = self._wait(db, code, key, limit, now)
                if wait > 0:
                    raise ClassError(SEND_SOON.format(what=what, wait=max(1.0, wait)))
            for key, limit, _ in limits:
                self._take(db, code, key, limit, now)
            mine = [r[0] for r in db.execute("SELECT id FROM digits WHERE code = ? AND "
                                             "student = ? ORDER BY id", (code, student))]
            for old in mine[: max(0, len(mine) - rules.SHOWN_PER_SEAT + 1)]:
                db.execute("DELETE FROM digits WHERE id = ?", (old,))
            n = db.execute("SELECT COUNT(*) FROM digits WHERE code = ?", (code,)).fetchone()[0]
            if n >= CLASS_GALLERY_DIGITS:
                db.execute("DELETE FROM digits WHERE id IN (SELECT id FROM digits WHERE code = ? "
                           "ORDER BY id LIMIT ?)", (code, n - CLASS_GALLERY_DIGITS + 1))
            cur = db.execute("INSERT INTO digits (code, label, prediction, nickname, pixels, "
                             "student, approved) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (code, label, prediction, nickname, pixels, student,
                              0 if row[6] else 1))
            db.execute("UPDATE students SET sent = ?, seen = ? WHERE code = ? AND student = ?",
                       (now, now, code, student))
            self._touch(db, code, now)
            return int(cur.lastrowid)

    def digits(self, code: str, waiting: bool = False) -> list[Digit]:
        rows = self._db().execute(
            "SELECT id, label, prediction, nickname, pixels, student, approved FROM digits "
            "WHERE code = ? AND approved = ? ORDER BY id LIMIT ?",
            (code, 0 if waiting else 1, CLASS_GALLERY_DIGITS)).fetchall()
        return [Digit(int(r[0]), int(r[1]), int(r[2]), str(r[3]), bytes(r[4]), str(r[5]),
                      bool(r[6])) for r in rows]

    def clear(self, code: str, secret_hash: str, now: float) -> None:
        with self._tx() as db:
            self._teacher(db, code, secret_hash, now)
            db.execute("DELETE FROM digits WHERE code = ?", (code,))
            self._touch(db, code, now)

    def remove_digit(self, code: str, secret_hash: str, digit: int, now: float) -> None:
        with self._tx() as db:
            self._teacher(db, code, secret_hash, now)
            db.execute("DELETE FROM digits WHERE code = ? AND id = ?", (code, int(digit)))
            self._touch(db, code, now)

    def approve(self, code: str, secret_hash: str, digit: int | None, now: float) -> None:
        with self._tx() as db:
            self._teacher(db, code, secret_hash, now)
            if digit is None:
                db.execute("UPDATE digits SET approved = 1 WHERE code = ?", (code,))
            else:
                db.execute("UPDATE digits SET approved = 1 WHERE code = ? AND id = ?",
                           (code, int(digit)))
            self._touch(db, code, now)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
