"""A class's codes, secrets and limits, and the checks on everything a student sends.

Streamlit-free. A class code is 6 characters from :data:`ALPHABET` (no 0/O, 1/I/L look-alikes),
drawn with :mod:`secrets`: 31^6, about 887 million codes, for at most a few live classes, so a
student cannot find another class by trying codes. The teacher's secret (32 random bytes) never
leaves the teacher's session and its link; the store keeps only its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

from viz import limits
from viz.inputs import urlstate

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0, O, 1, I, L: easy to read aloud and type
CODE_LENGTH = 6
SEND_GAP_S = 2.0  # one digit per student every 2 s
EXPIRY_S = 12 * 3600  # a class nobody touched for 12 h is gone
PIXELS = 28 * 28  # a gallery digit: 784 values 0..255
FOLLOWING_S = 15.0  # a student seen within this many seconds counts as "here"
# Seats belong to someone: a seat counts toward limits.CLASS_STUDENTS only while its page reports
# in (a student's page tells the store every ~5 s), so a seat whose browser left is free again
# within SEAT_FRESH_S. Rate limits are token buckets (burst, seconds per new token), per class.
SEAT_FRESH_S = 30.0
NEW_SEATS_PER_ADDRESS = (30, 1.0)  # a school behind one address: 60 seats in ~30 s
NEW_SEATS_PER_BROWSER = (3, 20.0)  # a browser (or tab) needs one seat; a reload keeps it
SENDS_PER_SEAT = (5, 6.0)  # besides SEND_GAP_S: at most ~10 digits a minute per seat
SENDS_PER_BROWSER = (8, 4.0)  # a browser holding several seats sends no faster
SHOWN_PER_SEAT = 3  # the gallery keeps each seat's 3 newest digits


class ClassError(ValueError):
    """Something about a class refused, with the words to show."""


def new_code() -> str:
    """A fresh class code (6 characters of :data:`ALPHABET`, from :mod:`secrets`)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def new_secret() -> str:
    """The teacher's secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What the store keeps of a secret."""
    return hashlib.sha256(str(secret).encode("utf-8", "replace")).hexdigest()


def same_hash(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two secret hashes (None never matches)."""
    return a is not None and b is not None and hmac.compare_digest(str(a), str(b))


def code(text: Any) -> str | None:
    """A typed or linked class code, normalised (upper case, spaces and dashes dropped), or None
    when it cannot be one. Bounded before any work: at most 32 characters are looked at."""
    if not isinstance(text, str) or len(text) > 32:
        return None
    cleaned = text.strip().upper().replace(" ", "").replace("-", "")
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


SEAT_CHARS = 16  # a student's seat: 16 hex digits, kept in the address bar


def new_seat() -> str:
    """A student's seat in a class (8 random bytes as hex): who counts once toward
    :data:`limits.CLASS_STUDENTS` and whose sends are spaced :data:`SEND_GAP_S` apart."""
    return secrets.token_hex(SEAT_CHARS // 2)


def seat(text: Any) -> str | None:
    """A seat from a link (16 hex digits, lower case), or None when it cannot be one."""
    if not isinstance(text, str) or len(text) != SEAT_CHARS:
        return None
    return text if all(ch in "0123456789abcdef" for ch in text) else None


def pixels(values: Any) -> bytes:
    """784 whole values 0..255 (a 28x28 digit: an array or a flat sequence) as 784 bytes;
    ValueError saying what was wrong otherwise. The size is checked before anything is copied."""
    if isinstance(values, (bytes, bytearray)):
        if len(values) != PIXELS:
            raise ClassError(f"a digit has {PIXELS} pixels, not {len(values)}: draw it again.")
        return bytes(values)
    if isinstance(values, np.ndarray):
        if values.size != PIXELS or values.ndim not in (1, 2) or values.dtype == object:
            raise ClassError(f"a digit is 28x28 numbers, not an array of shape {values.shape}: "
                             f"draw it again.")
        if values.dtype.kind not in "iuf":
            raise ClassError("a digit's pixels must be numbers 0..255: draw it again.")
        flat = values.reshape(-1)
    elif isinstance(values, Sequence) and not isinstance(values, str):
        if len(values) != PIXELS:
            raise ClassError(f"a digit has {PIXELS} pixels, not {len(values)}: draw it again.")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            raise ClassError("a digit's pixels must be numbers 0..255: draw it again.")
        flat = np.asarray(values, dtype=np.float64)
    else:
        raise ClassError("a digit must be 784 numbers 0..255: draw it again.")
    if not np.isfinite(flat).all() or (flat < 0).any() or (flat > 255).any() \
            or (flat != np.round(flat)).any():
        raise ClassError("a digit's pixels must be whole numbers 0..255: draw it again.")
    return flat.astype(np.uint8).tobytes()


def label(value: Any) -> int:
    """The digit a student meant: 0..9."""
    number = urlstate.whole(value, 10)
    if number is None:
        raise ClassError(f"say which digit you meant (0 to 9), not {urlstate.shown(value, 8)}.")
    return number


def nickname(value: Any) -> str:
    """An optional nickname: at most :data:`viz.limits.NICKNAME_CHARS` characters of plain text, on
    one line ('' when none). It is shown as text, never as markdown or HTML."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ClassError("a nickname is text.")
    if len(value) > limits.NICKNAME_CHARS:
        raise ClassError(f"a nickname has at most {limits.NICKNAME_CHARS} characters "
                         f"(this one has {len(value)}).")
    return urlstate.cut(value, limits.NICKNAME_CHARS).strip()


def digit_array(data: bytes) -> np.ndarray:
    """A stored digit's 784 bytes as a uint8 28x28 array."""
    return np.frombuffer(pixels(data), dtype=np.uint8).reshape(28, 28)
