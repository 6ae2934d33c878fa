"""SmoothGrad's noise: standard normal numbers from a seed, the same in Python and in the browser.

The server's SmoothGrad (``model.saliency.smoothgrad``) and the browser's (``attributeNet`` in
``ui/components/js/attribute.js``) draw their noise here, so one seed gives one map on both. Draw
``i`` of seed ``s`` is murmur3's 32-bit finaliser of a Weyl sequence (SplitMix32: counter-based,
so numpy draws them all at once); normal pair ``j`` takes draws ``4j .. 4j+3`` as two 53-bit
uniforms, then Box-Muller, with a logarithm, sine and cosine made of ``+ - * /`` and ``sqrt``
only: both languages round every step alike, so the numbers agree to the bit.

numpy only.
"""

from __future__ import annotations

import numpy as np

GOLDEN = 0x9E3779B9  # the Weyl step (2**32 / golden ratio)
LN2 = 0.6931471805599453
HALF_PI = 1.5707963267948966
TWO53 = 9007199254740992.0
MOST = 1 << 26  # normal numbers one call may draw (64M: 512 MB of float64)


def _mix32(z: np.ndarray) -> np.ndarray:
    """murmur3's 32-bit finaliser, elementwise on uint32 (products wrap as in Math.imul)."""
    z = (z ^ (z >> np.uint32(16))) * np.uint32(0x85EBCA6B)
    z = (z ^ (z >> np.uint32(13))) * np.uint32(0xC2B2AE35)
    return z ^ (z >> np.uint32(16))


def _log_unit(u: np.ndarray) -> np.ndarray:
    """ln u for 0 < u <= 1: u = m * 2**e with m in [sqrt(1/2), sqrt(2)), then the atanh series."""
    m, e = np.frexp(u)  # m in [0.5, 1), exact
    low = m < 0.7071067811865476
    m = np.where(low, m * 2, m)
    e = np.where(low, e - 1, e).astype(np.float64)
    s = (m - 1) / (m + 1)
    s2 = s * s
    p = np.full_like(s, 1 / 23)
    for k in range(10, -1, -1):
        p = p * s2 + 1 / (2 * k + 1)
    return 2 * s * p + e * LN2


def _sin_cos_quarter(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sin t, cos t) for 0 <= t < pi/2 (nested Taylor series, 14 terms)."""
    t2 = t * t
    ps = np.ones_like(t)
    pc = np.ones_like(t)
    for k in range(14, 0, -1):
        ps = 1 - t2 / ((2 * k) * (2 * k + 1)) * ps
        pc = 1 - t2 / ((2 * k - 1) * (2 * k)) * pc
    return t * ps, pc


def normals(seed: int, count: int) -> np.ndarray:
    """``count`` standard normal numbers (float64) of ``seed`` (any int; taken mod 2**32).

    Raises ``ValueError`` for a count below 0 or over :data:`MOST`.
    """
    if not 0 <= count <= MOST:
        raise ValueError(f"count must be 0..{MOST:,}, got {count:,}")
    pairs = (count + 1) // 2
    key = _mix32(np.array([int(seed) % (1 << 32)], dtype=np.uint32))[0]
    idx = np.arange(1, 4 * pairs + 1, dtype=np.uint32)  # draw i uses counter i + 1
    with np.errstate(over="ignore"):
        draws = _mix32(key + idx * np.uint32(GOLDEN)).reshape(pairs, 4)
    a, b, c, d = (draws[:, i].astype(np.float64) for i in range(4))
    u1 = (np.floor(a / 32) * 67108864 + np.floor(b / 64) + 1) / TWO53  # (0, 1]
    u2 = (np.floor(c / 32) * 67108864 + np.floor(d / 64)) / TWO53  # [0, 1)
    r = np.sqrt(-2 * _log_unit(u1))
    q4 = u2 * 4
    q = np.floor(q4)
    sn, cs = _sin_cos_quarter((q4 - q) * HALF_PI)
    qi = q.astype(np.int64)
    cos = np.choose(qi, [cs, -sn, -cs, sn])  # turned by q quarter turns
    sin = np.choose(qi, [sn, cs, -sn, -cs])
    out = np.empty(2 * pairs)
    out[0::2] = r * cos
    out[1::2] = r * sin
    return out[:count]
