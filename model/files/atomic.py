"""Atomic file writes: write a temp file in the target's folder, then rename it into place.

A reader never sees a half-written file, and a failure leaves the old file (if any) untouched.
The temp file is ``.<name>.<8 random characters>.part`` beside the target; a process killed
mid-write leaves one behind, which :func:`sweep_partials` removes (the app does at start-up).

A folder that cannot be written (read-only, no permission, full disk) raises
:class:`NotWritable`: an ``OSError`` whose message names the folder and the fix.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from model.store import PART_NAME, PART_SUFFIX, write_problem

# The errors that say "this folder cannot take a file", whatever the file.
WRITE_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR})


class NotWritable(OSError):
    """A file could not be written because of its folder; ``str()`` names the folder and the fix
    (``filename`` is the file)."""

    def __init__(self, err: int, message: str, filename: str):
        super().__init__(err, message, filename)
        self.message = message

    def __str__(self) -> str:
        return self.message


def not_writable(exc: OSError, path: str | os.PathLike[str] | None = None) -> NotWritable | None:
    """``exc`` as a :class:`NotWritable` about ``path`` (default: the exception's file) when it
    is a folder problem (read-only, no permission, full, not a folder); else None."""
    if isinstance(exc, NotWritable):
        return exc
    if exc.errno not in WRITE_ERRNOS:
        return None
    target = path if path is not None else exc.filename
    if target is None:
        return None
    return NotWritable(exc.errno, write_problem(exc.errno, Path(target)), str(target))


@contextmanager
def atomic_path(path: str | os.PathLike[str], mode: int = 0o644) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on normal exit rename it onto ``path``, else delete it.

    Raises :class:`NotWritable` when the folder cannot take the file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX,
                                        dir=path.parent)
    except OSError as exc:
        raise (not_writable(exc, path) or exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        # A full disk while writing (no file named) or a refused rename: about this folder. An
        # error about some other file (a source being read) is not.
        if exc.filename is None or Path(exc.filename) in (tmp, path, path.parent):
            problem = not_writable(exc, path)
            if problem is not None:
                raise problem from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sweep_partials(folder: str | os.PathLike[str], older_than: float,
                   keep: Callable[[Path], bool] = lambda p: False) -> list[Path]:
    """Delete the temp files :func:`atomic_path` left under ``folder`` (a crash mid-write):
    files named exactly as it names them, last modified over ``older_than`` seconds ago (0:
    any age), except those ``keep`` keeps. Symlinks are never followed nor deleted; files that
    vanish or cannot be deleted are skipped. Returns the deleted paths."""
    root = Path(folder)
    if not root.is_dir():
        return []
    now = time.time()
    removed: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for name in filenames:
            if not PART_NAME.match(name):
                continue
            p = here / name
            try:
                st = p.lstat()
                if not p.is_file() or p.is_symlink() or now - st.st_mtime < older_than or keep(p):
                    continue
                p.unlink()
            except OSError:
                continue
            removed.append(p)
    return removed
