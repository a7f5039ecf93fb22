"""Tests of rstref.tensor (issue 5): layout, projections and their derivatives, signals.

Oracles: a brute-force double loop over atoms and basis functions built from the public
radial basis and spherical harmonics (with the kernel norm computed as an explicit sum of
squares), block-diagonal Wigner D matrices assembled here from ``rstref.wigner_D``,
central differences, and exact identities (single-peak interpolation, parity).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rstref
from rstref import limits
from rstref import tolerances as tol
from rstref.tensor import RadialSphericalTensor, grid_local_maxima, nlm_index, nlm_range, nlm_size

CONVENTIONS = ["standard", "e3nn"]


# ----------------------------------------------------------------------------- helpers

def make_rst(n_max=4, l_max=3, primitive="cosines", r_cut=2.0, convention="standard",
             envelope_power=None):
    rb = rstref.OrthonormalRadialBasis(n_max, r_cut, primitive=primitive,
                                       envelope_power=envelope_power)
    return RadialSphericalTensor(n_max, rb, l_max, convention=convention)


def random_environment(seed, n_atoms, r_max=1.8, min_dist=0.15, min_r=0.05, avoid=()):
    """Random atoms inside the ball |r| < r_max, pairwise >= min_dist apart, radii >= min_r
    and at least 1e-3 away from every radius in ``avoid``; random values in [-1.5, 1.5]."""
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < n_atoms:
        p = rng.uniform(-r_max, r_max, 3)
        r = np.linalg.norm(p)
        if r >= r_max or r < min_r or any(abs(r - a) < 1e-3 for a in avoid):
            continue
        if all(np.linalg.norm(p - q) >= min_dist for q in points):
            points.append(p)
    values = rng.uniform(-1.5, 1.5, n_atoms)
    return np.array(points).reshape(n_atoms, 3), values


def brute_force_coefficients(rst, positions, values, normalize):
    """c = sum_i v_i phi(r_i) [/ sum_k phi_k(r_i)^2] by explicit loops."""
    c = np.zeros(rst.dim)
    for i in range(len(positions)):
        r = np.linalg.norm(positions[i])
        R = rst.radial_basis(np.array([r]))[0]
        Y = rstref.spherical_harmonics(positions[i:i + 1], rst.l_max, normalization="component",
                                       convention=rst.convention)[0]
        phi = np.zeros(rst.dim)
        for n in range(rst.n_max):
            for l in range(rst.l_max + 1):
                for m in range(-l, l + 1):
                    phi[nlm_index(n, l, m, rst.n_max)] = R[n] * Y[l * l + l + m]
        scale = np.sum(phi ** 2) if normalize else 1.0
        c += values[i] * phi / scale
    return c


def block_diagonal_D(rst, R):
    """Block-diagonal D(R) on the flat layout, assembled from rstref.wigner_D per (l, n)."""
    D = np.zeros((rst.dim, rst.dim))
    for l in range(rst.l_max + 1):
        Dl = rstref.wigner_D(l, R, convention=rst.convention)
        for n in range(rst.n_max):
            s = nlm_index(n, l, -l, rst.n_max)
            D[s:s + 2 * l + 1, s:s + 2 * l + 1] = Dl
    return D


def central_difference(f, x, h=tol.FD_STEP):
    """d f / d x[i, a] as an array (N, 3, ...) by central differences."""
    out = []
    for i in range(x.shape[0]):
        row = []
        for a in range(3):
            xp = x.copy()
            xm = x.copy()
            xp[i, a] += h
            xm[i, a] -= h
            row.append((f(xp) - f(xm)) / (2 * h))
        out.append(row)
    return np.array(out)


def fd_ok(analytic, numeric):
    scale = max(1.0, float(np.abs(analytic).max(initial=0.0)))
    return float(np.abs(analytic - numeric).max(initial=0.0)) <= tol.FD_RTOL * scale


# ----------------------------------------------------------------------------- layout

def test_layout_trio_matches_comprehension():
    n_max, l_max = 3, 4
    expected = [(n, l, m) for l in range(l_max + 1) for n in range(n_max) for m in range(-l, l + 1)]
    assert nlm_range(n_max, l_max) == expected
    assert nlm_size(n_max, l_max) == len(expected) == n_max * (l_max + 1) ** 2
    assert [nlm_index(n, l, m, n_max) for (n, l, m) in expected] == list(range(len(expected)))
    rst = make_rst(n_max, l_max)
    assert rst.dim == len(expected) and rst.nlm_range() == expected
    assert rst.nlm_index(2, 3, -1) == n_max * 9 + 2 * 7 + 2
    for l in range(l_max + 1):
        block = rst.block(l)
        assert [expected[j][1] for j in range(block.start, block.stop)] == [l] * (n_max * (2 * l + 1))
    assert np.array_equal(rst.l_of_index, [l for (_, l, _) in expected])


def test_irreps_and_parity_labels():
    rb = rstref.OrthonormalRadialBasis(5, 2.0)
    assert RadialSphericalTensor(5, rb, 4).irreps == "5x0e+5x1e+5x2e+5x3e+5x4e"
    assert RadialSphericalTensor(5, rb, 4, p_arg=-1).irreps == "5x0e+5x1o+5x2e+5x3o+5x4e"
    assert RadialSphericalTensor(5, rb, 4).dim == 125
    with pytest.raises(ValueError, match="p_val"):
        RadialSphericalTensor(5, rb, 4, p_val=-1)
    with pytest.raises(ValueError, match="p_arg"):
        RadialSphericalTensor(5, rb, 4, p_arg=2)
    with pytest.raises(ValueError, match="n_max"):
        RadialSphericalTensor(4, rb, 4)
    with pytest.raises(ValueError, match="l_max"):
        RadialSphericalTensor(5, rb, -1)
    with pytest.raises(ValueError, match="convention"):
        RadialSphericalTensor(5, rb, 4, convention="sphericart")
    with pytest.raises(TypeError, match="radial_basis"):
        RadialSphericalTensor(5, object(), 4)


# ----------------------------------------------------------------------------- values

@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("normalize", [True, False])
@given(seed=st.integers(0, 2 ** 32 - 1), n_atoms=st.integers(1, 6))
def test_coefficients_equal_brute_force(convention, normalize, seed, n_atoms):
    rst = make_rst(4, 3, primitive="cosine_bumps", convention=convention)
    x, v = random_environment(seed, n_atoms)
    c = rst.with_peaks_at(x, v, normalize=normalize)
    expected = brute_force_coefficients(rst, x, v, normalize)
    assert np.abs(c - expected).max() <= tol.identity_atol(np.abs(expected).max(), rst.l_max) * n_atoms
    # the derivative variants return the same values
    c1, _ = rst.with_peaks_at_with_gradients(x, v, normalize=normalize)
    c2, _, _ = rst.with_peaks_at_with_hessians(x, v, normalize=normalize)
    atol = tol.identity_atol(np.abs(c).max(), rst.l_max)
    assert np.abs(c - c1).max() <= atol and np.abs(c - c2).max() <= atol


@given(seed=st.integers(0, 2 ** 32 - 1))
def test_kernel_norm_identity(seed):
    """||phi(r)||^2 = (l_max+1)^2 sum_n R_n(|r|)^2 away from the centre ('component' SH)."""
    rst = make_rst(5, 4, primitive="cosine_bumps")
    x, _ = random_environment(seed, 8)
    phi = rst.basis_at(x)
    R = rst.radial_basis(np.linalg.norm(x, axis=1))
    lhs = np.sum(phi ** 2, axis=1)
    rhs = (rst.l_max + 1) ** 2 * np.sum(R ** 2, axis=1)
    assert np.abs(lhs - rhs).max() <= tol.identity_atol(rhs.max(), rst.l_max)


@pytest.mark.parametrize("convention", CONVENTIONS)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_single_peak_is_interpolated(convention, seed):
    """Kernel normalisation: the expansion of one peak has height v at the atom."""
    rst = make_rst(5, 4, primitive="cosine_bumps", convention=convention)
    x, v = random_environment(seed, 1)
    c = rst.with_peaks_at(x, v)
    assert abs(rst.signal_at(c, x)[0] - v[0]) <= tol.identity_atol(abs(v[0]), rst.l_max)


def test_values_default_to_ones():
    rst = make_rst()
    x, _ = random_environment(3, 4)
    assert np.array_equal(rst.with_peaks_at(x), rst.with_peaks_at(x, np.ones(4)))


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("normalize", [True, False])
@given(seed=st.integers(0, 2 ** 32 - 1), rot_seed=st.integers(0, 2 ** 32 - 1))
def test_coefficients_are_equivariant(convention, normalize, seed, rot_seed):
    """c(R r_i) = D(R) c(r_i) with the block-diagonal real Wigner D; c(-r_i) = (-1)^l c(r_i)."""
    rst = make_rst(3, 4, primitive="cosine_bumps", convention=convention)
    x, v = random_environment(seed, 5)
    R = rstref.random_rotation(rot_seed)
    c = rst.with_peaks_at(x, v, normalize=normalize)
    c_rot = rst.with_peaks_at(x @ R.T, v, normalize=normalize)
    D = block_diagonal_D(rst, R)
    atol = tol.identity_atol(np.abs(c).max(), rst.l_max) * len(x)
    assert np.abs(c_rot - D @ c).max() <= atol
    assert np.abs(rst.rotation_matrix(R) - D).max() <= tol.identity_atol(1.0, rst.l_max)
    c_inv = rst.with_peaks_at(-x, v, normalize=normalize)
    assert np.abs(c_inv - (-1.0) ** rst.l_of_index * c).max() <= atol


@given(seed=st.integers(0, 2 ** 32 - 1), rot_seed=st.integers(0, 2 ** 32 - 1))
def test_conventions_differ_by_a_fixed_rotation(seed, rot_seed):
    """e3nn's harmonics are the standard ones at (z, x, y): c_e3nn(x) = c_std(x P^T)."""
    x, v = random_environment(seed, 4)
    P = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    c_e3nn = make_rst(convention="e3nn").with_peaks_at(x, v)
    c_std = make_rst(convention="standard").with_peaks_at(x @ P.T, v)
    assert np.abs(c_e3nn - c_std).max() <= tol.identity_atol(np.abs(c_std).max(), 3) * len(x)


def test_permutation_invariance_of_coefficients():
    rst = make_rst()
    x, v = random_environment(11, 6)
    perm = np.random.default_rng(0).permutation(6)
    c = rst.with_peaks_at(x, v)
    assert np.abs(rst.with_peaks_at(x[perm], v[perm]) - c).max() <= tol.identity_atol(np.abs(c).max(), 3) * 6


# ----------------------------------------------------------------------------- derivatives

@pytest.mark.parametrize("primitive,envelope", [("cosines", None), ("smooth_cosines", None),
                                                ("cosine_bumps", None), ("cosines", 2)])
@pytest.mark.parametrize("normalize", [True, False])
@given(seed=st.integers(0, 2 ** 32 - 1), n_atoms=st.integers(1, 4))
def test_gradients_and_hessians_match_central_differences(primitive, envelope, normalize, seed,
                                                          n_atoms):
    rst = make_rst(4, 3, primitive=primitive, envelope_power=envelope)
    # cos^2 bumps are C1 at their joins: keep atoms away from them
    joins = rst.radial_basis.joins if primitive == "cosine_bumps" else ()
    x, v = random_environment(seed, n_atoms, avoid=tuple(joins))
    c, dc, d2c = rst.with_peaks_at_with_hessians(x, v, normalize=normalize)
    _, dc1 = rst.with_peaks_at_with_gradients(x, v, normalize=normalize)
    assert np.abs(dc - dc1).max() <= tol.identity_atol(np.abs(dc).max(), rst.l_max)
    assert fd_ok(dc, central_difference(lambda y: rst.with_peaks_at(y, v, normalize=normalize), x))
    # Hessian: central differences of the analytic gradient; atoms are independent
    full = central_difference(
        lambda y: rst.with_peaks_at_with_gradients(y, v, normalize=normalize)[1], x)  # (i,a,j,b,k)
    for i in range(n_atoms):
        for j in range(n_atoms):
            block = full[i, :, j]
            if i == j:
                assert fd_ok(d2c[i], block)
            else:
                assert np.abs(block).max() == 0.0
    assert np.array_equal(d2c, d2c.transpose(0, 2, 1, 3))


def test_derivatives_scale_with_values():
    rst = make_rst()
    x, v = random_environment(5, 3)
    _, dc, d2c = rst.with_peaks_at_with_hessians(x, v)
    _, dc1, d2c1 = rst.with_peaks_at_with_hessians(x, np.ones(3))
    assert np.allclose(dc, v[:, None, None] * dc1, rtol=0, atol=1e-14 * np.abs(dc).max())
    assert np.allclose(d2c, v[:, None, None, None] * d2c1, rtol=0, atol=1e-14 * np.abs(d2c).max())


# ----------------------------------------------------------------------------- special positions

@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("primitive", ["cosines", "cosine_bumps"])
def test_atom_at_the_centre(normalize, primitive):
    """Only l = 0 survives at the centre; the l = 0 part is continuous and twice
    differentiable there (R_n'(0) = 0 for these bases), l >= 1 derivatives are 0."""
    rst = make_rst(4, 3, primitive=primitive)
    zero = np.zeros((1, 3))
    c, dc, d2c = rst.with_peaks_at_with_hessians(zero, [2.0], normalize=normalize)
    R0, dR0, d2R0 = (a[0] for a in rst.radial_basis.with_derivatives(np.zeros(1)))
    assert np.abs(dR0).max() <= 1e-12  # the premise: an even radial basis
    s = (rst.l_max + 1) ** 2 * np.sum(R0 ** 2) if normalize else 1.0
    l0 = rst.block(0)
    assert np.allclose(c[l0], 2.0 * R0 / s, rtol=1e-14, atol=0)
    assert np.all(c[rst.l_of_index > 0] == 0.0)
    assert np.all(dc == 0.0)
    assert np.all(d2c[..., rst.l_of_index > 0] == 0.0)
    assert np.all(np.isfinite(d2c))
    # continuity of the l = 0 part: c(eps u) -> c(0)
    u = np.array([[0.6, -0.48, 0.64]])
    c_near = rst.with_peaks_at(1e-6 * u, [2.0], normalize=normalize)
    assert np.abs(c_near[l0] - c[l0]).max() <= 1e-9 * max(1.0, np.abs(c[l0]).max())
    # l = 0 Hessian at the centre = central difference of the analytic l = 0 gradient
    h = 1e-5
    for a in range(3):
        e = np.zeros((1, 3))
        e[0, a] = h
        gp = rst.with_peaks_at_with_gradients(e, [2.0], normalize=normalize)[1][0][:, l0]
        gm = rst.with_peaks_at_with_gradients(-e, [2.0], normalize=normalize)[1][0][:, l0]
        assert fd_ok(d2c[0, :, a, l0], (gp - gm) / (2 * h))


@pytest.mark.parametrize("normalize", [True, False])
def test_atoms_at_and_beyond_the_cutoff_contribute_nothing(normalize):
    rst = make_rst(4, 3, primitive="cosine_bumps")
    x, v = random_environment(2, 3)
    far = np.array([[2.0, 0.0, 0.0], [0.0, -3.0, 1.0], [0.0, 0.0, 2.0 + 1e-15]])
    c, dc, d2c = rst.with_peaks_at_with_hessians(x, v, normalize=normalize)
    c2, dc2, d2c2 = rst.with_peaks_at_with_hessians(np.vstack([x, far]), np.r_[v, 5.0, 5.0, 5.0],
                                                    normalize=normalize)
    assert np.array_equal(c, c2)
    assert np.array_equal(dc, dc2[:3]) and np.all(dc2[3:] == 0.0)
    assert np.array_equal(d2c, d2c2[:3]) and np.all(d2c2[3:] == 0.0)


def test_kernel_normalised_projection_is_discontinuous_at_the_cutoff():
    """DESIGN 2.5: phi/||phi||^2 does not go to 0 at r_cut; finite inside, 0 at r_cut, no inf."""
    r_cut = 2.0
    # cosine bumps do not vanish at r_cut: a jump from O(1) to 0
    rst = make_rst(4, 3, primitive="cosine_bumps", r_cut=r_cut)
    inside = rst.with_peaks_at([[0.0, 0.0, r_cut * (1 - 1e-12)]])
    at = rst.with_peaks_at([[0.0, 0.0, r_cut]])
    assert np.abs(inside).max() > 0.01 and np.all(at == 0.0)
    # with an envelope the basis vanishes at r_cut and phi/||phi||^2 grows like 1/R: large
    # but finite just inside, with finite derivatives
    rst = make_rst(4, 3, primitive="cosines", envelope_power=2, r_cut=r_cut)
    for eps in (1e-3, 1e-6, 1e-9):
        c, dc, d2c = rst.with_peaks_at_with_hessians([[0.0, r_cut * (1 - eps), 0.0]])
        assert all(np.all(np.isfinite(a)) for a in (c, dc, d2c))
    c_far, dc_far, d2c_far = rst.with_peaks_at_with_hessians([[0.0, r_cut * (1 - 1e-9), 0.0]])
    c_mid = rst.with_peaks_at([[0.0, r_cut * (1 - 1e-3), 0.0]])
    assert np.abs(c_far).max() > 1e3 * np.abs(c_mid).max()
    # the raw projection with a basis smooth at r_cut tends to 0 continuously
    rst = make_rst(4, 3, primitive="smooth_cosines", r_cut=r_cut)
    c = rst.with_peaks_at([[0.0, r_cut * (1 - 1e-4), 0.0]], normalize=False)
    assert np.abs(c).max() < 1e-9


def test_coincident_atoms_are_rejected():
    rst = make_rst()
    x = np.array([[0.3, 0.2, 0.1], [0.3, 0.2, 0.1 + 0.5 * limits.COINCIDENT_ATOMS_ATOL]])
    with pytest.raises(ValueError, match="coincide"):
        rst.with_peaks_at(x)
    with pytest.raises(ValueError, match="coincide"):
        rst.with_peaks_at_with_hessians(x)
    x[1, 2] = 0.1 + 2 * limits.COINCIDENT_ATOMS_ATOL
    assert np.all(np.isfinite(rst.with_peaks_at(x)))


# ----------------------------------------------------------------------------- bad input / empty

def test_bad_input_raises_clear_errors():
    rst = make_rst()
    x, v = random_environment(1, 3)
    with pytest.raises(ValueError, match="values"):
        rst.with_peaks_at(x, v[:2])
    with pytest.raises(ValueError, match="positions"):
        rst.with_peaks_at(x[:, :2], v)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="positions"):
        rst.with_peaks_at_with_gradients(bad, v)
    with pytest.raises(ValueError, match="values"):
        rst.with_peaks_at(x, [1.0, np.inf, 0.0])
    with pytest.raises(TypeError, match="normalize"):
        rst.with_peaks_at(x, v, normalize="yes")
    with pytest.raises(TypeError, match="positions"):
        rst.with_peaks_at(x.astype(complex), v)
    c = rst.with_peaks_at(x, v)
    with pytest.raises(ValueError, match=str(rst.dim)):
        rst.signal_at(c[:-1], x)
    with pytest.raises(ValueError, match="points"):
        rst.signal_at(c, x[:, :2])
    with pytest.raises(ValueError, match=str(rst.dim)):
        rst.norms_per_l(np.ones(rst.dim + 1))
    with pytest.raises(ValueError, match="res"):
        rst.signal_on_grid(c, None, 1)
    with pytest.raises(ValueError, match="r_cut"):
        rst.signal_on_grid(c, -1.0, 8)


def test_float32_is_promoted():
    rst = make_rst()
    x, v = random_environment(4, 3)
    c64 = rst.with_peaks_at(x.astype(np.float32).astype(np.float64), v.astype(np.float32))
    assert rst.with_peaks_at(x.astype(np.float32), v.astype(np.float32)).dtype == np.float64
    assert np.array_equal(rst.with_peaks_at(x.astype(np.float32), v.astype(np.float32)), c64)


@pytest.mark.parametrize("normalize", [True, False])
def test_zero_atoms_give_zeros_of_the_right_shape(normalize):
    rst = make_rst()
    c, dc, d2c = rst.with_peaks_at_with_hessians(np.zeros((0, 3)), normalize=normalize)
    assert c.shape == (rst.dim,) and np.all(c == 0.0)
    assert dc.shape == (0, 3, rst.dim) and d2c.shape == (0, 3, 3, rst.dim)
    c1, dc1 = rst.with_peaks_at_with_gradients(np.zeros((0, 3)), np.zeros(0))
    assert dc1.shape == (0, 3, rst.dim) and np.all(c1 == 0.0)


# ----------------------------------------------------------------------------- signals

@pytest.mark.parametrize("convention", CONVENTIONS)
def test_signal_at_equals_brute_force(convention):
    rst = make_rst(4, 3, primitive="cosine_bumps", convention=convention)
    x, v = random_environment(8, 4)
    c = rst.with_peaks_at(x, v)
    pts, _ = random_environment(9, 20, r_max=2.5, min_dist=0.0, min_r=0.0)
    pts = np.vstack([pts, np.zeros((1, 3))])
    f = rst.signal_at(c, pts)
    expected = np.array([brute_force_coefficients(rst, p[None], [1.0], False) @ c for p in pts])
    assert np.abs(f - expected).max() <= tol.identity_atol(np.abs(c).sum(), rst.l_max)
    outside = np.linalg.norm(pts, axis=1) >= rst.r_cut
    assert outside.any() and np.all(f[outside] == 0.0)
    # at the centre only l = 0 contributes
    R0 = rst.radial_basis(np.zeros(1))[0]
    assert abs(f[-1] - R0 @ c[rst.block(0)]) <= tol.identity_atol(np.abs(c).sum())


def test_signal_on_grid():
    rst = make_rst(4, 3, primitive="cosine_bumps")
    x, v = random_environment(8, 4)
    c = rst.with_peaks_at(x, v)
    lin, grid = rst.signal_on_grid(c, None, 9)  # odd: the centre is a grid point
    assert np.array_equal(lin, np.linspace(-2.0, 2.0, 9)) and grid.shape == (9, 9, 9)
    assert np.all(np.isfinite(grid))
    X, Y, Z = np.meshgrid(lin, lin, lin, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel(), Z.ravel()], axis=1)
    inside = np.linalg.norm(pts, axis=1) <= 2.0
    assert np.array_equal(grid.ravel()[inside], rst.signal_at(c, pts[inside]))
    assert np.all(grid.ravel()[~inside] == 0.0)
    # a smaller ball: zero outside it
    lin1, grid1 = rst.signal_on_grid(c, 1.0, 9)
    pts1 = pts / 2.0
    assert np.all(grid1.ravel()[np.linalg.norm(pts1, axis=1) > 1.0] == 0.0)


@given(seed=st.integers(0, 2 ** 32 - 1), rot_seed=st.integers(0, 2 ** 32 - 1))
def test_norms_per_l(seed, rot_seed):
    rst = make_rst(3, 4, primitive="cosine_bumps")
    x, v = random_environment(seed, 5)
    c = rst.with_peaks_at(x, v)
    norms = rst.norms_per_l(c)
    expected = [np.sqrt(sum(c[rst.nlm_index(n, l, m)] ** 2 for n in range(3)
                            for m in range(-l, l + 1))) for l in range(5)]
    assert np.allclose(norms, expected, rtol=1e-14, atol=0)
    R = rstref.random_rotation(rot_seed)
    rotated = rst.norms_per_l(rst.with_peaks_at(x @ R.T, v))
    assert np.abs(rotated - norms).max() <= tol.identity_atol(norms.max(), rst.l_max) * len(x)
    assert rst.norms_per_l(np.stack([c, 2 * c])).shape == (2, 5)


def test_grid_local_maxima_on_a_known_array():
    g = np.zeros((6, 6, 6))
    g[1, 1, 1] = 2.0
    g[4, 3, 2] = 3.0
    g[0, 5, 0] = 1.0   # corner: fewer neighbours, still a peak
    g[2, 2, 2] = 0.5   # below threshold
    g[3, 3, 3] = 1.5
    g[3, 3, 4] = 1.5   # a plateau: neither beats the other strictly
    idx = grid_local_maxima(g, 0.6)
    assert idx.tolist() == [[4, 3, 2], [1, 1, 1], [0, 5, 0]]
    with pytest.raises(ValueError, match="grid"):
        grid_local_maxima(np.zeros((3, 3)), 0.0)


def test_grid_peaks_are_local_maxima_of_the_signal():
    rst = make_rst(5, 4, primitive="cosine_bumps")
    x = np.array([[1.0, 0.0, 0.0], [-0.6, 0.9, 0.2], [0.1, -0.5, -1.1]])
    c = rst.with_peaks_at(x)
    positions, heights = rst.grid_peaks(c, res=21)
    lin, grid = rst.signal_on_grid(c, None, 21)
    assert len(heights) >= 1 and np.all(np.diff(heights) <= 0)
    assert np.all(heights > 0.5 * grid.max())
    assert np.allclose(rst.signal_at(c, positions), heights, rtol=1e-12, atol=0)
    # every atom has a peak within two voxels
    voxel = lin[1] - lin[0]
    for atom in x:
        assert np.min(np.linalg.norm(positions - atom, axis=1)) <= 2.0 * np.sqrt(3) * voxel
    assert rst.grid_peaks(np.zeros(rst.dim), res=5)[0].shape == (0, 3)


class _DuckRadialBasis:
    """Any object with n_max, r_cut and with_derivatives is accepted (generic path)."""

    def __init__(self, rb):
        self.n_max, self.r_cut, self._rb = rb.n_max, rb.r_cut, rb

    def __call__(self, r):
        return self._rb(r)

    def with_derivatives(self, r):
        return self._rb.with_derivatives(r)


@pytest.mark.parametrize("normalize", [True, False])
def test_generic_radial_basis_path_agrees(normalize):
    fast = make_rst(4, 3, primitive="cosine_bumps")
    duck = RadialSphericalTensor(4, _DuckRadialBasis(fast.radial_basis), 3)
    x, v = random_environment(12, 5)
    for a, b in zip(fast.with_peaks_at_with_hessians(x, v, normalize=normalize),
                    duck.with_peaks_at_with_hessians(x, v, normalize=normalize)):
        assert np.abs(a - b).max() <= tol.identity_atol(np.abs(a).max(), 3)


# ----------------------------------------------------------------------------- reliability


@settings(max_examples=15)
@given(coordinate=st.floats(2.0, 1.7e308), axis=st.integers(0, 2), sign=st.sampled_from([-1, 1]))
def test_signal_beyond_r_cut_is_zero_even_where_the_norm_overflows(coordinate, axis, sign):
    rst = make_rst(r_cut=2.0)
    c = rst.with_peaks_at(*random_environment(1, 3))
    point = np.full((1, 3), 0.1)
    point[0, axis] = sign * coordinate
    assert rst.signal_at(c, point).tolist() == [0.0]
    assert rst.signal_at(c, [[1e308] * 3]).tolist() == [0.0]
    assert not rst.basis_at(np.vstack([point, [[1e308, -1e308, 1e308]]])).any()


def test_ragged_and_non_numeric_arrays_name_the_argument():
    rst = make_rst()
    for bad in ([[0.1, 0.2, 0.3], [0.1, 0.2]], [[0.1, 0.2, "a"]], [[None, 0.0, 0.0]]):
        with pytest.raises((TypeError, ValueError), match="positions") as info:
            rst.with_peaks_at(bad)
        assert "inhomogeneous" not in str(info.value)
        assert "could not convert" not in str(info.value)
    with pytest.raises(ValueError, match="positions must be a rectangular array of numbers"):
        rst.with_peaks_at([[0.1, 0.2, 0.3], [0.1, 0.2]])
    with pytest.raises(TypeError, match="points"):
        rst.signal_at(np.zeros(rst.dim), [["x", "y", "z"]])


def test_subnormal_positions_with_derivatives_are_refused_naming_positions():
    rst = make_rst()
    x = np.array([[0.5, 0.1, 0.2], [1e-310, 0.0, 0.0]])
    rst.with_peaks_at(x)  # values only: fine
    for call in (rst.with_peaks_at_with_gradients, rst.with_peaks_at_with_hessians,
                 rstref.PowerSpectrum(rst).compute_with_gradients):
        with pytest.raises(ValueError, match=r"positions rows \[1\]"):
            call(x)
    from rstref import batched

    with pytest.raises(ValueError, match=r"positions rows \[1\]"):
        batched.power_spectra_with_gradients(rst, x, [0, 2])


def test_grid_requests_are_checked():
    rst = make_rst()
    c = rst.with_peaks_at(*random_environment(2, 3))
    with pytest.raises(ValueError, match=r"signal_on_grid\(res=1024\) needs about .*"
                                         "MAX_ALLOCATION_BYTES"):
        rst.signal_on_grid(c, res=1024)
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="threshold"):
            rst.grid_peaks(c, threshold=bad, res=5)
    with pytest.raises(TypeError, match="threshold"):
        rst.grid_peaks(c, threshold="0.1", res=5)
    import rstref.limits

    b = rstref.Bispectrum(rst)
    old = rstref.limits.MAX_ALLOCATION_BYTES
    try:
        rstref.limits.MAX_ALLOCATION_BYTES = 10_000
        with pytest.raises(ValueError, match="basis_at of 1000 points"):
            rst.basis_at(np.zeros((1000, 3)))
        with pytest.raises(ValueError, match="compute_with_hessians of 10 atoms"):
            rstref.PowerSpectrum(rst).compute_with_hessians(random_environment(3, 10)[0])
        with pytest.raises(ValueError, match="from_coefficients_with_hessians of 10 atoms"):
            b.from_coefficients_with_hessians(np.zeros(rst.dim), np.zeros((10, 3, rst.dim)),
                                              np.zeros((10, 3, 3, rst.dim)))
    finally:
        rstref.limits.MAX_ALLOCATION_BYTES = old
