"""SmoothGrad's shared noise generator (viz.inputs.noise): its own logarithm, sine and cosine are
the true ones to the last bits, its numbers are standard normal, and a seed always gives the same
numbers (the browser's equality is tests/app/browser/test_backward_browser.py)."""

from __future__ import annotations

import numpy as np
import pytest

from viz.inputs import noise


def test_its_log_sine_and_cosine_are_the_true_ones() -> None:
    u = np.concatenate([np.linspace(2.0**-53, 1.0, 100_001), [2.0**-53, 0.5, 0.75, 1.0]])
    np.testing.assert_allclose(noise._log_unit(u), np.log(u), rtol=4e-16, atol=4e-16)
    t = np.linspace(0.0, noise.HALF_PI, 100_001, endpoint=False)
    sn, cs = noise._sin_cos_quarter(t)
    np.testing.assert_allclose(sn, np.sin(t), rtol=0, atol=4e-16)
    np.testing.assert_allclose(cs, np.cos(t), rtol=0, atol=4e-16)


def test_numbers_are_standard_normal_and_the_seeds_own() -> None:
    z = noise.normals(3, 400_001)
    assert z.shape == (400_001,) and z.dtype == np.float64
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs((np.abs(z) < 1).mean() - 0.6827) < 0.005  # the normal's share within one sd
    assert abs((np.abs(z) > 3).mean() - 0.0027) < 0.0008
    assert np.array_equal(noise.normals(3, 1000), z[:1000])  # a prefix of the longer draw
    assert not np.array_equal(noise.normals(4, 1000), z[:1000])
    assert np.array_equal(noise.normals(-1, 10), noise.normals(2**32 - 1, 10))


def test_a_count_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        noise.normals(0, noise.MOST + 1)
    with pytest.raises(ValueError, match="count"):
        noise.normals(0, -1)
    assert noise.normals(0, 0).shape == (0,)
