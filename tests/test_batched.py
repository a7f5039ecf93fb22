"""Ragged batches of environments (rstref.batched, CPU path) against one-environment calls.

Oracle: :meth:`RadialSphericalTensor.with_peaks_at_with_hessians` and
:class:`PowerSpectrum` called environment by environment (their own tests check them
against quadrature, finite differences and e3nn's definitions).  The batched driver
shares their per-atom kernels, so agreement is to round-off of the scale.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rstref
from rstref import batched
from rstref.tolerances import identity_atol

SPECIAL = [(0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, -0.7), (0.0, 0.0, 2.0), (2.5, 0.0, 0.0)]


def _tensor(n_max, l_max, primitive, convention):
    basis = rstref.OrthonormalRadialBasis(n_max, 2.0, primitive)
    return rstref.RadialSphericalTensor(n_max, basis, l_max, convention=convention)


@st.composite
def ragged_batches(draw, max_envs=4, max_neighbours=5):
    """(positions, values, offsets): distinct neighbours per environment, some empty,
    with atoms at the centre, on the z axis, at r_cut = 2 and beyond it."""
    sizes = draw(st.lists(st.integers(0, max_neighbours), min_size=0, max_size=max_envs))
    coord = st.floats(-2.2, 2.2, allow_nan=False, allow_subnormal=False)
    rows = []
    for size in sizes:
        env = draw(st.lists(st.one_of(st.sampled_from(SPECIAL), st.tuples(coord, coord, coord)),
                            min_size=size, max_size=size, unique=True))
        rows.extend(env)
    positions = np.array(rows, dtype=np.float64).reshape(len(rows), 3)
    values = np.array(draw(st.lists(st.floats(-2.0, 2.0, allow_subnormal=False),
                                    min_size=len(rows), max_size=len(rows))))
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
    return positions, values, offsets


def _separated(positions, offsets):
    """True if no two neighbours of one environment are closer than 1e-6."""
    for e in range(len(offsets) - 1):
        p = positions[offsets[e]:offsets[e + 1]]
        d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p))
        if len(p) > 1 and d.min() < 1e-6:
            return False
    return True


def per_environment(rst, positions, values, offsets, normalize):
    """The oracle: one-environment calls, stacked in the batched layout."""
    ps = rstref.PowerSpectrum(rst)
    cs, dcs, d2cs, pss, dps = [], [], [], [], []
    for e in range(len(offsets) - 1):
        s, t = offsets[e], offsets[e + 1]
        c, dc, d2c = rst.with_peaks_at_with_hessians(positions[s:t], values[s:t], normalize)
        p, dp = ps.compute_with_gradients(positions[s:t], values[s:t], normalize)
        cs.append(c), dcs.append(dc), d2cs.append(d2c), pss.append(p), dps.append(dp)
    F = ps.n_features
    stack = lambda blocks, shape: np.concatenate(blocks) if blocks else np.zeros(shape)  # noqa: E731
    return (np.array(cs).reshape(-1, rst.dim), stack(dcs, (0, 3, rst.dim)),
            stack(d2cs, (0, 3, 3, rst.dim)), np.array(pss).reshape(-1, F), stack(dps, (0, 3, F)))


def assert_close(a, b, name):
    """Agreement to round-off of the scale; non-finite oracle entries (float64 overflow of
    the per-atom Hessians at |r| < ~1e-154, see the spherical-harmonics kernels) must be
    reproduced exactly."""
    assert a.shape == b.shape, f"{name}: {a.shape} != {b.shape}"
    finite = np.isfinite(b)
    assert np.array_equal(np.isfinite(a), finite), f"{name}: non-finite entries differ"
    assert np.array_equal(a[~finite], b[~finite], equal_nan=True), name
    a, b = a[finite], b[finite]
    scale = float(np.max(np.abs(b), initial=0.0))
    assert np.max(np.abs(a - b), initial=0.0) <= identity_atol(scale), name


@given(batch=ragged_batches(), n_max=st.integers(2, 4), l_max=st.integers(0, 3),
       primitive=st.sampled_from(["cosine_bumps", "smooth_cosines"]),
       convention=st.sampled_from(["standard", "e3nn"]), normalize=st.booleans())
def test_batched_equals_per_environment(batch, n_max, l_max, primitive, convention, normalize):
    positions, values, offsets = batch
    if not _separated(positions, offsets):
        return
    rst = _tensor(n_max, l_max, primitive, convention)
    oracle = per_environment(rst, positions, values, offsets, normalize)
    c, dc, d2c = batched.expansions_with_hessians(rst, positions, offsets, values, normalize)
    p, dp = batched.power_spectra_with_gradients(rst, positions, offsets, values, normalize)
    for got, want, name in zip((c, dc, d2c, p, dp), oracle, ["c", "dc", "d2c", "p", "dp"]):
        assert_close(got, want, name)
    assert_close(batched.expansions(rst, positions, offsets, values, normalize), oracle[0], "c")
    c1, dc1 = batched.expansions_with_gradients(rst, positions, offsets, values, normalize)
    assert_close(c1, oracle[0], "c"), assert_close(dc1, oracle[1], "dc")
    assert_close(batched.power_spectra(rst, positions, offsets, values, normalize), oracle[3], "p")


class TabulatedBasis:
    """A radial basis that is not an OrthonormalRadialBasis (only the duck-typed interface)."""

    def __init__(self, basis):
        self.n_max, self.r_cut, self._basis = basis.n_max, basis.r_cut, basis

    def with_derivatives(self, r):
        return self._basis.with_derivatives(r)


def test_generic_radial_basis_is_tabulated():
    """Any object with with_derivatives(r) works (tabulated path) and agrees."""
    basis = rstref.OrthonormalRadialBasis(3, 2.0, "cosines", 2)
    rst = rstref.RadialSphericalTensor(3, basis, 2)
    generic = rstref.RadialSphericalTensor(3, TabulatedBasis(basis), 2)
    rng = np.random.default_rng(5)
    pos = rng.uniform(-1.5, 1.5, size=(7, 3))
    offsets = np.array([0, 3, 3, 7])
    for a, b, name in zip(batched.expansions_with_hessians(generic, pos, offsets),
                          per_environment(rst, pos, np.ones(7), offsets, True), ["c", "dc", "d2c"]):
        assert_close(a, b, name)


def test_default_values_are_ones_and_empty_batches():
    rst = _tensor(3, 2, "cosine_bumps", "standard")
    pos = np.array([[0.3, 0.2, -0.5], [1.0, 0.0, 0.0]])
    offsets = np.array([0, 2])
    np.testing.assert_array_equal(batched.expansions(rst, pos, offsets),
                                  batched.expansions(rst, pos, offsets, np.ones(2)))
    c, dc, d2c = batched.expansions_with_hessians(rst, np.zeros((0, 3)), np.array([0]))
    assert c.shape == (0, rst.dim) and dc.shape == (0, 3, rst.dim) and d2c.shape == (0, 3, 3, rst.dim)
    c = batched.expansions(rst, np.zeros((0, 3)), np.array([0, 0, 0]))
    assert c.shape == (2, rst.dim) and not np.any(c)
    p, dp = batched.power_spectra_with_gradients(rst, np.zeros((0, 3)), np.array([0, 0]))
    # (l_max + 1) * n_max * (n_max + 1) / 2 = 3 * 3 * 4 / 2
    assert p.shape == (1, 18) and dp.shape == (0, 3, p.shape[1]) and not np.any(p)


def test_bad_input():
    rst = _tensor(3, 2, "cosine_bumps", "standard")
    pos = np.array([[0.3, 0.2, -0.5], [1.0, 0.0, 0.0], [0.3, 0.2, -0.5]])
    with pytest.raises(ValueError, match="neighbours 1 and 2 of environment 1 coincide"):
        batched.expansions(rst, np.array([[1.0, 0, 0], [0.5, 0, 0], [0.5, 0, 0]]), [0, 1, 3])
    # the same point in two environments is fine
    batched.expansions(rst, pos, [0, 2, 3])
    with pytest.raises(ValueError, match="offsets must start at 0"):
        batched.expansions(rst, pos, [1, 3])
    with pytest.raises(ValueError, match="offsets must start at 0 and end"):
        batched.expansions(rst, pos, [0, 2])
    with pytest.raises(ValueError, match="non-decreasing"):
        batched.expansions(rst, pos, [0, 2, 1, 3])
    with pytest.raises(TypeError, match="offsets must be an integer array"):
        batched.expansions(rst, pos, [0.0, 3.0])
    with pytest.raises(ValueError, match=r"offsets must have shape \(n_env \+ 1,\)"):
        batched.expansions(rst, pos, np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match=r"values must have shape \(3,\)"):
        batched.expansions(rst, pos, [0, 3], np.ones(2))
    with pytest.raises(ValueError, match=r"positions must have shape \(n, 3\)"):
        batched.expansions(rst, np.zeros((3, 2)), [0, 3])
    with pytest.raises(ValueError, match="NaN"):
        batched.expansions(rst, np.array([[np.nan, 0, 0]]), [0, 1])
    with pytest.raises(TypeError, match="RadialSphericalTensor"):
        batched.expansions("rst", pos, [0, 3])
    with pytest.raises(TypeError, match="normalize must be a bool"):
        batched.expansions(rst, pos, [0, 3], normalize=1)
