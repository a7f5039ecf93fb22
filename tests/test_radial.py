"""Tests of the radial bases (issue 3, DESIGN 2.4).

Oracles: the primitives re-written in mpmath from their formulas and integrated with
mpmath.quad (never rstref's Gauss-Legendre path), central differences, one-sided limits
at r_cut and at the cos^2-bump joins, and the tutorial's own formula for the bumps.
"""

import json
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rstref
from rstref import limits
from rstref import tolerances as tol
from rstref.radial import (
    CosineFunctions,
    FadeAtCutoff,
    FixedCosineRadialModel,
    OrthonormalRadialBasis,
    OrthonormalRadialFunctions,
    RadialPrimitives,
)

from conftest import thorough

FAMILIES = ["cosine_bumps", "cosines", "smooth_cosines"]


# ----------------------------------------------------------------- independent mpmath oracle

def mp_primitive(family, n, r_cut, p, k, r):
    """f_k(r) from the formulas of DESIGN 2.4, in mpmath."""
    r, rc = mp.mpf(r), mp.mpf(r_cut)
    if r >= rc:
        return mp.mpf(0)
    if family == "cosine_bumps":
        delta = rc / (n - 1)
        x = r - k * delta
        f = mp.cos(mp.pi * x / (2 * delta)) ** 2 if abs(x) < delta else mp.mpf(0)
    elif family == "cosines":
        f = mp.cos(k * mp.pi * r / rc)
    else:
        f = mp.cos(k * mp.pi * r / rc) * (1 - (r / rc) ** 2) ** 3
    if p:
        f *= (rc - r) ** p
    return f


def mp_gram(family, n, r_cut, p):
    """Gram matrix by mpmath.quad (tanh-sinh), split where the bumps have joins.

    Integrated in t = r / r_cut with the integrand scaled to O(1) (mpmath's error
    control is absolute), then scaled back by r_cut^(3 + 2p).
    """
    rc = mp.mpf(r_cut)
    scale = rc ** (2 * (p or 0))
    if family == "cosine_bumps":
        pts = [mp.mpf(j) / (n - 1) for j in range(n)]
    else:
        pts = [mp.mpf(j) / 4 for j in range(5)]
    G = mp.matrix(n, n)
    for i in range(n):
        for j in range(i, n):
            if family == "cosine_bumps" and j - i > 1:
                continue
            G[i, j] = G[j, i] = rc ** 3 * scale * mp.quad(
                lambda t: mp_primitive(family, n, r_cut, p, i, rc * t)
                * mp_primitive(family, n, r_cut, p, j, rc * t) / scale * 4 * mp.pi * t ** 2, pts)
    return G


ORTHO_CASES = [
    ("cosine_bumps", 12, 1.0, None),
    ("cosines", 12, 2.5, None),
    ("smooth_cosines", 12, 5.0, None),
    ("cosine_bumps", 10, 3.0, 2),
    ("cosines", 6, 0.7, 3),
    ("smooth_cosines", 8, 3.0, 2),  # condition number 1.3e5
    ("cosines", 5, 1e3, 2),  # extreme length scales
    ("cosine_bumps", 4, 1e-3, 3),
]
if thorough():
    ORTHO_CASES += [
        ("cosine_bumps", 2, 0.3, None),
        ("cosine_bumps", 12, 6.0, 3),
        ("cosines", 1, 1.0, None),
        ("cosines", 12, 1.0, 3),
        ("smooth_cosines", 1, 2.0, None),
        ("smooth_cosines", 8, 1.5, 1),
        ("smooth_cosines", 12, 0.4, None),
    ]


@pytest.mark.parametrize("family,n,r_cut,p", ORTHO_CASES)
def test_orthonormal_by_independent_mpmath_quadrature(family, n, r_cut, p):
    mp.mp.dps = 25
    basis = OrthonormalRadialBasis(n, r_cut, family, p)
    G = mp_gram(family, n, r_cut, p)
    C = mp.matrix(basis.coefficients.tolist())
    defect = C * G * C.T - mp.eye(n)
    worst = max(abs(defect[i, j]) for i in range(n) for j in range(n))
    assert worst <= tol.RADIAL_ORTHONORMALITY_ATOL, (worst, basis.condition_number)
    # the Gram matrix itself, relative to the diagonal
    G_np = np.array(G.tolist(), dtype=float)
    scale = np.sqrt(np.outer(np.diag(G_np), np.diag(G_np)))
    assert np.max(np.abs(basis.gram - G_np) / scale) <= tol.RADIAL_GRAM_RTOL


def test_gram_schmidt_structure():
    basis = OrthonormalRadialBasis(6, 2.0, "cosines")
    C = basis.coefficients
    assert np.all(np.triu(C, 1) == 0.0)
    assert np.all(np.diag(C) > 0)
    # R_0 is f_0 normalised: f_0 = 1, so R_0 = 1 / sqrt(volume of the ball)
    r = np.linspace(0, 1.9, 7)
    volume = 4 * np.pi * 2.0 ** 3 / 3
    np.testing.assert_allclose(basis(r)[:, 0], 1 / np.sqrt(volume), rtol=tol.identity_atol(6))


# ----------------------------------------------------------------- primitive values

@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("p", [None, 1, 2, 5])
def test_primitives_against_mpmath_formulas(family, p):
    n, r_cut = 7, 1.7
    prim = RadialPrimitives(n, r_cut, family, p)
    r = np.concatenate([np.random.default_rng(3).uniform(0, r_cut, 20), [0.0, r_cut, 2.0]])
    f = prim(r)
    ref = np.array([[float(mp_primitive(family, n, r_cut, p, k, x)) for k in range(n)] for x in r])
    scale = max(1.0, r_cut ** (p or 0))
    np.testing.assert_allclose(f, ref, rtol=0, atol=tol.identity_atol(scale, n))


def test_bumps_match_the_tutorial_formula_and_sum_to_one():
    # the tutorial's relu chain: cos^2(pi/2 * (1 - relu(1 - relu(x + 1) ... ))), written in numpy
    max_radius, number = 3.0, 8
    r = np.random.default_rng(1).uniform(0, max_radius, 200)
    centres = np.linspace(0, max_radius, number)
    step = centres[1] - centres[0]
    x = (r[:, None] - centres) / step
    def relu(v):
        return np.maximum(v, 0)
    tutorial = np.cos(math.pi / 2 * (-relu(-(relu(x + 1) - 2)) + 1)) ** 2
    ours = FixedCosineRadialModel(max_radius, number)(r)
    np.testing.assert_allclose(ours, tutorial, atol=tol.identity_atol(1, number))
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=tol.identity_atol(1, number))


def test_zero_beyond_cutoff():
    for family in FAMILIES:
        basis = OrthonormalRadialBasis(5, 1.2, family)
        out = basis.with_derivatives(np.array([1.2, 1.2000001, 7.0, 1e300]))
        for a in out:
            assert np.all(a == 0.0)


# ----------------------------------------------------------------- derivatives

def _basis_strategy(max_n=12):
    return st.tuples(
        st.sampled_from(FAMILIES),
        st.integers(2, max_n),
        st.floats(0.3, 8.0),
        st.sampled_from([None, 1, 2, 3, 4]),
    )


def _away_from_joins(basis, r, margin):
    edges = np.concatenate([[0.0], basis.joins, [basis.r_cut]])
    return np.min(np.abs(r[:, None] - edges[None, :]), axis=1) > margin


@given(_basis_strategy(), st.integers(0, 2 ** 32 - 1))
def test_derivatives_against_central_differences(params, seed):
    family, n, r_cut, p = params
    basis = OrthonormalRadialBasis(n, r_cut, family, p)
    h = tol.FD_STEP * r_cut / n  # the highest frequency is ~ n pi / r_cut
    r = np.random.default_rng(seed).uniform(0, r_cut, 40)
    r = r[_away_from_joins(basis, r, 10 * h)]
    R, dR, d2R = basis.with_derivatives(r)
    fd1 = (basis(r + h) - basis(r - h)) / (2 * h)
    fd2 = (basis.with_derivatives(r + h)[1] - basis.with_derivatives(r - h)[1]) / (2 * h)
    np.testing.assert_allclose(fd1, dR, rtol=0, atol=tol.FD_RTOL * max(1e-300, np.abs(dR).max()))
    np.testing.assert_allclose(fd2, d2R, rtol=0, atol=tol.FD_RTOL * max(1e-300, np.abs(d2R).max()))
    # the primitives' own derivatives as well
    f, df, d2f = basis.primitives_with_derivatives(r)
    pf1 = (basis.primitives(r + h) - basis.primitives(r - h)) / (2 * h)
    np.testing.assert_allclose(pf1, df, rtol=0, atol=tol.FD_RTOL * max(1e-300, np.abs(df).max()))


# ----------------------------------------------------------------- smoothness (exactly as declared)

def _derivative_scales(basis):
    """max |d^d R / dr^d| over a fine grid of [0, r_cut), d = 0, 1, 2."""
    grid = np.linspace(0, basis.r_cut, 4001)[:-1]
    return [np.abs(a).max() for a in basis.with_derivatives(grid)]


def _one_sided_gap(basis, point, h, d):
    """max_n |D^d R_n(point + h) - D^d R_n(point - h)|."""
    out = basis.with_derivatives(np.array([point - h, point + h]))[d]
    return np.abs(out[1] - out[0]).max()


@given(_basis_strategy(), st.floats(0.5, 2.0))
def test_smoothness_at_cutoff_is_exactly_the_declared_order(params, u):
    family, n, r_cut, p = params
    basis = OrthonormalRadialBasis(n, r_cut, family, p)
    s = basis.smoothness_at_cutoff
    scales = _derivative_scales(basis)
    # continuity of every declared order we compute: the gap shrinks with h
    eta = 1e-7 * u
    h = eta * r_cut / n
    for d in range(0, min(s, 2) + 1):
        assert _one_sided_gap(basis, r_cut, h, d) <= 1e3 * eta * scales[d]
    # the first non-declared order jumps: D^(s+1) R has a nonzero one-sided limit, so
    # D^d R(r_cut - h) ~ h^(s+1-d) for d = min(s+1, 2): check that exponent
    d = min(s + 1, 2)
    exponent = s + 1 - d
    h = (2e-3 if exponent <= 2 else 2e-2) * u * r_cut / n  # keep the gap far above round-off
    g1 = _one_sided_gap(basis, r_cut, h, d)
    g2 = _one_sided_gap(basis, r_cut, h / 2, d)
    assert g1 > 1e-12 * scales[d]
    assert abs(math.log2(g1 / g2) - exponent) < 0.15, (g1, g2, s, d)


@given(_basis_strategy(), st.data())
def test_smoothness_across_interior_joins_is_exactly_the_declared_order(params, data):
    family, n, r_cut, p = params
    basis = OrthonormalRadialBasis(n, r_cut, family, p)
    s = basis.smoothness_interior
    scales = _derivative_scales(basis)
    if len(basis.joins):
        j = data.draw(st.integers(1, n - 2), label="join")
        point = basis.joins[j - 1]
    else:  # a smooth family: any interior point
        point = data.draw(st.floats(0.05, 0.95), label="t") * r_cut
    eta = 1e-7
    h = eta * r_cut / n
    for d in range(0, int(min(s, 2)) + 1):
        assert _one_sided_gap(basis, point, h, d) <= 1e3 * eta * scales[d]
    if s < 2 and len(basis.joins):
        # cos^2 bumps: f_{j-1}'' ends at +pi^2/(2 delta^2), f_{j+1}'' starts there, f and f'
        # are continuous, so the jump of R_n'' is envelope(r_j) (C[n,j+1] - C[n,j-1]) pi^2/(2 delta^2)
        assert family == "cosine_bumps" and s == 1
        delta = r_cut / (n - 1)
        C = basis.coefficients
        env = (r_cut - point) ** (p or 0)
        expected = env * (C[:, j + 1] - C[:, j - 1]) * math.pi ** 2 / (2 * delta ** 2)
        out = basis.with_derivatives(np.array([point - h, point + h]))[2]
        jump = out[1] - out[0]
        np.testing.assert_allclose(jump, expected, rtol=0, atol=1e3 * eta * scales[2])
        assert np.abs(jump).max() > 1e-3 * scales[2]


def test_declared_smoothness_table():
    table = {(f, p): (OrthonormalRadialBasis(4, 1.0, f, p).smoothness_interior,
                      OrthonormalRadialBasis(4, 1.0, f, p).smoothness_at_cutoff)
             for f in FAMILIES for p in (None, 2, 3)}
    assert table[("cosine_bumps", None)] == (1, -1)
    assert table[("cosine_bumps", 2)] == (1, 1)
    assert table[("cosine_bumps", 3)] == (1, 2)
    assert table[("cosines", None)] == (math.inf, -1)
    assert table[("cosines", 3)] == (math.inf, 2)
    assert table[("smooth_cosines", None)] == (math.inf, 2)
    assert table[("smooth_cosines", 2)] == (math.inf, 4)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("p", [None, 1, 2])
def test_odd_derivatives_at_the_origin(family, p):
    # even in r near 0 without envelope (R(|x|) smooth at the origin), a cusp with it:
    # d/dr [(r_cut - r)^p f] at 0 = -p r_cut^(p-1) f(0) + r_cut^p f'(0), with f'(0) = 0
    basis = OrthonormalRadialBasis(5, 2.0, family, p)
    h = 1e-4
    R, dR, _ = basis.with_derivatives(np.array([0.0]))
    assert basis.smooth_at_origin == (p is None)
    if p is None:
        assert np.all(dR == 0.0)
        # evenness beyond first order: R(h) - R(0) = O(h^2) and the O(h^3) term vanishes too
        Rh, dRh, d2Rh = basis.with_derivatives(np.array([h]))
        np.testing.assert_allclose(dRh[0], d2Rh[0] * h, rtol=0, atol=1e-6 * np.abs(d2Rh).max() * h)
    else:
        f, df, _ = basis.primitives_with_derivatives(np.array([0.0]))
        np.testing.assert_allclose(df[0], -p * f[0] / 2.0, rtol=1e-14, atol=1e-14)
        assert np.abs(dR).max() > 0.1


# ----------------------------------------------------------------- conditioning

def test_ill_conditioned_basis_is_refused():
    with pytest.raises(ValueError, match="condition number"):
        OrthonormalRadialBasis(24, 1.0, "smooth_cosines", 6)


def test_condition_threshold_is_the_documented_one(monkeypatch):
    import rstref.radial as radial
    basis = OrthonormalRadialBasis(8, 1.0, "cosines", 3)
    assert 1.0 <= basis.condition_number <= limits.GRAM_CONDITION_MAX
    monkeypatch.setattr(radial, "GRAM_CONDITION_MAX", basis.condition_number / 2)
    with pytest.raises(ValueError, match="GRAM_CONDITION_MAX"):
        OrthonormalRadialBasis(8, 1.0, "cosines", 3)


# ----------------------------------------------------------------- input handling

@pytest.mark.parametrize("kwargs,exc,word", [
    (dict(n_max=0, r_cut=1.0), ValueError, "n_max"),
    (dict(n_max=-3, r_cut=1.0, primitive="cosines"), ValueError, "n_max"),
    (dict(n_max=1, r_cut=1.0), ValueError, "n_max"),  # the bumps need two centres
    (dict(n_max=2.0, r_cut=1.0), TypeError, "n_max"),
    (dict(n_max=4, r_cut=0.0), ValueError, "r_cut"),
    (dict(n_max=4, r_cut=-1.0), ValueError, "r_cut"),
    (dict(n_max=4, r_cut=float("nan")), ValueError, "r_cut"),
    (dict(n_max=4, r_cut=float("inf")), ValueError, "r_cut"),
    (dict(n_max=4, r_cut=1.0, primitive="gaussians"), ValueError, "primitive"),
    (dict(n_max=4, r_cut=1.0, envelope_power=0), ValueError, "envelope_power"),
    (dict(n_max=4, r_cut=1.0, envelope_power=99), ValueError, "envelope_power"),
    (dict(n_max=4, r_cut=1.0, envelope_power=2.5), TypeError, "envelope_power"),
])
def test_bad_hyperparameters(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        OrthonormalRadialBasis(**kwargs)


@pytest.mark.parametrize("r,exc", [
    ([0.1, -0.2], ValueError),
    ([0.1, float("nan")], ValueError),
    ([float("inf")], ValueError),
    ([[0.1, 0.2]], ValueError),
    (0.5, ValueError),
    (np.array([0.1j]), TypeError),
    (["a"], TypeError),
])
def test_bad_distances(r, exc):
    basis = OrthonormalRadialBasis(3, 1.0)
    for method in (basis, basis.with_derivatives, basis.primitives):
        with pytest.raises(exc, match="r "):
            method(r)


def test_empty_and_promoted_input():
    basis = OrthonormalRadialBasis(5, 2.0, "smooth_cosines")
    assert basis(np.zeros(0)).shape == (0, 5)
    assert all(a.shape == (0, 5) for a in basis.with_derivatives([]))
    assert basis.primitives(np.zeros(0)).shape == (0, 5)
    r = np.array([0.0, 0.5, 1.5], dtype=np.float32)
    out = basis(r)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, basis(r.astype(np.float64)))
    np.testing.assert_array_equal(out, basis([0.0, 0.5, 1.5]))


# ----------------------------------------------------------------- description and adapters

def test_description_round_trip():
    basis = OrthonormalRadialBasis(6, 2.5, "cosines", 3)
    d = json.loads(json.dumps(basis.to_dict()))
    again = OrthonormalRadialBasis.from_dict(d)
    assert again == basis and hash(again) == hash(basis)
    np.testing.assert_array_equal(again.coefficients, basis.coefficients)
    assert OrthonormalRadialBasis(6, 2.5, "cosines") != basis


def test_tutorial_adapters():
    r = np.linspace(0, 3.5, 57)
    cos = CosineFunctions(5, 3.0)
    np.testing.assert_allclose(cos(r)[r < 3.0], np.cos(np.outer(r, np.arange(5)) * np.pi / 3.0)[r < 3.0],
                               atol=tol.identity_atol(1, 5))
    faded = FadeAtCutoff(cos, 3.0)
    expected = cos(r) * np.clip(3.0 - r, 0, None)[:, None] ** 2
    np.testing.assert_allclose(faded(r), expected, atol=tol.identity_atol(9, 5))
    orth = OrthonormalRadialFunctions(FadeAtCutoff(FixedCosineRadialModel(3.0, 6), 3.0))
    ref = OrthonormalRadialBasis(6, 3.0, "cosine_bumps", envelope_power=2)
    np.testing.assert_array_equal(orth(r), ref(r))
    with pytest.raises(ValueError, match="max_radius"):
        FadeAtCutoff(cos, 2.0)


# ----------------------------------------------------------------------------- reliability


@pytest.mark.parametrize("r_cut", [1e150, 1e31, 1e-31, 1e-300, 5e-324])
def test_r_cut_out_of_the_documented_range_is_refused(r_cut):
    with pytest.raises(ValueError, match=r"r_cut must be in \[1e-30, 1e\+30\]"):
        rstref.OrthonormalRadialBasis(4, r_cut)


@pytest.mark.parametrize("r_cut", [1e-30, 1e-12, 1e12, 1e30])
@pytest.mark.parametrize("primitive", ["cosine_bumps", "cosines", "smooth_cosines"])
def test_r_cut_inside_the_range_gives_finite_values_and_derivatives(r_cut, primitive):
    basis = rstref.OrthonormalRadialBasis(4, r_cut, primitive)
    for a in basis.with_derivatives(np.array([0.0, 0.3, 0.7, 0.999]) * r_cut):
        assert np.all(np.isfinite(a))
    assert np.any(basis(np.array([0.3 * r_cut])) != 0.0)


def test_envelope_that_over_or_underflows_is_refused():
    with pytest.raises(ValueError, match="envelope_power"):
        rstref.OrthonormalRadialBasis(4, 1e20, envelope_power=12)
    rstref.OrthonormalRadialBasis(4, 1e10, envelope_power=12)
