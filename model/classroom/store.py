"""Where a class lives while it runs: one small interface, two backends, one guard.

SQLite (``classes.sqlite`` in the runs folder: the app processes of one machine) by default, or
Redis with ``CNN_LENS_REDIS_URL`` (several machines). Every limit of :mod:`model.classroom.rules`
is enforced inside the store, atomically, so two processes cannot together pass one.
:func:`open_store` wraps the backend in :class:`Guarded`, so a store that fails slows a class
down instead of breaking its pages (what each side sees: docs/classroom.md). Streamlit-free.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model.classroom import rules
from model.classroom.rules import ClassError
from viz import limits

REDIS_ENV = "CNN_LENS_REDIS_URL"
DB_NAME = "classes.sqlite"


@dataclass(frozen=True)
class ClassInfo:
    """A class as a follower sees it."""

    code: str
    version: int  # bumped by every change the teacher publishes
    state: str  # the teacher's view, JSON
    ended: bool
    locked: bool = False  # no new seats
    approve: bool = False  # digits wait for the teacher's approval before they are shown


@dataclass(frozen=True)
class Digit:
    """One gallery digit."""

    id: int
    label: int  # the digit the student meant
    prediction: int  # what the class's network read
    nickname: str
    pixels: bytes  # 784 values 0..255
    seat: str = ""  # who sent it (the teacher's seat list names it)
    approved: bool = True


@dataclass(frozen=True)
class Seat:
    """One student's seat, as the teacher sees it."""

    seat: str
    seen: float  # when its page last reported in (``time.time()``)
    following: bool
    fresh: bool  # counts toward limits.CLASS_STUDENTS (its page is open)
    digits: int  # digits it has in the gallery (shown or waiting)


class NotTeacher(ClassError):
    """A change only the class's teacher may make, asked without the teacher's secret."""

    def __init__(self) -> None:
        super().__init__("only the browser that started this class can change what it shows.")


class UnknownClass(ClassError):
    """No such class (never started, ended long ago, or expired)."""


class StoreDown(ClassError):
    """The store did not answer (locked, missing, read-only or full file; Redis down)."""

    def __init__(self) -> None:
        super().__init__("the class's records cannot be reached just now (the server's store "
                         "is busy or down). Nothing is lost: try again in a moment; the class "
                         "resumes when the store is back.")


def unknown(code: str) -> UnknownClass:
    return UnknownClass(f"there is no class {code} (it ended, or nobody used it for 12 hours). "
                        f"Check the code with your teacher.")


def full(code: str) -> ClassError:
    return ClassError(f"class {code} is full ({limits.CLASS_STUDENTS} students with the class "
                      f"open). A seat frees up when a student closes the class's page.")


ENDED = "class {code} has ended."
LOCKED = "class {code} takes no new students: your teacher locked it."
NEW_SEAT_SOON = ("too many new seats from this {what} just now: wait {wait:.0f} s and open the "
                 "class link again (a reload keeps your seat).")
SEND_SOON = "too many digits from this {what} just now: wait {wait:.0f} s and send it again."
GAP = f"one digit every {rules.SEND_GAP_S:.0f} s: wait a moment and send it again."


def not_seated(code: str) -> ClassError:
    return ClassError(f"you have no seat in class {code} (you left, or your teacher removed "
                      f"your seat): open the class link again to join.")


def check_state(state: str) -> None:
    if not isinstance(state, str) or len(state) > limits.CLASS_STATE_CHARS:
        raise ClassError("the view is too large to share with the class.")


def bound_key(text: Any, limit: int = 128) -> str:
    """A browser or address key as the store keeps it: text, at most ``limit`` characters."""
    return text[:limit] if isinstance(text, str) else ""


class Store:
    """The interface both backends implement (``now``: seconds, ``time.time()``).

    ``browser`` and ``address`` name who asks (see ``ui/classroom/seats.py``); '' when unknown.
    """

    FAULTS: tuple[type[BaseException], ...] = ()  # the backend's "store not answering" errors

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

    def join(self, code: str, student: str, now: float, browser: str = "",
             address: str = "") -> int:
        """Seat ``student`` (again: no new seat); returns how many seats are taken. ClassError
        when the class is full, locked, ended or unknown, or new seats come too fast from this
        browser or address."""
        raise NotImplementedError

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        """A seated student's page is still open (following the teacher or not)."""
        raise NotImplementedError

    def counts(self, code: str, now: float) -> tuple[int, int]:
        """(seats taken now, following now)."""
        raise NotImplementedError

    def send(self, code: str, student: str, pixels: bytes, label: int, prediction: int,
             nickname: str, now: float, browser: str = "") -> int:
        """Add a digit to the gallery (the seat's oldest goes beyond rules.SHOWN_PER_SEAT);
        returns its id. ClassError when the student has no seat or sends too fast."""
        raise NotImplementedError

    def digits(self, code: str, waiting: bool = False) -> list[Digit]:
        """The gallery shown (or, ``waiting``, the digits waiting for approval), oldest first."""
        raise NotImplementedError

    def clear(self, code: str, secret_hash: str, now: float) -> None:
        raise NotImplementedError

    def seats(self, code: str, secret_hash: str, now: float) -> list[Seat]:
        """The class's seats, freshest first (the teacher's)."""
        raise NotImplementedError

    def remove_seat(self, code: str, secret_hash: str, student: str, now: float) -> None:
        """The seat and its digits go; it cannot come back by itself (it can join again)."""
        raise NotImplementedError

    def remove_digit(self, code: str, secret_hash: str, digit: int, now: float) -> None:
        raise NotImplementedError

    def approve(self, code: str, secret_hash: str, digit: int | None, now: float) -> None:
        """Show a waiting digit (None: every waiting digit)."""
        raise NotImplementedError

    def options(self, code: str, secret_hash: str, now: float, locked: bool | None = None,
                approve: bool | None = None) -> None:
        """Lock the class (no new seats) and/or hold digits for approval."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of connections (tests)."""


# ---------------------------------------------------------------------------------- the guard

# Who asks, for join and send when the caller does not say: the app registers one function
# returning (browser, address) for the current request (``ui/classroom/seats.py``).
WHO: list[Callable[[], tuple[str, str]]] = []


def _who() -> tuple[str, str]:
    for provider in WHO:
        try:
            return provider()
        except Exception:  # noqa: BLE001 - outside a request: nobody in particular
            return "", ""
    return "", ""


_READS = {"info": None, "counts": (0, 0), "digits": [], "is_teacher": False, "seats": []}
_QUEUED = ("create", "publish", "end", "clear")  # the teacher's: written when the store is back


def _key(name: str, args: tuple) -> tuple:
    """A read's cache key: its arguments but the time."""
    return (name, *(a for a in args if not isinstance(a, float)))


class Guarded(Store):
    """A backend whose faults become words: reads answer what they last read, the teacher's
    start, view, end and clear wait (in order) and are written when the store answers again,
    anything else raises :class:`StoreDown`. ``down_since`` says since when it failed."""

    def __init__(self, backend: Store) -> None:
        self.backend = backend
        self.lock = threading.Lock()
        self.last: dict[tuple, Any] = {}
        self.queued: list[tuple[str, tuple]] = []
        self.down_since: float | None = None
        self.reason = ""

    def _fault(self, exc: BaseException) -> None:
        with self.lock:
            if self.down_since is None:
                self.down_since = time.time()
            self.reason = type(exc).__name__

    def _flush(self) -> bool:
        """Write what waited; False when the store still fails."""
        while True:
            with self.lock:
                if not self.queued:
                    return True
                name, args = self.queued[0]
            try:
                getattr(self.backend, name)(*args)
            except self.backend.FAULTS as exc:
                self._fault(exc)
                return False
            except ClassError:
                pass  # ended or taken meanwhile: nothing left to write
            with self.lock:
                self.queued.pop(0)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.queued and not self._flush() and name not in _READS:
            return self._failed(name, args)  # (reads may still work: a full disk, a lock)
        try:
            value = getattr(self.backend, name)(*args, **kwargs)
        except self.backend.FAULTS as exc:
            self._fault(exc)
            return self._failed(name, args)
        with self.lock:
            if name not in _READS or not self.queued:
                self.down_since, self.reason = None, ""
            if name in _READS:
                if len(self.last) > 2000:
                    self.last.clear()
                self.last[_key(name, args)] = value
        return value

    def _failed(self, name: str, args: tuple) -> Any:
        if name in _READS:
            with self.lock:
                return self.last.get(_key(name, args), _READS[name])
        if name == "seen":
            return None  # the next report, a few seconds on, counts
        if name in _QUEUED:
            with self.lock:
                if name == "publish":  # only the newest view matters
                    self.queued = [q for q in self.queued
                                   if not (q[0] == "publish" and q[1][0] == args[0])]
                if len(self.queued) >= limits.CLASS_QUEUED_WRITES:
                    raise StoreDown()
                self.queued.append((name, args))
            return True if name == "create" else -1 if name == "publish" else None
        raise StoreDown()

    @property
    def FAULTS(self) -> tuple:  # noqa: N802 - the interface's name
        return self.backend.FAULTS

    def create(self, code: str, secret_hash: str, now: float) -> bool:
        return self._call("create", code, secret_hash, now)

    def info(self, code: str, now: float) -> ClassInfo | None:
        return self._call("info", code, now)

    def publish(self, code: str, secret_hash: str, state: str, now: float) -> int:
        check_state(state)
        return self._call("publish", code, secret_hash, state, now)

    def is_teacher(self, code: str, secret_hash: str, now: float) -> bool:
        return self._call("is_teacher", code, secret_hash, now)

    def end(self, code: str, secret_hash: str, now: float) -> None:
        self._call("end", code, secret_hash, now)

    def join(self, code: str, student: str, now: float, browser: str | None = None,
             address: str | None = None) -> int:
        if browser is None or address is None:
            who = _who()
            browser = who[0] if browser is None else browser
            address = who[1] if address is None else address
        return self._call("join", code, student, now, browser, address)

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        self._call("seen", code, student, following, now)

    def counts(self, code: str, now: float) -> tuple[int, int]:
        return self._call("counts", code, now)

    def send(self, code: str, student: str, pixels: bytes, label: int, prediction: int,
             nickname: str, now: float, browser: str | None = None) -> int:
        browser = _who()[0] if browser is None else browser
        return self._call("send", code, student, pixels, label, prediction, nickname, now,
                          browser)

    def digits(self, code: str, waiting: bool = False) -> list[Digit]:
        return self._call("digits", code, waiting)

    def clear(self, code: str, secret_hash: str, now: float) -> None:
        self._call("clear", code, secret_hash, now)

    def seats(self, code: str, secret_hash: str, now: float) -> list[Seat]:
        return self._call("seats", code, secret_hash, now)

    def remove_seat(self, code: str, secret_hash: str, student: str, now: float) -> None:
        self._call("remove_seat", code, secret_hash, student, now)

    def remove_digit(self, code: str, secret_hash: str, digit: int, now: float) -> None:
        self._call("remove_digit", code, secret_hash, digit, now)

    def approve(self, code: str, secret_hash: str, digit: int | None, now: float) -> None:
        self._call("approve", code, secret_hash, digit, now)

    def options(self, code: str, secret_hash: str, now: float, locked: bool | None = None,
                approve: bool | None = None) -> None:
        self._call("options", code, secret_hash, now, locked=locked, approve=approve)

    def close(self) -> None:
        self.backend.close()


def now() -> float:
    return time.time()
