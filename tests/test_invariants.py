"""Tests of rstref.invariants (issue 5): power spectrum, cross power spectrum, bispectrum.

Oracles: explicit formulas evaluated with NumPy loops (power spectrum), dense real
Clebsch-Gordan tensors from ``rstref.clebsch_gordan`` (bispectrum), the symmetry of the
real 3j symbols (redundancy removal), rotations/permutations/inversion, central
differences, Hessian symmetry and the rotation sum rule, and a power-spectrum-degenerate
pair of environments constructed from homometric sets.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tensor import central_difference, fd_ok, make_rst, random_environment

import rstref
from rstref import tolerances as tol
from rstref.invariants import (
    Bispectrum,
    Invariants,
    PowerSpectrum,
    bispectrum_range,
    bispectrum_size,
    power_spectrum,
    power_spectrum_cross,
    power_spectrum_cross_index,
    power_spectrum_cross_range,
    power_spectrum_cross_size,
    power_spectrum_cross_with_gradients,
    power_spectrum_index,
    power_spectrum_range,
    power_spectrum_size,
    power_spectrum_with_gradients,
)
from rstref.tensor import nlm_index

CONVENTIONS = ["standard", "e3nn"]

#: generators of rotations: (L_k)_{ab} = epsilon_{kab} (so L_k r = e_k x r up to sign)
EPSILON = np.zeros((3, 3, 3))
for _a, _b, _c in itertools.permutations(range(3)):
    EPSILON[_a, _b, _c] = np.linalg.det(np.eye(3)[[_a, _b, _c]])


def brute_force_power_spectrum(c, n_max, l_max):
    """p[l, n, n2] = w (2l+1)^-1/2 sum_m c[n,l,m] c[n2,l,m], n <= n2, explicit loops."""
    out = []
    for l in range(l_max + 1):
        for n in range(n_max):
            for n2 in range(n, n_max):
                acc = sum(c[nlm_index(n, l, m, n_max)] * c[nlm_index(n2, l, m, n_max)]
                          for m in range(-l, l + 1))
                w = 1.0 if n == n2 else math.sqrt(2.0)
                out.append(w * acc / math.sqrt(2 * l + 1))
    return np.array(out)


def block(c, n, l, n_max):
    s = nlm_index(n, l, -l, n_max)
    return c[s:s + 2 * l + 1]


def brute_force_bispectrum_triple(c, n_max, n1, l1, n2, l2, n3, l3):
    C = rstref.clebsch_gordan(l1, l2, l3)
    return np.einsum("abc,a,b,c->", C, block(c, n1, l1, n_max), block(c, n2, l2, n_max),
                     block(c, n3, l3, n_max))


def rotation_sum_rule(x, dp):
    """sum_i r_i x dp/dr_i, shape (3, F): zero for a rotation invariant."""
    return np.einsum("kab,ia,ibf->kf", EPSILON, x, dp)


# ----------------------------------------------------------------------------- layout

def test_power_spectrum_layout():
    n_max, l_max = 5, 4
    expected = [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n, n_max)]
    assert power_spectrum_range(n_max, l_max) == expected
    assert power_spectrum_size(n_max, l_max) == len(expected) == 75
    assert [power_spectrum_index(l, n, n2, n_max) for (l, n, n2) in expected] == list(range(75))
    cross = [(l, n, n2) for l in range(l_max + 1) for n in range(n_max) for n2 in range(n_max)]
    assert power_spectrum_cross_range(n_max, l_max) == cross
    assert power_spectrum_cross_size(n_max, l_max) == len(cross)
    assert [power_spectrum_cross_index(l, n, n2, n_max) for (l, n, n2) in cross] == list(range(len(cross)))
    ps = PowerSpectrum(make_rst(5, 4))
    assert ps.n_features == 75 and ps.feature_range() == expected
    with pytest.raises(ValueError):
        power_spectrum_index(0, 3, 2, n_max)


def _bispectrum_labels_by_brute_force(n_max, l_max, parity):
    """Every (n1, l1, n2, l2, n3, l3) from the defining conditions, not from the library's loops:
    blocks sorted by (l, n), triangle rule, parity filter, no odd triple with two equal
    blocks; ordered by (l1, l2, l3, n1, n2, n3)."""
    blocks = [(l, n) for l in range(l_max + 1) for n in range(n_max)]
    labels = []
    for (l1, n1), (l2, n2), (l3, n3) in itertools.product(blocks, repeat=3):
        odd = (l1 + l2 + l3) % 2 == 1
        if not (l1, n1) <= (l2, n2) <= (l3, n3) or not abs(l1 - l2) <= l3 <= l1 + l2:
            continue
        if (parity == "even" and odd) or (parity == "odd" and not odd):
            continue
        if odd and ((l1, n1) == (l2, n2) or (l2, n2) == (l3, n3)):
            continue
        labels.append((n1, l1, n2, l2, n3, l3))
    return sorted(labels, key=lambda t: (t[1], t[3], t[5], t[0], t[2], t[4]))


def _docstring_comprehension(function):
    """The layout comprehension written in ``function``'s docstring, as source text."""
    doc = function.__doc__
    start = doc.index("[", doc.index("::"))
    return doc[start:doc.index("\n\n", start)].strip()


def test_bispectrum_layout_matches_comprehension():
    n_max, l_max = 3, 4
    documented = _docstring_comprehension(bispectrum_range)

    for parity in ("all", "even", "odd"):
        expected = _bispectrum_labels_by_brute_force(n_max, l_max, parity)

        def parity_ok(s, parity=parity):
            return parity == "all" or (parity == "even") == (s % 2 == 0)

        assert eval(documented, {"parity_ok": parity_ok, "n_max": n_max, "l_max": l_max,
                                 "min": min, "range": range}) == expected
        assert bispectrum_range(n_max, l_max, parity) == expected
        assert bispectrum_size(n_max, l_max, parity) == len(expected)
        bs = Bispectrum(make_rst(n_max, l_max), parity=parity)
        assert bs.feature_range() == expected and bs.n_features == len(expected)
    assert bispectrum_size(n_max, l_max, "even") + bispectrum_size(n_max, l_max, "odd") == \
        bispectrum_size(n_max, l_max, "all")
    with pytest.raises(ValueError, match="parity"):
        Bispectrum(make_rst(), parity="chiral")


def test_descriptors_share_the_interface():
    rst = make_rst()
    for d in (PowerSpectrum(rst), Bispectrum(rst)):
        assert isinstance(d, Invariants) and d.rst is rst
        for name in ("compute", "compute_with_gradients", "compute_with_hessians",
                     "from_coefficients", "from_coefficients_with_gradients",
                     "from_coefficients_with_hessians", "feature_range"):
            assert callable(getattr(d, name))
        assert d.n_features == len(d.feature_range())
    with pytest.raises(TypeError, match="rst"):
        PowerSpectrum(rstref.OrthonormalRadialBasis(3, 2.0))


# ----------------------------------------------------------------------------- values

@given(seed=st.integers(0, 2 ** 32 - 1))
def test_power_spectrum_equals_formula(seed):
    n_max, l_max = 4, 3
    c = np.random.default_rng(seed).normal(size=n_max * (l_max + 1) ** 2)
    p = power_spectrum(c, n_max, l_max)
    expected = brute_force_power_spectrum(c, n_max, l_max)
    assert np.abs(p - expected).max() <= tol.identity_atol(np.abs(expected).max(), l_max)
    # batches
    batch = np.stack([c, 2 * c, -c])
    assert np.allclose(power_spectrum(batch, n_max, l_max), [p, 4 * p, p], rtol=1e-15, atol=0)
    assert power_spectrum(batch.reshape(3, 1, -1), n_max, l_max).shape == (3, 1, p.size)


@given(seed=st.integers(0, 2 ** 32 - 1))
def test_cross_power_spectrum_equals_formula(seed):
    n_max, l_max = 3, 3
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, n_max * (l_max + 1) ** 2))
    p = power_spectrum_cross(a, b, n_max, l_max)
    expected = [sum(a[nlm_index(n, l, m, n_max)] * b[nlm_index(n2, l, m, n_max)]
                    for m in range(-l, l + 1)) / math.sqrt(2 * l + 1)
                for (l, n, n2) in power_spectrum_cross_range(n_max, l_max)]
    assert np.abs(p - expected).max() <= tol.identity_atol(np.abs(expected).max(), l_max)
    # relation to the power spectrum of one density
    full = power_spectrum_cross(a, a, n_max, l_max)
    ps = power_spectrum(a, n_max, l_max)
    for f, (l, n, n2) in enumerate(power_spectrum_range(n_max, l_max)):
        w = 1.0 if n == n2 else math.sqrt(2.0)
        assert abs(ps[f] - w * full[power_spectrum_cross_index(l, n, n2, n_max)]) <= \
            tol.identity_atol(abs(ps[f]), l_max)


@pytest.mark.parametrize("parity", ["all", "even", "odd"])
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_bispectrum_equals_dense_cg_formula(parity, seed):
    rst = make_rst(3, 3)
    bs = Bispectrum(rst, parity=parity)
    c = np.random.default_rng(seed).normal(size=rst.dim)
    B = bs.from_coefficients(c)
    expected = np.array([brute_force_bispectrum_triple(c, 3, *t) for t in bs.feature_range()])
    assert np.abs(B - expected).max() <= tol.identity_atol(np.abs(expected).max(), rst.l_max)
    assert bs.from_coefficients(np.stack([c, c])).shape == (2, bs.n_features)


@settings(max_examples=5)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_removed_bispectrum_triples_are_redundant_or_zero(seed):
    """Every ordered triple of blocks gives +-sqrt((2 l3+1)/(2 l3'+1)) times a kept
    invariant (the canonical reordering), or exactly 0 when it was dropped as odd with a
    repeated block."""
    n_max, l_max = 2, 3
    rst = make_rst(n_max, l_max)
    bs = Bispectrum(rst)
    c = np.random.default_rng(seed).normal(size=rst.dim)
    B = dict(zip(bs.feature_range(), bs.from_coefficients(c)))
    blocks = [(n, l) for l in range(l_max + 1) for n in range(n_max)]
    checked = 0
    for b1, b2, b3 in itertools.product(blocks, repeat=3):
        (n1, l1), (n2, l2), (n3, l3) = b1, b2, b3
        if not abs(l1 - l2) <= l3 <= l1 + l2:
            continue
        full = brute_force_bispectrum_triple(c, n_max, n1, l1, n2, l2, n3, l3)
        s = sorted([b1, b2, b3], key=lambda b: (b[1], b[0]))
        key = (s[0][0], s[0][1], s[1][0], s[1][1], s[2][0], s[2][1])
        atol = tol.identity_atol(max(1.0, abs(full)), l_max) * 8
        if key in B:
            ratio = math.sqrt((2 * l3 + 1) / (2 * key[5] + 1))
            assert min(abs(full - ratio * B[key]), abs(full + ratio * B[key])) <= atol
        else:
            assert (l1 + l2 + l3) % 2 == 1 and abs(full) <= atol
        checked += 1
    assert checked > len(B)


# ----------------------------------------------------------------------------- symmetries

@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("normalize", [True, False])
@given(seed=st.integers(0, 2 ** 32 - 1), rot_seed=st.integers(0, 2 ** 32 - 1),
       perm_seed=st.integers(0, 2 ** 32 - 1))
def test_invariance_under_rotations_and_permutations(convention, normalize, seed, rot_seed,
                                                     perm_seed):
    rst = make_rst(3, 4, primitive="cosine_bumps", convention=convention)
    x, v = random_environment(seed, 5)
    R = rstref.random_rotation(rot_seed)
    perm = np.random.default_rng(perm_seed).permutation(5)
    for d in (PowerSpectrum(rst), Bispectrum(rst)):
        p = d.compute(x, v, normalize=normalize)
        atol = tol.identity_atol(np.abs(p).max(), rst.l_max) * len(x)
        assert np.abs(d.compute(x @ R.T, v, normalize=normalize) - p).max() <= atol
        assert np.abs(d.compute(x[perm], v[perm], normalize=normalize) - p).max() <= atol


@given(seed=st.integers(0, 2 ** 32 - 1))
def test_conventions_give_identical_invariants(seed):
    x, v = random_environment(seed, 5)
    std, e3 = make_rst(3, 4, convention="standard"), make_rst(3, 4, convention="e3nn")
    for cls in (PowerSpectrum, Bispectrum):
        a = cls(std).compute(x, v)
        b = cls(e3).compute(x, v)
        assert np.abs(a - b).max() <= tol.identity_atol(np.abs(a).max(), 4) * len(x)


@given(seed=st.integers(0, 2 ** 32 - 1))
def test_parity(seed):
    """Under inversion: p unchanged; B gets (-1)^(l1+l2+l3); odd B vanish for planar sets."""
    rst = make_rst(3, 4)
    x, v = random_environment(seed, 5)
    ps, bs = PowerSpectrum(rst), Bispectrum(rst)
    p, B = ps.compute(x, v), bs.compute(x, v)
    atol = tol.identity_atol(max(np.abs(p).max(), np.abs(B).max()), 4) * len(x)
    assert np.abs(ps.compute(-x, v) - p).max() <= atol
    sign = np.array([(-1) ** (t[1] + t[3] + t[5]) for t in bs.feature_range()])
    assert np.abs(bs.compute(-x, v) - sign * B).max() <= atol
    odd = sign < 0
    assert np.abs(B[odd]).max() > 1e3 * atol  # a generic environment is chiral
    flat = x.copy()
    flat[:, 2] = 0.0
    R = rstref.random_rotation(seed)
    assert np.abs(bs.compute(flat @ R.T, v)[odd]).max() <= atol
    assert np.allclose(Bispectrum(rst, parity="odd").compute(x, v), B[odd], rtol=0, atol=atol)
    assert np.allclose(Bispectrum(rst, parity="even").compute(x, v), B[~odd], rtol=0, atol=atol)


# ----------------------------------------------------------------------------- derivatives

@pytest.mark.parametrize("descriptor", ["power", "bi"])
@pytest.mark.parametrize("normalize", [True, False])
@settings(max_examples=10)
@given(seed=st.integers(0, 2 ** 32 - 1), n_atoms=st.integers(1, 4))
def test_gradients_and_hessians(descriptor, normalize, seed, n_atoms):
    rst = make_rst(3, 3, primitive="cosines")
    d = PowerSpectrum(rst) if descriptor == "power" else Bispectrum(rst)
    x, v = random_environment(seed, n_atoms)
    p, dp, d2p = d.compute_with_hessians(x, v, normalize=normalize)
    p1, dp1 = d.compute_with_gradients(x, v, normalize=normalize)
    assert np.abs(p - p1).max() <= tol.identity_atol(np.abs(p).max(), rst.l_max)
    assert np.abs(dp - dp1).max() <= tol.identity_atol(np.abs(dp).max(), rst.l_max)
    assert p.shape == (d.n_features,) and dp.shape == (n_atoms, 3, d.n_features)
    assert d2p.shape == (n_atoms, 3, n_atoms, 3, d.n_features)
    assert fd_ok(dp, central_difference(lambda y: d.compute(y, v, normalize=normalize), x))
    fd2 = central_difference(lambda y: d.compute_with_gradients(y, v, normalize=normalize)[1], x)
    assert fd_ok(d2p, fd2.transpose(2, 3, 0, 1, 4))
    assert np.abs(d2p - d2p.transpose(2, 3, 0, 1, 4)).max() <= tol.identity_atol(np.abs(d2p).max())
    # rotation sum rule: sum_i r_i x dp/dr_i = 0
    scale = np.abs(x).max() * np.abs(dp).max()
    assert np.abs(rotation_sum_rule(x, dp)).max() <= tol.identity_atol(scale, rst.l_max) * n_atoms


@pytest.mark.parametrize("descriptor", ["power", "bi"])
def test_hessian_rotation_sum_rule(descriptor):
    """Differentiating sum_i r_i x dp/dr_i = 0 once more: for every (j, b),
    sum_i eps_kac r_ia d2p/dr_ic dr_jb + eps_k b c dp/dr_jc = 0."""
    rst = make_rst(3, 3, primitive="cosine_bumps")
    d = PowerSpectrum(rst) if descriptor == "power" else Bispectrum(rst)
    x, v = random_environment(17, 4, avoid=tuple(rst.radial_basis.joins))
    _, dp, d2p = d.compute_with_hessians(x, v)
    lhs = np.einsum("kac,ia,icjbf->kjbf", EPSILON, x, d2p) + np.einsum("kbc,jcf->kjbf", EPSILON, dp)
    scale = max(np.abs(x).max() * np.abs(d2p).max(), np.abs(dp).max())
    assert np.abs(lhs).max() <= tol.identity_atol(scale, rst.l_max) * len(x)


@given(seed=st.integers(0, 2 ** 32 - 1))
def test_cross_power_spectrum_gradients(seed):
    """Two densities depending on separate atom sets: dp_a, dp_b vs central differences."""
    rst = make_rst(3, 3)
    x, v = random_environment(seed, 5)
    xa, xb = x[:2], x[2:]

    def cross(ya, yb):
        return power_spectrum_cross(rst.with_peaks_at(ya, v[:2]), rst.with_peaks_at(yb, v[2:]), 3, 3)

    ca, dca = rst.with_peaks_at_with_gradients(xa, v[:2])
    cb, dcb = rst.with_peaks_at_with_gradients(xb, v[2:])
    p, dpa, dpb = power_spectrum_cross_with_gradients(ca, dca, cb, dcb, 3, 3)
    assert np.array_equal(p, power_spectrum_cross(ca, cb, 3, 3))
    assert fd_ok(dpa, central_difference(lambda y: cross(y, xb), xa))
    assert fd_ok(dpb, central_difference(lambda y: cross(xa, y), xb))
    # the same density twice: total derivative dp_a + dp_b is that of the symmetric product
    c, dc = rst.with_peaks_at_with_gradients(x, v)
    _, d1, d2 = power_spectrum_cross_with_gradients(c, dc, c, dc, 3, 3)
    assert fd_ok(d1 + d2, central_difference(
        lambda y: power_spectrum_cross(rst.with_peaks_at(y, v), rst.with_peaks_at(y, v), 3, 3), x))


def test_power_spectrum_with_gradients_accepts_any_leading_shape():
    rst = make_rst(3, 2)
    x, v = random_environment(3, 3)
    c, dc = rst.with_peaks_at_with_gradients(x, v)
    p, dp = power_spectrum_with_gradients(c, dc, 3, 2)
    _, dp_flat = power_spectrum_with_gradients(c, dc.reshape(9, -1), 3, 2)
    assert dp.shape == (3, 3, p.size) and np.array_equal(dp.reshape(9, -1), dp_flat)


# ----------------------------------------------------------------------------- degeneracy

def homometric_pair(radius=1.2, apex=0.8):
    """Two environments with the same multiset of (|r_i|, |r_j|, r_i . r_j).

    Points of the regular octagon {0,1,2,5} and {0,1,3,4} (positions k * 45 degrees on a
    circle in the xy plane) have the same multiset of cyclic differences {1,1,2,3,3,4}
    (homometric sets) but different gap sequences (1,1,3,3) and (1,2,1,4), so no rotation
    or reflection maps one onto the other.  An apex on the z axis has the same dot
    product (0) with every ring point, so it keeps them homometric and non-planar.
    """
    def ring(ks):
        ang = 2 * np.pi * np.array(ks) / 8
        pts = np.stack([radius * np.cos(ang), radius * np.sin(ang), np.zeros(len(ks))], axis=1)
        return np.vstack([pts, [[0.0, 0.0, apex]]])

    return ring([0, 1, 2, 5]), ring([0, 1, 3, 4])


@pytest.mark.parametrize("normalize", [True, False])
def test_power_spectrum_degenerate_pair(normalize):
    a, b = homometric_pair()
    R = rstref.random_rotation(5)
    b = b @ R.T  # present them in unrelated orientations
    # the premise: same pair geometry, different triangle geometry
    def pairs(P):
        return np.sort([(round(np.linalg.norm(p), 12), round(np.linalg.norm(q), 12),
                                    round(p @ q, 12)) for p in P for q in P], axis=0)
    assert np.allclose(pairs(a), pairs(b), atol=1e-12)
    def tri(P):
        return sorted(tuple(sorted(np.round([np.linalg.norm(P[i] - P[j]), np.linalg.norm(P[j] - P[k]),
                                                      np.linalg.norm(P[i] - P[k])], 9)))
                               for i, j, k in itertools.combinations(range(len(P)), 3))
    assert tri(a) != tri(b)
    rst = make_rst(5, 4, primitive="cosine_bumps")
    pa = PowerSpectrum(rst).compute(a, normalize=normalize)
    pb = PowerSpectrum(rst).compute(b, normalize=normalize)
    assert np.abs(pa - pb).max() <= tol.identity_atol(np.abs(pa).max(), rst.l_max) * len(a)
    assert np.abs(pa).max() > 0.1
    bs = Bispectrum(rst, parity="even")
    Ba, Bb = bs.compute(a, normalize=normalize), bs.compute(b, normalize=normalize)
    assert np.abs(Ba - Bb).max() > 0.05 * np.abs(Ba).max()


def test_mirror_images_differ_only_in_odd_bispectrum():
    rst = make_rst(4, 4)
    x, v = random_environment(23, 5)
    mirror = x * [1.0, 1.0, -1.0]
    ps, bs = PowerSpectrum(rst), Bispectrum(rst)
    p = ps.compute(x, v)
    assert np.abs(ps.compute(mirror, v) - p).max() <= tol.identity_atol(np.abs(p).max(), 4) * 5
    B, Bm = bs.compute(x, v), bs.compute(mirror, v)
    odd = np.array([(t[1] + t[3] + t[5]) % 2 == 1 for t in bs.feature_range()])
    atol = tol.identity_atol(np.abs(B).max(), 4) * 5
    assert np.abs(Bm[~odd] - B[~odd]).max() <= atol
    assert np.abs(Bm[odd] + B[odd]).max() <= atol and np.abs(B[odd]).max() > 1e3 * atol


# ----------------------------------------------------------------------------- bad input / empty

def test_bad_input():
    rst = make_rst(3, 2)
    ps, bs = PowerSpectrum(rst), Bispectrum(rst)
    with pytest.raises(ValueError, match="c must have shape"):
        power_spectrum(np.ones(rst.dim - 1), 3, 2)
    with pytest.raises(ValueError, match="c must have shape"):
        ps.from_coefficients(np.ones(rst.dim + 3))
    with pytest.raises(ValueError, match="c must have shape"):
        bs.from_coefficients(np.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        power_spectrum(np.full(rst.dim, np.nan), 3, 2)
    with pytest.raises(ValueError, match="n_max"):
        power_spectrum(np.ones(rst.dim), 0, 2)
    with pytest.raises(TypeError, match="l_max"):
        power_spectrum(np.ones(rst.dim), 3, 2.0)
    with pytest.raises(ValueError, match="same shape"):
        power_spectrum_cross(np.ones(rst.dim), np.ones((2, rst.dim)), 3, 2)
    with pytest.raises(ValueError, match="dc"):
        power_spectrum_with_gradients(np.ones(rst.dim), np.ones((4, rst.dim - 1)), 3, 2)
    x, v = random_environment(1, 3)
    for d in (ps, bs):
        with pytest.raises(ValueError, match="values"):
            d.compute(x, v[:2])
        bad = x.copy()
        bad[1, 1] = np.nan
        with pytest.raises(ValueError, match="positions"):
            d.compute_with_gradients(bad, v)
        with pytest.raises(ValueError, match="d2c"):
            c, dc, d2c = rst.with_peaks_at_with_hessians(x, v)
            d.from_coefficients_with_hessians(c, dc, d2c[:2])
    with pytest.raises(ValueError, match="l_max"):
        Bispectrum(make_rst(2, 11))


@pytest.mark.parametrize("cls", [PowerSpectrum, Bispectrum])
def test_zero_atoms(cls):
    rst = make_rst(3, 2)
    d = cls(rst)
    empty = np.zeros((0, 3))
    F = d.n_features
    p = d.compute(empty)
    assert p.shape == (F,) and np.all(p == 0.0)
    p, dp = d.compute_with_gradients(empty)
    assert dp.shape == (0, 3, F) and np.all(p == 0.0)
    p, dp, d2p = d.compute_with_hessians(empty, np.zeros(0))
    assert d2p.shape == (0, 3, 0, 3, F) and np.all(p == 0.0)


# ----------------------------------------------------------------------------- overflow


def _homogeneous_scaling_ok(scaled, base, factor, degree):
    """``scaled`` equals ``base * factor**degree`` (applied one factor at a time): never
    NaN, +-inf exactly where that exceeds float64, else equal to rounding."""
    expected = np.array(base, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        for _ in range(degree):
            expected = expected * factor
    scaled = np.asarray(scaled)
    assert not np.isnan(scaled).any()
    clear = (np.abs(expected) < 1e306) & (np.abs(expected) > 1e-280)
    huge = np.isinf(expected)
    top = float(np.abs(expected[clear]).max(initial=0.0))
    np.testing.assert_allclose(scaled[clear], expected[clear], rtol=1e-11, atol=1e-11 * top)
    assert np.array_equal(scaled[huge], expected[huge])


@pytest.mark.parametrize("invariant", [PowerSpectrum, Bispectrum])
@settings(max_examples=12)
@given(exponent=st.integers(-320, 308), seed=st.integers(0, 2 ** 16))
def test_invariants_of_huge_or_tiny_peaks_are_never_nan(invariant, exponent, seed):
    """Finite peaks of any magnitude: the invariants (and their derivatives) are the
    homogeneous scaling of the unit-magnitude ones, +-inf beyond float64, never NaN."""
    desc = invariant(make_rst(n_max=3, l_max=2))
    x, v = random_environment(seed, 4)
    factor = 10.0 ** exponent if exponent > -308 else 5e-324
    deg = desc.degree
    base = desc.compute_with_hessians(x, v)
    with np.errstate(invalid="raise"):
        scaled = desc.compute_with_hessians(x, v * factor)
    for got, ref in zip(scaled, base):
        _homogeneous_scaling_ok(got, ref, factor, deg)
    _homogeneous_scaling_ok(desc.compute_with_gradients(x, v * factor)[1], base[1], factor, deg)


@pytest.mark.parametrize("invariant", [PowerSpectrum, Bispectrum])
@settings(max_examples=12)
@given(exponent=st.integers(-320, 308), seed=st.integers(0, 2 ** 16))
def test_invariants_of_huge_or_tiny_coefficients_are_never_nan(invariant, exponent, seed):
    """from_coefficients* with coefficients of any finite magnitude: never NaN."""
    rst = make_rst(n_max=3, l_max=2)
    desc = invariant(rst)
    x, v = random_environment(seed, 3)
    c, dc, d2c = rst.with_peaks_at_with_hessians(x, v)
    factor = 10.0 ** exponent if exponent > -308 else 5e-324
    deg = desc.degree
    _homogeneous_scaling_ok(desc.from_coefficients(c * factor), desc.from_coefficients(c),
                            factor, deg)
    _homogeneous_scaling_ok(desc.from_coefficients(np.stack([c * factor, c])[0]),
                            desc.from_coefficients(c), factor, deg)
    for got, ref in zip(desc.from_coefficients_with_gradients(c * factor, dc * factor),
                        desc.from_coefficients_with_gradients(c, dc)):
        _homogeneous_scaling_ok(got, ref, factor, deg)
    for got, ref in zip(desc.from_coefficients_with_hessians(c * factor, dc * factor,
                                                             d2c * factor),
                        desc.from_coefficients_with_hessians(c, dc, d2c)):
        _homogeneous_scaling_ok(got, ref, factor, deg)


@settings(max_examples=10)
@given(exponent=st.integers(-320, 308), seed=st.integers(0, 2 ** 16))
def test_cross_power_spectrum_of_huge_coefficients_is_never_nan(exponent, seed):
    rng = np.random.default_rng(seed)
    n_max, l_max = 3, 2
    dim = n_max * (l_max + 1) ** 2
    a, b = rng.normal(size=(2, 2, dim))
    da, db = rng.normal(size=(2, 4, dim))
    factor = 10.0 ** exponent if exponent > -308 else 5e-324
    _homogeneous_scaling_ok(power_spectrum_cross(a * factor, b * factor, n_max, l_max),
                            power_spectrum_cross(a, b, n_max, l_max), factor, 2)
    got = power_spectrum_cross_with_gradients(a[0] * factor, da * factor, b[0] * factor,
                                              db * factor, n_max, l_max)
    ref = power_spectrum_cross_with_gradients(a[0], da, b[0], db, n_max, l_max)
    for g, r in zip(got, ref):
        _homogeneous_scaling_ok(g, r, factor, 2)


def test_batched_and_featurized_invariants_of_huge_values_are_never_nan():
    """The issue's examples: values 1e160 / species_values 1e300 through every path."""
    from ase.build import molecule

    from rstref import batched

    rst = make_rst(n_max=3, l_max=2)
    x, v = random_environment(3, 5)
    p = batched.power_spectra(rst, np.vstack([x, x]), [0, 5, 10], np.concatenate([v, v * 1e160]))
    _homogeneous_scaling_ok(p[1], p[0], 1e160, 2)
    p, dp = batched.power_spectra_with_gradients(rst, np.vstack([x, x]), [0, 5, 10],
                                                 np.concatenate([v, v * 1e100]))
    _homogeneous_scaling_ok(dp[5:], dp[:5], 1e100, 2)
    mol = molecule("N2H4")
    for invariant, deg in (("power_spectrum", 2), ("bispectrum", 3)):
        kw = dict(r_cut=3.0, n_max=3, l_max=2, species_mode="values", invariant=invariant,
                  gradients=True)
        ref = rstref.featurize(mol, species_values={"H": -1.0, "N": 1.0}, **kw)
        for factor in (1e100, 1e160, 1e300):
            got = rstref.featurize(mol, species_values={"H": -factor, "N": factor}, **kw)
            _homogeneous_scaling_ok(got.features, ref.features, factor, deg)
            _homogeneous_scaling_ok(got.dense_gradients()[2], ref.dense_gradients()[2], factor, deg)
