"""The blocked CPU kernels (directions a block at a time) against the per-point kernels.

The per-point kernels of rstref._kernels.sph are what the GPU runs, with the direction
computed point by point; the CPU drivers take the directions of a block of points in one
vectorised loop and redo a block point by point only when one of its points needs it.
Both must give the same numbers, and bad points anywhere in any block must be refused.
"""

import numpy as np
import pytest

from rstref._kernels import sph as K
from rstref._kernels.sph_point import BLOCK, count_bad_rows, count_nonfinite
from rstref.harmonics import SphericalHarmonics


def _awkward_points(n, seed):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(n, 3)) * np.exp(rng.uniform(-3, 3, size=(n, 1)))
    # awkward points in the middle of the second and third blocks, not at their start
    k = BLOCK + 17
    xyz[k:k + 6] = [[0, 0, 0], [0, 0, 1], [0, 0, -2], [1e-9, -1e-9, 1],
                    [1e-300, 0, 2e-300], [3e200, -1e200, 2e200]]
    if n > 2 * BLOCK + 5:
        xyz[2 * BLOCK + 5] = [1e250, 1e250, -1e250]
    return xyz


def _per_point(sh, xyz):
    axes, l_max, solid, coef = sh.kernel_arguments()
    q = np.empty((l_max + 1, l_max + 5))
    cs = np.empty((4, l_max + 1))
    n = xyz.shape[0]
    Y = np.empty((n, sh.size))
    Yg = np.empty((n, sh.size))
    dY = np.empty((n, 3, sh.size))
    for i in range(n):
        K.sph_values_point(xyz, i, axes, l_max, solid, coef, q, cs, Y)
        K.sph_gradients_point(xyz, i, axes, l_max, solid, coef, q, cs, Yg, dY)
    return Y, Yg, dY


@pytest.mark.parametrize("convention", ["standard", "e3nn"])
@pytest.mark.parametrize("solid", [False, True])
@pytest.mark.parametrize("l_max", [0, 1, 2, 8, 9, 16, 17])
def test_blocked_kernels_equal_the_per_point_kernels(convention, solid, l_max):
    xyz = _awkward_points(3 * BLOCK + 40, 3)
    sh = SphericalHarmonics(l_max, convention=convention, solid=solid)
    Y, Yg, dY = _per_point(sh, xyz)
    np.testing.assert_array_equal(sh.compute(xyz), Y)
    got_Y, got_dY = sh.compute_with_gradients(xyz)
    np.testing.assert_array_equal(got_Y, Yg)
    np.testing.assert_array_equal(got_dY, dY)
    # a range that starts inside a block (as the threaded chunks do) gives the same rows
    np.testing.assert_array_equal(sh.compute(xyz[BLOCK + 10:]), Y[BLOCK + 10:])


@pytest.mark.parametrize("l_max", [1, 2, 12, 17])
def test_zero_vector_inside_a_block_keeps_y00_and_zeros(l_max):
    xyz = _awkward_points(2 * BLOCK, 4)
    k = BLOCK + 17  # the zero vector
    Y, dY = SphericalHarmonics(l_max).compute_with_gradients(xyz)
    assert Y[k, 0] == SphericalHarmonics(0).compute(xyz[:1])[0, 0]
    assert np.all(Y[k, 1:] == 0.0) and np.all(dY[k] == 0.0)
    assert np.all(np.isfinite(Y)) and np.all(np.isfinite(dY))


@pytest.mark.parametrize("l_max", [0, 1, 3, 9, 12, 17])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("solid", [False, True])
def test_nonfinite_points_in_any_block_are_refused(l_max, bad, solid):
    sh = SphericalHarmonics(l_max, solid=solid)
    for row, col in [(BLOCK - 1, 0), (BLOCK, 1), (3 * BLOCK + 39, 2)]:
        xyz = _awkward_points(3 * BLOCK + 40, 5)
        xyz[row, col] = bad
        with pytest.raises(ValueError, match="xyz contains NaN or infinite"):
            sh.compute(xyz)
        with pytest.raises(ValueError, match="xyz contains NaN or infinite"):
            sh.compute_with_gradients(xyz)


@pytest.mark.parametrize("l_max", [0, 1, 12])
def test_subnormal_rows_in_a_later_block_are_refused_for_gradients(l_max):
    xyz = _awkward_points(3 * BLOCK, 6)
    xyz[2 * BLOCK + 3] = [1e-310, -3e-320, 0.0]
    sh = SphericalHarmonics(l_max)
    assert np.all(np.isfinite(sh.compute(xyz)))
    with pytest.raises(ValueError, match=rf"rows \[{2 * BLOCK + 3}\]"):
        sh.compute_with_gradients(xyz)


def test_vectorised_counts_match_numpy():
    rng = np.random.default_rng(7)
    xyz = rng.normal(size=(1000, 3))
    xyz[[3, 500]] = [[1e-310, 0.0, -1e-320], [0.0, 5e-324, 0.0]]
    xyz[[10, 999]] = [[np.nan, 1.0, 1.0], [1.0, 1.0, -np.inf]]
    xyz[20] = 0.0
    finite = np.all(np.isfinite(xyz), axis=1)
    big = np.max(np.abs(xyz), axis=1)
    tiny = finite & (big > 0) & (big < np.finfo(float).tiny)
    assert count_bad_rows(xyz, 0, 1000) == (int((~finite).sum()), int(tiny.sum()))
    assert count_bad_rows(xyz, 11, 999) == (0, 1)
    assert count_nonfinite(xyz, 0, 1000) == 2 and count_nonfinite(xyz, 11, 999) == 0


def _general_hessians(sh, xyz):
    from rstref.harmonics import _hessians_range

    n = xyz.shape[0]
    out = (np.empty((n, sh.size)), np.empty((n, 3, sh.size)), np.empty((n, 3, 3, sh.size)))
    _hessians_range(xyz, 0, n, *sh.kernel_arguments(), *out)
    return out


@pytest.mark.parametrize("normalization", ["integral", "component", "norm"])
@pytest.mark.parametrize("convention", ["standard", "e3nn"])
@pytest.mark.parametrize("solid", [False, True])
def test_low_l_hessian_kernels_equal_the_general_kernel_bit_for_bit(
        normalization, convention, solid):
    from rstref._kernels.sph_low import L_HESS

    xyz = _awkward_points(3 * BLOCK + 40, 11)
    xyz[BLOCK + 30] = [-0.0, 0.0, -0.0]
    xyz[2 * BLOCK + 6] = [1e-160, 1e-160, -1e-160]  # Hessians overflow to +-inf, never NaN
    for l_max in range(L_HESS + 2):
        sh = SphericalHarmonics(l_max, normalization, convention, solid)
        want = _general_hessians(sh, xyz)
        got = sh.compute_with_hessians(xyz)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.tobytes() == w.tobytes()  # zeros' signs too
        assert not np.any(np.isnan(got[2]))


@pytest.mark.parametrize("l_max", [0, 1, 2])
def test_subnormal_rows_in_a_later_block_are_refused_for_hessians(l_max):
    xyz = _awkward_points(3 * BLOCK, 12)
    xyz[2 * BLOCK + 3] = [1e-310, -3e-320, 0.0]
    with pytest.raises(ValueError, match=rf"rows \[{2 * BLOCK + 3}\]"):
        SphericalHarmonics(l_max).compute_with_hessians(xyz)
    got = SphericalHarmonics(l_max, solid=True).compute_with_hessians(xyz)
    assert all(np.all(np.isfinite(a[2 * BLOCK + 3])) for a in got)


def test_low_l_hessians_threaded_path_equals_serial_path():
    import numba

    xyz = np.random.default_rng(13).normal(size=(5000, 3))
    if numba.config.NUMBA_NUM_THREADS > 1:
        numba.set_num_threads(2)
    for l_max in (0, 1, 2):
        sh = SphericalHarmonics(l_max)
        got = sh.compute_with_hessians(xyz)
        for i in (0, 2500, 4999):
            one = sh.compute_with_hessians(xyz[i:i + 1])
            for g, o in zip(got, one):
                np.testing.assert_array_equal(o[0], g[i])
        bad = xyz.copy()
        bad[4321, 1] = np.nan
        with pytest.raises(ValueError, match="xyz contains NaN"):
            sh.compute_with_hessians(bad)
