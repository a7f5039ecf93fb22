"""Real spherical harmonics (issue 2): oracle values, derivatives, identities, conventions.

The value oracle is independent of rstref's recurrences: the associated Legendre function
is expanded explicitly (Rodrigues' formula differentiated term by term, exact integer
coefficients) and evaluated in mpmath at 130 digits from angles computed in mpmath from
the exact float input; the expansion is itself checked against ``mpmath.legenp``.
"""

import functools
import io
import math
from contextlib import redirect_stdout

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import rstref
from rstref.harmonics import (
    SphericalHarmonics,
    lm_block,
    lm_index,
    lm_size,
    spherical_harmonics,
    spherical_harmonics_with_gradients,
    spherical_harmonics_with_hessians,
)
from rstref.tolerances import (
    EPS,
    FD_STEP,
    identity_atol,
    sh_fd_atol,
    sh_value_atol,
)

NORMS = ("integral", "component", "norm")
CONVS = ("standard", "e3nn")


# ----------------------------------------------------------------------------- oracle
@functools.lru_cache(maxsize=None)
def _legendre_coefficients(l, m):
    """Integer c_k, powers p_k with d^m P_l/dt^m = 2^-l sum_k c_k t^p_k (exact)."""
    out = []
    for k in range(l // 2 + 1):
        p = l - 2 * k
        if p < m:
            continue
        c = (-1) ** k * math.comb(l, k) * math.comb(2 * l - 2 * k, l)
        c *= math.factorial(p) // math.factorial(p - m)
        out.append((c, p - m))
    return tuple(out)


def oracle_norm(point, l_max, dps=130):
    """'norm'-normalised real Y_lm at ``point`` (exact float input), flat order, as floats.

    Y_lm = sqrt((l-|m|)!/(l+|m|)!) * (sqrt 2 if m != 0) * sin^|m| θ * P_l^(|m|)(cos θ)
           * (cos |m|φ for m > 0, sin |m|φ for m < 0); no Condon-Shortley phase.
    """
    with mpmath.workdps(dps):
        x, y, z = (mpmath.mpf(float(c)) for c in point)
        rho = mpmath.sqrt(x * x + y * y)
        r = mpmath.sqrt(rho * rho + z * z)
        t = z / r
        st_ = rho / r
        phi = mpmath.atan2(y, x)
        out = np.empty((l_max + 1) ** 2)
        for l in range(l_max + 1):
            for m in range(l + 1):
                d = mpmath.fsum(c * t**p for c, p in _legendre_coefficients(l, m)) / 2**l
                norm = mpmath.sqrt(mpmath.factorial(l - m) / mpmath.factorial(l + m))
                base = norm * st_**m * d
                if m == 0:
                    out[l * l + l] = float(base)
                else:
                    out[l * l + l + m] = float(mpmath.sqrt(2) * base * mpmath.cos(m * phi))
                    out[l * l + l - m] = float(mpmath.sqrt(2) * base * mpmath.sin(m * phi))
        return out


def test_oracle_expansion_matches_mpmath_legenp():
    """The explicit Legendre expansion equals mpmath.legenp (which carries (-1)^m)."""
    with mpmath.workdps(40):
        for t in (mpmath.mpf("0.3"), mpmath.mpf("-0.95")):
            for l in range(7):
                for m in range(l + 1):
                    d = mpmath.fsum(c * t**p for c, p in _legendre_coefficients(l, m)) / 2**l
                    ours = (-1) ** m * mpmath.sqrt(1 - t * t) ** m * d
                    ref = mpmath.legenp(l, m, t, type=2)
                    assert abs(ours - ref) <= mpmath.mpf(10) ** -30 * max(1, abs(ref))


# ----------------------------------------------------------------------------- strategies
_SPECIAL_DIRECTIONS = [
    (0.0, 0.0, 1.0), (0.0, 0.0, -1.0),  # exact poles
    (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0),  # axes
    (1e-9, -1e-9, 1.0), (-2e-9, 1e-9, -1.0), (1e-9, 0.0, 1.0),  # near-poles
    (1.0, 1.0, 1.0), (1.0, -1.0, 0.0),
]

near_pole = st.builds(
    lambda x, y, sgn: (x, y, sgn),
    st.floats(-1e-9, 1e-9), st.floats(-1e-9, 1e-9), st.sampled_from([1.0, -1.0]),
)
generic = st.tuples(*[st.floats(-1.0, 1.0)] * 3).filter(lambda v: np.linalg.norm(v) > 1e-3)
directions = st.one_of(st.sampled_from(_SPECIAL_DIRECTIONS), near_pole, generic)
magnitudes = st.one_of(st.sampled_from([1e-12, 1.0, 1e12]), st.floats(1e-3, 1e3))


@st.composite
def points(draw):
    d = np.array(draw(directions), dtype=float)
    return d * draw(magnitudes)


@st.composite
def moderate_points(draw, count=3):
    """Points with 0.3 <= |r| <= 3 (finite differences with a relative step)."""
    out = []
    for _ in range(count):
        d = np.array(draw(st.one_of(st.sampled_from(_SPECIAL_DIRECTIONS), generic)))
        out.append(d / np.linalg.norm(d) * draw(st.floats(0.3, 3.0)))
    return np.array(out)


def _scale_to(Y_norm, l_max, normalization):
    """'norm' -> other normalisations: Y_int = sqrt((2l+1)/4pi) Y_norm, Y_comp = sqrt(2l+1) Y_norm."""
    f = np.empty(lm_size(l_max))
    for l in range(l_max + 1):
        f[lm_block(l)] = {
            "norm": 1.0,
            "integral": math.sqrt((2 * l + 1) / (4 * math.pi)),
            "component": math.sqrt(2 * l + 1),
        }[normalization]
    return Y_norm * f


def _max_err_per_l(a, b, l_max):
    return [np.abs(a[..., lm_block(l)] - b[..., lm_block(l)]).max() for l in range(l_max + 1)]


# ----------------------------------------------------------------------------- values
@given(points())
def test_values_match_oracle_up_to_l20(point):
    l_max = 20
    ref = oracle_norm(point, l_max)
    for normalization in NORMS:
        got = spherical_harmonics(point[None], l_max, normalization)[0]
        want = _scale_to(ref, l_max, normalization)
        f = {"norm": 1.0, "integral": 1.0, "component": math.sqrt(4 * math.pi)}[normalization]
        for l, err in enumerate(_max_err_per_l(got, want, l_max)):
            assert err <= f * sh_value_atol(l), (normalization, l, err)


@settings(max_examples=8)
@given(points())
def test_values_match_oracle_up_to_l64(point):
    l_max = 64
    ref = oracle_norm(point, l_max)
    got = spherical_harmonics(point[None], l_max, "norm")[0]
    for l, err in enumerate(_max_err_per_l(got, ref, l_max)):
        assert err <= sh_value_atol(l), (l, err)


@pytest.mark.parametrize("point", [(0, 0, 1), (0, 0, -1), (1e-9, 1e-9, 1), (0.3, -0.5, 0.8)])
def test_values_match_oracle_l64_special_points(point):
    point = np.array(point, dtype=float)
    ref = oracle_norm(point, 64)
    got = spherical_harmonics(point[None], 64, "norm")[0]
    for l, err in enumerate(_max_err_per_l(got, ref, 64)):
        assert err <= sh_value_atol(l), (l, err)


def test_wikipedia_table_low_degrees():
    """Closed forms of the real harmonics (Wikipedia table) fix signs and prefactors."""
    rng = np.random.default_rng(7)
    p = rng.normal(size=(6, 3))
    x, y, z = (p / np.linalg.norm(p, axis=1, keepdims=True)).T
    pi = math.pi
    want = np.stack([
        np.full_like(x, 0.5 / math.sqrt(pi)),
        math.sqrt(3 / (4 * pi)) * y, math.sqrt(3 / (4 * pi)) * z, math.sqrt(3 / (4 * pi)) * x,
        0.5 * math.sqrt(15 / pi) * x * y, 0.5 * math.sqrt(15 / pi) * y * z,
        0.25 * math.sqrt(5 / pi) * (3 * z * z - 1),
        0.5 * math.sqrt(15 / pi) * x * z, 0.25 * math.sqrt(15 / pi) * (x * x - y * y),
    ], axis=1)
    got = spherical_harmonics(p, 2)
    np.testing.assert_allclose(got, want, rtol=0, atol=identity_atol(1.0, 2))


# ----------------------------------------------------------------------------- derivatives
def _fd_gradient(func, xyz):
    """Central differences with a relative step: (n, 3, ...) from func((n, 3)) -> (n, ...)."""
    h = FD_STEP * np.linalg.norm(xyz, axis=1)
    out = []
    for a in range(3):
        e = np.zeros_like(xyz)
        e[:, a] = h
        diff = func(xyz + e) - func(xyz - e)
        out.append(diff / (2 * h.reshape((-1,) + (1,) * (diff.ndim - 1))))
    return np.stack(out, axis=1)


def _check_blocks(got, want, l_max, scale_axes):
    for l in range(l_max + 1):
        g = got[..., lm_block(l)]
        w = want[..., lm_block(l)]
        scale = np.abs(g).max(axis=scale_axes, keepdims=True)
        assert np.all(np.abs(g - w) <= sh_fd_atol(scale, l)), (l, np.abs(g - w).max())


@pytest.mark.parametrize("solid", [False, True])
@pytest.mark.parametrize("convention", CONVS)
@pytest.mark.parametrize("normalization", NORMS)
@settings(max_examples=10)
@given(xyz=moderate_points())
def test_gradients_match_central_differences(xyz, normalization, convention, solid):
    l_max = 10
    sh = SphericalHarmonics(l_max, normalization, convention, solid)
    Y, dY = sh.compute_with_gradients(xyz)
    np.testing.assert_array_equal(Y, sh.compute(xyz))
    _check_blocks(dY, _fd_gradient(sh.compute, xyz), l_max, scale_axes=(1, 2))


@pytest.mark.parametrize("solid", [False, True])
@pytest.mark.parametrize("convention", CONVS)
@pytest.mark.parametrize("normalization", NORMS)
@settings(max_examples=10)
@given(xyz=moderate_points())
def test_hessians_match_central_differences_of_gradients(xyz, normalization, convention, solid):
    l_max = 10
    sh = SphericalHarmonics(l_max, normalization, convention, solid)
    Y, dY, d2Y = sh.compute_with_hessians(xyz)
    Y1, dY1 = sh.compute_with_gradients(xyz)
    np.testing.assert_array_equal(Y, Y1)
    # the two kernels round the gradient in a different order: equal to a few ulps
    np.testing.assert_allclose(dY, dY1, rtol=0, atol=identity_atol(np.abs(dY).max(), l_max))
    fd = _fd_gradient(lambda p: sh.compute_with_gradients(p)[1], xyz)
    _check_blocks(d2Y, fd, l_max, scale_axes=(1, 2, 3))


@pytest.mark.parametrize("solid", [False, True])
@given(xyz=moderate_points())
def test_hessians_symmetric_exactly(xyz, solid):
    _, _, d2Y = spherical_harmonics_with_hessians(xyz, 12, solid=solid)
    np.testing.assert_array_equal(d2Y, np.swapaxes(d2Y, 1, 2))


@given(st.lists(points(), min_size=1, max_size=4))
def test_radial_derivative_vanishes(pts):
    """x . grad Y(r/|r|) = 0 and x^T H x = 0 (Y is constant along rays; H x = -grad Y)."""
    xyz = np.array(pts)
    l_max = 16
    Y, dY, d2Y = spherical_harmonics_with_hessians(xyz, l_max)
    r = np.linalg.norm(xyz, axis=1)
    u = xyz / r[:, None]
    radial = np.einsum("na,nak->nk", u, dY) * r[:, None]  # dimensionless
    hx = np.einsum("na,nabk->nbk", u, d2Y) * r[:, None, None]  # = -grad Y (Euler, degree 0)
    for l in range(l_max + 1):
        sl = lm_block(l)
        scale = np.abs(dY[..., sl]).max() * r.max()
        assert np.abs(radial[:, sl]).max() <= identity_atol(scale + 1, l)
        gscale = np.abs(dY[..., sl]).max(axis=(1, 2))
        dev = np.abs(hx[..., sl] + dY[..., sl]).max(axis=(1, 2))
        assert np.all(dev <= identity_atol(1.0, l) * (gscale + 1e-300) * 8), l


@pytest.mark.parametrize("normalization", NORMS)
@given(xyz=moderate_points(count=4))
def test_solid_euler_relation_and_laplacian(xyz, normalization):
    """Solid harmonics: x . grad Z = l Z and trace(Hess Z) = 0 (harmonic polynomials)."""
    l_max = 16
    Z, dZ, d2Z = spherical_harmonics_with_hessians(xyz, l_max, normalization, solid=True)
    euler = np.einsum("na,nak->nk", xyz, dZ)
    lap = np.einsum("naak->nk", d2Z)
    for l in range(l_max + 1):
        sl = lm_block(l)
        scale = np.abs(np.einsum("na,nak->nk", np.abs(xyz), np.abs(dZ[..., sl]))).max()
        assert np.abs(euler[:, sl] - l * Z[:, sl]).max() <= identity_atol(scale, l)
        hscale = np.abs(d2Z[..., sl]).max()
        assert np.abs(lap[:, sl]).max() <= min(1e-10, identity_atol(1.0, l)) * max(hscale, 1e-300)


# ----------------------------------------------------------------------------- identities
@pytest.mark.parametrize("normalization, total", [
    ("integral", lambda l: (2 * l + 1) / (4 * math.pi)),
    ("component", lambda l: 2 * l + 1),
    ("norm", lambda l: 1.0),
])
@given(pts=st.lists(points(), min_size=1, max_size=4))
def test_addition_theorem(pts, normalization, total):
    l_max = 64
    Y = spherical_harmonics(np.array(pts), l_max, normalization)
    for l in range(l_max + 1):
        s = (Y[:, lm_block(l)] ** 2).sum(axis=1)
        assert np.abs(s - total(l)).max() <= identity_atol(total(l), l), l


@pytest.mark.parametrize("l_max", [0, 3, 12, 30])
def test_orthonormality_by_exact_quadrature(l_max):
    """Gauss-Legendre (l_max+1 nodes in cos θ) x 2 l_max+1 angles: exact for degree 2 l_max."""
    t, w = np.polynomial.legendre.leggauss(l_max + 1)
    n_phi = 2 * l_max + 1
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    s = np.sqrt(1 - t * t)
    nodes = np.stack([np.outer(s, np.cos(phi)).ravel(), np.outer(s, np.sin(phi)).ravel(),
                      np.repeat(t, n_phi)], axis=1)
    weights = np.repeat(w, n_phi) * 2 * np.pi / n_phi
    for convention in CONVS:
        Y = spherical_harmonics(nodes, l_max, convention=convention)
        gram = (Y * weights[:, None]).T @ Y
        assert np.abs(gram - np.eye(lm_size(l_max))).max() <= identity_atol(1.0, l_max)


@pytest.mark.parametrize("convention", CONVS)
@given(pts=st.lists(points(), min_size=1, max_size=4))
def test_parity(pts, convention):
    xyz = np.array(pts)
    l_max = 20
    Y = spherical_harmonics(xyz, l_max, convention=convention)
    Ym = spherical_harmonics(-xyz, l_max, convention=convention)
    for l in range(l_max + 1):
        np.testing.assert_allclose(Ym[:, lm_block(l)], (-1) ** l * Y[:, lm_block(l)],
                                   rtol=0, atol=identity_atol(1.0, l))


@given(st.lists(points(), min_size=1, max_size=4), st.floats(1e-6, 1e6))
def test_scale_invariance(pts, c):
    """Y(c r) = Y(r); grad Y(c r) = grad Y(r)/c; Hess Y(c r) = Hess Y(r)/c^2."""
    xyz = np.array(pts)
    Y, dY, d2Y = spherical_harmonics_with_hessians(xyz, 10)
    Yc, dYc, d2Yc = spherical_harmonics_with_hessians(xyz * c, 10)
    tol = identity_atol(1.0, 10)
    np.testing.assert_allclose(Yc, Y, rtol=0, atol=tol)
    np.testing.assert_allclose(dYc * c, dY, rtol=tol, atol=tol * np.abs(dY).max())
    np.testing.assert_allclose(d2Yc * c * c, d2Y, rtol=tol, atol=tol * np.abs(d2Y).max())


# ----------------------------------------------------------------------------- e3nn convention
@pytest.mark.parametrize("solid", [False, True])
@pytest.mark.parametrize("normalization", NORMS)
@given(xyz=moderate_points(count=4))
def test_e3nn_equals_standard_at_zxy(xyz, normalization, solid):
    l_max = 8
    perm = [2, 0, 1]  # (x, y, z) -> (z, x, y)
    Ye, dYe, d2Ye = spherical_harmonics_with_hessians(xyz, l_max, normalization, "e3nn", solid)
    Ys, dYs, d2Ys = spherical_harmonics_with_hessians(xyz[:, perm], l_max, normalization,
                                                      "standard", solid)
    np.testing.assert_array_equal(Ye, Ys)
    # d/dx_a of f(z, x, y): the standard derivative along the slot where x_a went
    slot = [perm.index(a) for a in range(3)]  # x -> slot 1, y -> slot 2, z -> slot 0
    np.testing.assert_array_equal(dYe, dYs[:, slot])
    np.testing.assert_array_equal(d2Ye, d2Ys[:, slot][:, :, slot])


def test_e3nn_l1_block_is_proportional_to_xyz():
    xyz = np.array([[0.3, -0.4, 1.2], [1.0, 0.0, 0.0]])
    Y = spherical_harmonics(xyz, 1, "component", "e3nn")
    u = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    np.testing.assert_allclose(Y[:, 1:4], math.sqrt(3) * u, rtol=0, atol=4 * EPS)


# ----------------------------------------------------------------------------- zero vector
@pytest.mark.parametrize("convention", CONVS)
@pytest.mark.parametrize("normalization", NORMS)
def test_zero_vector_rule(normalization, convention):
    xyz = np.array([[0.0, 0.0, 0.0], [0.1, 0.2, 0.3], [-0.0, 0.0, -0.0]])
    Y, dY, d2Y = spherical_harmonics_with_hessians(xyz, 6, normalization, convention)
    y00 = {"integral": 0.5 / math.sqrt(math.pi), "component": 1.0, "norm": 1.0}[normalization]
    for i in (0, 2):
        assert Y[i, 0] == pytest.approx(y00, rel=EPS)
        assert np.all(Y[i, 1:] == 0.0)
        assert np.all(dY[i] == 0.0) and np.all(d2Y[i] == 0.0)
    assert np.all(np.isfinite(Y)) and np.all(np.isfinite(dY)) and np.all(np.isfinite(d2Y))
    Y1, dY1 = spherical_harmonics_with_gradients(xyz, 6, normalization, convention)
    np.testing.assert_array_equal(Y1, Y)
    np.testing.assert_allclose(dY1, dY, rtol=0, atol=identity_atol(np.abs(dY).max(), 6))
    np.testing.assert_array_equal(spherical_harmonics(xyz, 6, normalization, convention), Y)


def test_solid_harmonics_at_origin_are_the_polynomial():
    """At r = 0 the solid harmonics are polynomials: l >= 1 values vanish, the l = 1
    gradient and the l = 2 Hessian are the constant polynomial coefficients."""
    Z, dZ, d2Z = spherical_harmonics_with_hessians(np.zeros((1, 3)), 4, solid=True)
    c1 = math.sqrt(3 / (4 * math.pi))
    assert np.all(Z[0, 1:] == 0)
    np.testing.assert_allclose(dZ[0][:, lm_block(1)], c1 * np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]]),
                               rtol=0, atol=4 * EPS)
    assert np.all(dZ[0][:, lm_block(2)] == 0) and np.all(d2Z[0][..., lm_block(1)] == 0)
    # Hessian of Z_20 = sqrt(5/16pi) (2 z^2 - x^2 - y^2)
    c = math.sqrt(5 / (16 * math.pi))
    np.testing.assert_allclose(d2Z[0][..., lm_index(2, 0)], c * np.diag([-2.0, -2.0, 4.0]),
                               rtol=0, atol=8 * EPS)
    assert np.all(d2Z[0][..., lm_block(3).start:] == 0)


# ----------------------------------------------------------------------------- drivers
def test_parallel_and_serial_paths_agree_bitwise():
    rng = np.random.default_rng(3)
    xyz = rng.normal(size=(5000, 3))
    xyz[17] = 0.0
    sh = SphericalHarmonics(8)
    Y, dY, d2Y = sh.compute_with_hessians(xyz)  # parallel path
    for i in (0, 17, 4999):
        Yi, dYi, d2Yi = sh.compute_with_hessians(xyz[i : i + 1])  # serial path
        np.testing.assert_array_equal(Yi[0], Y[i])
        np.testing.assert_array_equal(dYi[0], dY[i])
        np.testing.assert_array_equal(d2Yi[0], d2Y[i])
    Y2, dY2 = sh.compute_with_gradients(xyz)
    np.testing.assert_array_equal(Y2, Y)
    np.testing.assert_allclose(dY2, dY, rtol=0, atol=identity_atol(np.abs(dY).max(), 8))
    for i in (0, 17, 4999):
        Yi, dYi = sh.compute_with_gradients(xyz[i : i + 1])
        np.testing.assert_array_equal(dYi[0], dY2[i])
    np.testing.assert_array_equal(sh.compute(xyz), Y)


def test_float32_and_integer_input_are_promoted():
    xyz = np.array([[1, 2, 3], [0, 0, 1]])
    want = spherical_harmonics(xyz.astype(np.float64), 4)
    np.testing.assert_array_equal(spherical_harmonics(xyz, 4), want)
    np.testing.assert_array_equal(spherical_harmonics(xyz.astype(np.float32), 4), want)
    assert spherical_harmonics(xyz.astype(np.float32), 4).dtype == np.float64


@pytest.mark.parametrize("l_max", [0, 3])
def test_empty_input_gives_empty_outputs(l_max):
    xyz = np.zeros((0, 3))
    L = (l_max + 1) ** 2
    assert spherical_harmonics(xyz, l_max).shape == (0, L)
    Y, dY = spherical_harmonics_with_gradients(xyz, l_max)
    assert Y.shape == (0, L) and dY.shape == (0, 3, L)
    Y, dY, d2Y = spherical_harmonics_with_hessians(xyz, l_max)
    assert Y.shape == (0, L) and dY.shape == (0, 3, L) and d2Y.shape == (0, 3, 3, L)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("xyz, exc", [
    (np.array([[0.0, np.nan, 1.0]]), ValueError),
    (np.array([[np.inf, 0.0, 1.0]]), ValueError),
    (np.zeros((4, 2)), ValueError),
    (np.zeros(3), ValueError),
    (np.zeros((2, 3, 1)), ValueError),
    (np.zeros((2, 3), dtype=complex), TypeError),
    (np.zeros((2, 3), dtype=bool), TypeError),
    ([["a", "b", "c"]], TypeError),
])
@pytest.mark.parametrize("func", [spherical_harmonics, spherical_harmonics_with_gradients,
                                  spherical_harmonics_with_hessians])
def test_bad_points_raise_naming_xyz(func, xyz, exc):
    with pytest.raises(exc, match="xyz"):
        func(xyz, 2)


@pytest.mark.parametrize("l_max, exc", [(-1, ValueError), (65, ValueError), (2.0, TypeError),
                                        (True, TypeError), ("3", TypeError)])
def test_bad_l_max_raises(l_max, exc):
    with pytest.raises(exc, match="l_max"):
        spherical_harmonics(np.ones((1, 3)), l_max)


def test_bad_options_raise():
    with pytest.raises(ValueError, match="normalization"):
        spherical_harmonics(np.ones((1, 3)), 2, normalization="orthonormal")
    with pytest.raises(ValueError, match="convention"):
        spherical_harmonics(np.ones((1, 3)), 2, convention="sphericart")
    with pytest.raises(TypeError, match="solid"):
        spherical_harmonics(np.ones((1, 3)), 2, solid="yes")


# ----------------------------------------------------------------------------- index trio
@pytest.mark.parametrize("l_max", [0, 1, 5, 64])
def test_index_trio_follows_the_documented_comprehension(l_max):
    order = [(l, m) for l in range(l_max + 1) for m in range(-l, l + 1)]
    assert lm_size(l_max) == len(order)
    assert [lm_index(l, m) for l, m in order] == list(range(len(order)))
    for l in range(l_max + 1):
        assert list(range(lm_size(l_max))[lm_block(l)]) == [lm_index(l, m) for m in range(-l, l + 1)]
    with pytest.raises(ValueError, match="m"):
        lm_index(2, 3)


def test_public_names():
    assert rstref.spherical_harmonics is spherical_harmonics
    assert rstref.SphericalHarmonics is SphericalHarmonics
    assert rstref.lm_index is lm_index


def test_cli_sph_prints_values_by_lm():
    from rstref.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["sph", "--l-max", "3", "--gradients", "--convention", "e3nn", "0.3", "-1", "2"])
    assert rc == 0
    rows = [line.split() for line in buf.getvalue().splitlines() if not line.startswith(("#", "  l"))]
    rows = [r for r in rows if r and r[0] != "l"]
    Y, dY = spherical_harmonics_with_gradients(np.array([[0.3, -1.0, 2.0]]), 3, convention="e3nn")
    assert [(int(r[0]), int(r[1])) for r in rows] == [(l, m) for l in range(4) for m in range(-l, l + 1)]
    got = np.array([[float(v) for v in r[2:]] for r in rows])
    np.testing.assert_allclose(got[:, 0], Y[0], rtol=1e-15, atol=0)
    np.testing.assert_allclose(got[:, 1:], dY[0].T, rtol=1e-15, atol=0)


def test_extreme_magnitudes_are_finite_and_scale_free():
    """|r| from 1e-200 to 1e300 (sum of squares under/overflows): same direction, same Y.

    Derivatives scale like |r|^-1 and |r|^-2: at |r| = 1e-200 the Hessian (~1e400) is
    genuinely out of float64 range, so only the representable ones are checked finite.
    """
    d = np.array([0.3, -0.4, 1.2])
    xyz = np.array([d * 1e-200, d * 1e300, d, [1e-310, 0.0, 0.0], [1e308, 1e308, 0.0]])
    Y = spherical_harmonics(xyz, 12)
    # derivatives at the subnormal row are refused (test_subnormal_vectors_are_refused...)
    _, dY, d2Y = spherical_harmonics_with_hessians(xyz[[0, 1, 2, 4]], 12)
    assert np.all(np.isfinite(Y))
    assert np.all(np.isfinite(dY[:3])) and np.all(np.isfinite(d2Y[1:3]))
    assert not np.isnan(d2Y).any()
    tol = identity_atol(1.0, 12)
    np.testing.assert_allclose(Y[0], Y[2], rtol=0, atol=tol)
    np.testing.assert_allclose(Y[1], Y[2], rtol=0, atol=tol)
    np.testing.assert_allclose(Y[3], spherical_harmonics(np.array([[1.0, 0, 0]]), 12)[0], rtol=0, atol=tol)
    np.testing.assert_allclose(Y[4], spherical_harmonics(np.array([[1.0, 1.0, 0]]), 12)[0], rtol=0, atol=tol)
    np.testing.assert_allclose(dY[0] * 1e-200, dY[2], rtol=tol, atol=tol * np.abs(dY[2]).max())


def test_single_point_kernels_match_the_range_kernels():
    """The per-point entries (what a CUDA thread calls) equal the CPU range kernels."""
    import numba

    from rstref._kernels import sph as K

    @numba.njit
    def per_point(xyz, axes, l_max, solid, coef, out, dout, d2out, v, g):
        q = np.empty((l_max + 1, l_max + 5))
        cs = np.empty((4, l_max + 1))
        for i in range(xyz.shape[0]):
            K.sph_hessians_point(xyz, i, axes, l_max, solid, coef, q, cs, out, dout, d2out)
            K.sph_values_point(xyz, i, axes, l_max, solid, coef, q, cs, v)
            K.sph_gradients_point(xyz, i, axes, l_max, solid, coef, q, cs, g[0], g[1])

    xyz = np.random.default_rng(4).normal(size=(7, 3))
    xyz[3] = 0.0
    for convention in CONVS:
        for solid in (False, True):
            sh = SphericalHarmonics(6, "component", convention, solid)
            n, L = len(xyz), sh.size
            out, dout, d2out = np.empty((n, L)), np.empty((n, 3, L)), np.empty((n, 3, 3, L))
            v, g = np.empty((n, L)), (np.empty((n, L)), np.empty((n, 3, L)))
            per_point(xyz, sh._axes, 6, solid, sh._coef, out, dout, d2out, v, g)
            Y, dY, d2Y = sh.compute_with_hessians(xyz)
            np.testing.assert_array_equal(out, Y)
            np.testing.assert_array_equal(dout, dY)
            np.testing.assert_array_equal(d2out, d2Y)
            np.testing.assert_array_equal(v, sh.compute(xyz))
            Yg, dYg = sh.compute_with_gradients(xyz)
            np.testing.assert_array_equal(g[0], Yg)
            np.testing.assert_array_equal(g[1], dYg)


@given(st.floats(1e-300, 1e-150), st.integers(0, 2**32 - 1))
def test_tiny_vectors_never_give_nan_derivatives(scale, seed):
    # derivatives scale as |r|^-1 and |r|^-2: they may overflow to inf, never to NaN,
    # and entries that vanish at the unit vector stay exactly 0
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=(1, 3))
    direction[0, rng.integers(3)] = 0.0
    xyz = np.vstack([direction / np.linalg.norm(direction), [[1.0, 0.0, 0.0]]])
    _, d1, h1 = rstref.spherical_harmonics_with_hessians(xyz, 6)
    _, d, h = rstref.spherical_harmonics_with_hessians(xyz * scale, 6)
    assert not np.isnan(h).any()
    # |dY| ~ 1/|r| <= ~1e301 is representable: finite and scale-free
    assert np.isfinite(d).all()
    np.testing.assert_allclose(d * scale, d1, rtol=1e-12, atol=1e-12 * np.abs(d1).max())


def test_subnormal_vectors_are_refused_for_derivatives_only():
    xyz = np.array([[1e-310, 0.0, 0.0]])
    assert np.isfinite(rstref.spherical_harmonics(xyz, 3)).all()
    with pytest.raises(ValueError, match="xyz"):
        rstref.spherical_harmonics_with_gradients(xyz, 3)
    with pytest.raises(ValueError, match="xyz"):
        rstref.spherical_harmonics_with_hessians(xyz, 3)
    # solid harmonics are polynomials: no division, no refusal
    assert np.isfinite(rstref.spherical_harmonics_with_hessians(xyz, 3, solid=True)[2]).all()


# ----------------------------------------------------------------------------- never NaN
_TINY = float(np.finfo(np.float64).tiny)
_KINDS = ("values", "gradients", "hessians")


def _evaluate(kind, xyz, l_max, solid, normalization="integral", convention="standard"):
    f = {"values": spherical_harmonics, "gradients": spherical_harmonics_with_gradients,
         "hessians": spherical_harmonics_with_hessians}[kind]
    out = f(xyz, l_max, normalization=normalization, convention=convention, solid=solid)
    return out if isinstance(out, tuple) else (out,)


def test_gradients_near_the_smallest_normal_are_finite_not_nan():
    """The README's promise at |r| = 1e-306: derivatives scale as 1/|r| (+-inf only if
    beyond float64), never NaN; both derivative kernels agree."""
    direction = np.array([[0.0, 0.0, 1.0], [0.3, -0.4, 0.0], [1.0, 1.0, 1.0]])
    xyz = direction * 1e-306
    _, d_ref = spherical_harmonics_with_gradients(direction / np.linalg.norm(direction, axis=1, keepdims=True), 8)
    for kind in ("gradients", "hessians"):
        _, d = _evaluate(kind, xyz, 8, False)[:2]
        assert not np.isnan(d).any()
        assert np.isfinite(d).all()  # |dY| <= ~10/|r| ~ 1e307 is representable
        scaled = d * (1e-306 * np.linalg.norm(xyz * 1e306, axis=1))[:, None, None]
        np.testing.assert_allclose(scaled, d_ref, rtol=1e-12, atol=1e-12 * np.abs(d_ref).max())
        assert np.array_equal(d[d_ref == 0], d_ref[d_ref == 0])  # structural zeros stay 0


def test_huge_solid_harmonics_overflow_to_signed_inf_never_nan():
    """Solid harmonics are degree-l polynomials: where r^l Y overflows the value is +-inf
    with the sign of the true value; exact zeros stay 0; the rest is unchanged."""
    p = 2.0**332  # 8.7e99
    r0 = np.array([[1.0, 0.5, 0.25], [1.0, 0.0, 0.0], [0.0, -1.0, 0.5]])
    for kind, order in zip(_KINDS, range(3)):
        ref = _evaluate(kind, r0, 6, True)
        got = _evaluate(kind, r0 * p, 6, True)
        for a, b, o in zip(got, ref, range(order + 1)):
            assert not np.isnan(a).any()
            for l in range(7):
                with np.errstate(over="ignore"):
                    want = np.ldexp(b[..., lm_block(l)], 332 * max(l - o, 0))
                have = a[..., lm_block(l)]
                fin = np.isfinite(want)
                np.testing.assert_allclose(have[fin], want[fin], rtol=1e-13, atol=0)
                assert np.array_equal(np.isinf(have), ~fin)
                assert np.array_equal(np.sign(have[~fin]), np.sign(want[~fin]))


@pytest.mark.parametrize("l_max", [0, 1, 2])
def test_huge_solid_hessians_at_low_l_max_are_exact_never_nan(l_max):
    """At l_max <= 1 the points are not scaled for the values (p^l cannot overflow), but
    the Hessians square the coordinates: |r| ~ 1e200 must still give exact zeros."""
    k = 664  # 2^664 ~ 1e200
    r0 = np.array([[1.0, -0.5, 0.25], [0.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    ref = _evaluate("hessians", r0, l_max, True)
    got = _evaluate("hessians", np.ldexp(r0, k), l_max, True)
    for order, (a, b) in enumerate(zip(got, ref)):
        assert not np.isnan(a).any()
        for l in range(l_max + 1):
            with np.errstate(over="ignore"):
                want = np.ldexp(b[..., lm_block(l)], k * max(l - order, 0))
            np.testing.assert_array_equal(a[..., lm_block(l)], want)


def test_issue_example_solid_overflow():
    Y = spherical_harmonics([[1e100, 5e99, 2.5e99]], 4, solid=True)
    assert not np.isnan(Y).any() and np.isinf(Y[0, lm_block(4)]).all()
    assert np.isfinite(Y[0, :lm_block(4).start]).all()


def _power_of_two_point(u, k):
    """``xyz = u 2^k`` (what is really passed) and ``xyz 2^-k`` exactly (the unit-scale twin)."""
    xyz = np.ldexp(np.asarray([u], dtype=float), k)
    return xyz, np.ldexp(xyz, -k)


# axis-aligned and diagonal points (where cancellations give exact zeros) and any float
_component = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5]), st.floats(-1.0, 1.0))


@settings(max_examples=max(settings().max_examples, 150))
@example((0.0, 0.0, 1.0), -1016, "gradients", False, "integral", "standard")  # 1.4e-306
@example((1.0, 0.5, 0.25), 332, "values", True, "integral", "standard")  # 8.7e99
@example((0.0, 1.0, 0.0), 1023, "hessians", True, "component", "e3nn")
@example((0.5, 0.0, 0.0), -1074, "values", False, "norm", "standard")
@given(st.tuples(_component, _component, _component), st.integers(-1074, 1023),
       st.sampled_from(_KINDS), st.booleans(), st.sampled_from(NORMS), st.sampled_from(CONVS))
def test_any_radius_never_nan_and_scales_exactly(u, k, kind, solid, normalization, convention):
    """Radii from 5e-324 to 1e308: values, gradients and Hessians are never NaN; they
    equal the unit-scale values times 2^(k*degree) where that is representable and are
    +-inf (or huge) where it is not; derivatives at subnormal |r| are refused."""
    l_max = 6
    xyz, back = _power_of_two_point(u, k)
    big = np.abs(xyz).max()
    args = (l_max, solid, normalization, convention)
    if kind != "values" and not solid and 0.0 < big < _TINY:
        with pytest.raises(ValueError, match="xyz"):
            _evaluate(kind, xyz, *args)
        return
    got = _evaluate(kind, xyz, *args)
    for a in got:
        assert not np.isnan(a).any()
    if np.abs(back).max() < 1e-3 or big == 0.0:
        return  # the unit-scale twin is itself extreme (or the zero vector): no identity
    ref = _evaluate(kind, back, *args)
    for order, (a, b) in enumerate(zip(got, ref)):
        for l in range(l_max + 1):
            degree = l - order if solid else -order
            with np.errstate(over="ignore", under="ignore"):
                want = np.ldexp(b[..., lm_block(l)], k * degree)
                scale = np.ldexp(np.abs(b).max(), k * degree)
            have = a[..., lm_block(l)]
            ok = np.abs(want) < 1e290
            if np.isfinite(scale) and scale < 1e290:
                atol = max(1e-11 * scale, 1e-290)
                np.testing.assert_allclose(have[ok], want[ok], rtol=1e-11, atol=atol)
            loud = ~ok & (np.abs(b[..., lm_block(l)]) > 1e-8 * np.abs(b).max())
            assert np.all(np.abs(have[loud]) > 1e280)
            assert np.array_equal(np.sign(have[loud]), np.sign(want[loud]))


def test_cli_sph_never_prints_nan():
    from rstref.cli import main

    for argv, must in ((["sph", "--l-max", "8", "--gradients", "0", "0", "1e-306"], None),
                       (["sph", "--l-max", "4", "--solid", "--gradients", "1e100", "5e99", "2.5e99"], "inf")):
        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = main(argv)
        out = buf.getvalue().lower()
        assert rc == 0 and "nan" not in out
        assert must is None or must in out


def test_outputs_beyond_the_memory_limit_are_refused_before_allocating(monkeypatch):
    from rstref import limits

    monkeypatch.setattr(limits, "MAX_ALLOCATION_BYTES", 10**6)
    xyz = np.ones((1000, 3))
    assert spherical_harmonics(xyz, 10).shape == (1000, 121)  # 0.97 MB
    with pytest.raises(ValueError, match=r"1000 points to l_max=10 needs about 3\.87 MB"):
        spherical_harmonics_with_gradients(xyz, 10)
    with pytest.raises(ValueError, match="MAX_ALLOCATION_BYTES"):
        spherical_harmonics_with_hessians(xyz[:100], 10)


# ----------------------------------------------------------------------------- low-l kernels
def test_generated_low_l_module_is_up_to_date():
    from rstref._kernels import _generate_sph_low

    stale = "is stale: run python -m rstref._kernels._generate_sph_low"
    assert _generate_sph_low.TARGET.read_text() == _generate_sph_low.source(), "sph_low " + stale
    assert _generate_sph_low.HEAD_TARGET.read_text() == _generate_sph_low.head_source(), (
        "sph_head " + stale)


def _general_kernels(sh, xyz):
    """Values and gradients by the general recurrence of rstref._kernels.sph."""
    from rstref.harmonics import _gradients_range, _values_range

    n = xyz.shape[0]
    Y = np.empty((n, sh.size))
    Yg = np.empty((n, sh.size))
    dY = np.empty((n, 3, sh.size))
    _values_range(xyz, 0, n, *sh.kernel_arguments(), Y)
    _gradients_range(xyz, 0, n, *sh.kernel_arguments(), Yg, dY)
    return Y, Yg, dY


def _awkward_points(seed):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(300, 3)) * np.exp(rng.uniform(-3, 3, size=(300, 1)))
    xyz[:6] = [[0, 0, 0], [0, 0, 1], [0, 0, -2], [1e-9, -1e-9, 1], [1e-300, 0, 2e-300],
               [3e200, -1e200, 2e200]]
    return xyz


@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("convention", CONVS)
@pytest.mark.parametrize("solid", [False, True])
def test_low_l_kernels_equal_the_general_recurrence(normalization, convention, solid):
    from rstref._kernels.sph_low import L_LOW

    xyz = _awkward_points(7)
    for l_max in (*range(L_LOW + 2), 12, 17):
        sh = SphericalHarmonics(l_max, normalization, convention, solid)
        Y, Yg, dY = _general_kernels(sh, xyz)
        # the values kernel (columns m outer, first degrees unrolled) and the gradients
        # kernel (degrees l outer) do the same operations in different orders
        np.testing.assert_array_equal(Y, Yg)
        # the unrolled code does the same operations: equal up to the sign of zeros
        np.testing.assert_array_equal(sh.compute(xyz), Y)
        got_Y, got_dY = sh.compute_with_gradients(xyz)
        np.testing.assert_array_equal(got_Y, Yg)
        np.testing.assert_array_equal(got_dY, dY)


@pytest.mark.parametrize("l_max", [0, 1, 4, 8])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("solid", [False, True])
def test_low_l_kernels_refuse_nonfinite_rows_everywhere(l_max, bad, solid):
    xyz = _awkward_points(8)
    for row, col in [(0, 0), (150, 1), (299, 2), (5, 2)]:
        pts = xyz.copy()
        pts[row, col] = bad
        sh = SphericalHarmonics(l_max, solid=solid)
        with pytest.raises(ValueError, match="xyz contains NaN or infinite"):
            sh.compute(pts)
        with pytest.raises(ValueError, match="xyz contains NaN or infinite"):
            sh.compute_with_gradients(pts)
        with pytest.raises(ValueError, match="xyz contains NaN or infinite"):
            sh.compute_with_hessians(pts)


@pytest.mark.parametrize("l_max", [0, 2, 8, 9])
def test_low_l_kernels_refuse_subnormal_rows_for_gradients_only(l_max):
    xyz = _awkward_points(9)
    xyz[200] = [1e-310, -3e-320, 0.0]
    sh = SphericalHarmonics(l_max)
    assert np.all(np.isfinite(sh.compute(xyz)))
    with pytest.raises(ValueError, match=r"rows \[200\]"):
        sh.compute_with_gradients(xyz)
    Y, dY = SphericalHarmonics(l_max, solid=True).compute_with_gradients(xyz)
    assert not np.any(np.isnan(Y)) and not np.any(np.isnan(dY))
    assert np.all(np.isfinite(Y[200])) and np.all(np.isfinite(dY[200]))


def test_low_l_threaded_path_equals_serial_path():
    import numba

    xyz = np.random.default_rng(10).normal(size=(5000, 3))
    for l_max in (0, 3, 8):
        sh = SphericalHarmonics(l_max)
        if numba.config.NUMBA_NUM_THREADS > 1:
            numba.set_num_threads(2)
        Y, dY = sh.compute_with_gradients(xyz)
        Yv = sh.compute(xyz)
        np.testing.assert_array_equal(Yv, Y)
        for i in (0, 2500, 4999):
            Yi, dYi = sh.compute_with_gradients(xyz[i:i + 1])
            np.testing.assert_array_equal(Yi[0], Y[i])
            np.testing.assert_array_equal(dYi[0], dY[i])
        bad = xyz.copy()
        bad[4321, 1] = np.nan
        with pytest.raises(ValueError, match="xyz contains NaN"):
            sh.compute(bad)
        with pytest.raises(ValueError, match="xyz contains NaN"):
            sh.compute_with_gradients(bad)
