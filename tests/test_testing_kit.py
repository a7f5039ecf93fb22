"""The property kit rstref.testing: it passes correct featurizers and catches broken ones.

The featurizers here are toy NumPy codes written for these tests (a Gaussian-smeared radial
distribution with a cutoff function of chosen smoothness, sorted pair distances, a
periodic pair-sum featurizer), with hand-derived gradients and Hessians.  Each property
is shown both ways: the correct code passes for every input hypothesis draws, and a code
broken in exactly that property is caught, with the known defect size as oracle where
there is one (the jump at a hard cutoff, the jump of the second derivative of a C^1
cutoff).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rstref import tolerances as tol
from rstref.testing import (
    CheckReport,
    assert_equivariant,
    assert_gradient_matches,
    assert_hessian_matches,
    assert_permutation_equivariant,
    assert_permutation_invariant,
    assert_rotation_invariant,
    assert_smooth_at_cutoff,
    assert_translation_invariant,
    block_diagonal_representation,
    check_cutoff_smoothness,
    check_equivariance,
    check_gradient,
    check_hessian,
    check_permutation_equivariance,
    check_permutation_invariance,
    check_rotation_invariance,
    check_translation_invariance,
)
from rstref.testing import strategies as kst

R_CUT = 2.0
MU = np.linspace(0.0, R_CUT, 9)  # the last centre sits on the cutoff: jumps there are O(1)
SIGMA = 0.3


# ---------------------------------------------------------------------------------------
# toy featurizers
# ---------------------------------------------------------------------------------------

def cutoff_c2(r):
    """(1 - r/rc)^3 inside, 0 outside: value, first and second derivative vanish at rc (C^2)."""
    s = np.clip(1 - r / R_CUT, 0.0, None)
    return s ** 3, -3 * s ** 2 / R_CUT, 6 * s / R_CUT ** 2


def cutoff_c1(r):
    """(1 - r/rc)^2: C^1 but the second derivative jumps from 2/rc^2 to 0 (not C^2)."""
    s = np.clip(1 - r / R_CUT, 0.0, None)
    inside = (r < R_CUT).astype(float)
    return s ** 2, -2 * s / R_CUT, 2 * inside / R_CUT ** 2


def cutoff_hard(r):
    """1 inside, 0 outside: not even continuous."""
    inside = (r < R_CUT).astype(float)
    return inside, 0 * r, 0 * r


def cutoff_blowup(r):
    """1 / (rc - r)^... like a kernel-normalised projection: diverges at rc, 0 outside."""
    inside = r < R_CUT
    gap = np.where(inside, R_CUT - r, 1.0)
    return np.where(inside, 1 / gap, 0.0), np.where(inside, 1 / gap ** 2, 0.0), np.where(inside, 2 / gap ** 3, 0.0)


def radial_terms(r, cutoff):
    """h_k(r) = fc(r) G_k(r) and its first two r-derivatives, each (n, K)."""
    fc, dfc, d2fc = (a[:, None] for a in cutoff(r))
    u = r[:, None] - MU
    G = np.exp(-u ** 2 / (2 * SIGMA ** 2))
    dG = -u / SIGMA ** 2 * G
    d2G = (u ** 2 / SIGMA ** 4 - 1 / SIGMA ** 2) * G
    return fc * G, dfc * G + fc * dG, d2fc * G + 2 * dfc * dG + fc * d2G


def make_rdf(cutoff=cutoff_c2, gradient_sign=1.0, hessian_bug=False):
    """RDF featurizer f_k = sum_i fc(r_i) G_k(r_i) of an environment, with derivatives.

    Returns (value, value_with_gradients, value_with_hessians); the Hessian is blockdiag
    ((N, 3, 3, K)).  ``gradient_sign=-1`` and ``hessian_bug`` plant derivative bugs.
    """
    def value(x):
        r = np.linalg.norm(x, axis=1)
        return radial_terms(r, cutoff)[0].sum(axis=0)

    def with_gradients(x):
        r = np.linalg.norm(x, axis=1)
        h, dh, _ = radial_terms(r, cutoff)
        unit = x / r[:, None]
        return h.sum(axis=0), gradient_sign * unit[:, :, None] * dh[:, None, :]

    def with_hessians(x):
        r = np.linalg.norm(x, axis=1)
        h, dh, d2h = radial_terms(r, cutoff)
        unit = x / r[:, None]
        outer = unit[:, :, None] * unit[:, None, :]
        transverse = np.eye(3) - outer
        if hessian_bug:  # forgets the transverse (curvature) term h'/r (I - u u^T)
            transverse = 0 * transverse
        hess = (outer[..., None] * d2h[:, None, None, :]
                + transverse[..., None] * (dh / r[:, None])[:, None, None, :])
        return h.sum(axis=0), unit[:, :, None] * dh[:, None, :], hess

    return value, with_gradients, with_hessians


rdf, rdf_with_gradients, rdf_with_hessians = make_rdf()


def sorted_distances(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sort(d[np.triu_indices(len(x), 1)])


def dipole(x):
    """An l = 1 equivariant: sum_i fc(r_i) r_i, transforms with D(R) = R."""
    r = np.linalg.norm(x, axis=1)
    return (cutoff_c2(r)[0][:, None] * x).sum(axis=0)


def image_shifts(cell, distance):
    """Lattice vectors reaching every image within ``distance`` of wrapped differences."""
    volume = abs(np.linalg.det(cell))
    n = [int(np.ceil(distance * np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) / volume)) + 1
         for i in range(3)]
    grid = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in n], indexing="ij"), -1).reshape(-1, 3)
    return grid @ cell


def periodic_per_atom(x, species, cell, use_images=True):
    """Per-atom periodic RDF: F[i, k] = sum_{j, n} Z_j fc(d) G_k(d), d = |x_j + n - x_i| < rc."""
    shifts = image_shifts(cell, R_CUT) if use_images else np.zeros((1, 3))
    inverse = np.linalg.inv(cell)
    out = np.zeros((len(x), len(MU)))
    for i in range(len(x)):
        diff = x - x[i]
        if use_images:  # wrap differences into the cell so the shift range is enough
            frac = diff @ inverse
            diff = (frac - np.round(frac)) @ cell
        vectors = (diff[:, None, :] + shifts[None]).reshape(-1, 3)
        weights = np.repeat(np.asarray(species, float), len(shifts))
        d = np.linalg.norm(vectors, axis=1)
        keep = (d > 1e-12) & (d < R_CUT)
        out[i] = (weights[keep, None] * radial_terms(d[keep], cutoff_c2)[0]).sum(axis=0)
    return out


def periodic_total(x, species, cell):
    return (np.asarray(species, float)[:, None] * periodic_per_atom(x, species, cell)).sum(axis=0)


def random_environment(rng, n=5, r_max=0.9 * R_CUT, r_min=0.2):
    """Generic environment for the must-fail cases (no accidental symmetry)."""
    out = []
    while len(out) < n:
        p = rng.uniform(-r_max, r_max, 3)
        if r_min < np.linalg.norm(p) < r_max and all(np.linalg.norm(p - q) > 0.2 for q in out):
            out.append(p)
    return np.array(out)


def random_rotation(rng):
    return kst.quaternion_to_rotation(rng.normal(size=4))


# ---------------------------------------------------------------------------------------
# the strategies
# ---------------------------------------------------------------------------------------

@given(kst.rotations(kind="any"))
def test_rotations_are_orthogonal_with_the_requested_determinant(R):
    assert np.max(np.abs(R @ R.T - np.eye(3))) <= tol.identity_atol()
    assert abs(abs(np.linalg.det(R)) - 1) <= tol.identity_atol()


@pytest.mark.parametrize("kind,sign", [("proper", 1.0), ("improper", -1.0)])
@given(data=st.data())
def test_rotation_kinds(kind, sign, data):
    for from_seed in (False, True):
        R = data.draw(kst.rotations(kind=kind, from_seed=from_seed))
        assert abs(np.linalg.det(R) - sign) <= tol.identity_atol()


def test_quaternion_rotations_are_haar_distributed():
    # Haar moments on SO(3): E[R] = 0, E[R_ij^2] = 1/3, E[tr R] = 0, E[(tr R)^2] = 1
    rng = np.random.default_rng(7)
    Rs = np.array([kst.quaternion_to_rotation(rng.normal(size=4)) for _ in range(20000)])
    traces = np.trace(Rs, axis1=1, axis2=2)
    sem = 1 / np.sqrt(len(Rs))  # every moment has unit-order variance
    assert np.max(np.abs(Rs.mean(axis=0))) < 5 * sem
    assert np.max(np.abs((Rs ** 2).mean(axis=0) - 1 / 3)) < 5 * sem
    assert abs(traces.mean()) < 5 * sem
    assert abs((traces ** 2).mean() - 1) < 5 * 2 * sem


@given(kst.environments(r_cut=R_CUT, min_atoms=1, max_atoms=8, min_separation=0.3, min_radius=0.4))
def test_environments_respect_their_constraints(x):
    r = np.linalg.norm(x, axis=1)
    assert x.shape[1] == 3 and 1 <= len(x) <= 8
    assert np.all(r >= 0.4 * (1 - 1e-12)) and np.all(r <= 0.95 * R_CUT * (1 + 1e-12))  # to rounding
    if len(x) > 1:
        assert sorted_distances(x).min() >= 0.3 * (1 - 1e-12)


@given(kst.cutoff_crossings(r_cut=R_CUT))
def test_cutoff_crossings_cross_the_sphere_outwards(path):
    x0 = path.positions_at(0.0)
    moving = x0[path.index]
    assert abs(np.linalg.norm(moving) - R_CUT) <= 4 * tol.EPS * R_CUT
    assert path.direction @ moving >= 0.3 * R_CUT * (1 - 1e-12)
    assert np.linalg.norm(path.positions_at(1e-3)[path.index]) > R_CUT
    assert np.linalg.norm(path.positions_at(-1e-3)[path.index]) < R_CUT
    others = np.delete(x0, path.index, axis=0)
    assert np.all(np.linalg.norm(others, axis=1) <= 0.9 * R_CUT * (1 + 1e-12))  # to rounding


@given(kst.near_pole_vectors())
def test_near_pole_vectors_are_near_the_z_pole(v):
    assert np.hypot(v[0], v[1]) <= 1e-6 * abs(v[2]) * (1 + 1e-12)


@given(kst.tiny_vectors())
def test_tiny_vectors_are_tiny_and_nonzero(v):
    assert 1e-100 * (1 - 1e-12) <= np.linalg.norm(v) <= 1e-3 * (1 + 1e-12)


@settings(max_examples=15)
@given(kst.periodic_structures(min_atoms=1, max_atoms=4, min_separation=0.4, min_length=0.5,
                               max_length=3.0))
def test_periodic_structures_keep_images_apart(structure):
    x, species, cell = structure
    assert abs(np.linalg.det(cell)) >= 0.5 * 0.5 ** 3
    assert len(species) == len(x)
    frac = x @ np.linalg.inv(cell)
    assert np.all(frac >= -1e-12) and np.all(frac < 1 + 1e-12)
    # brute force over a generous image range (independent of the strategy's exact bound)
    grid = np.stack(np.meshgrid(*[np.arange(-6, 7)] * 3, indexing="ij"), -1).reshape(-1, 3) @ cell
    for i in range(len(x)):
        for j in range(len(x)):
            d = np.linalg.norm(x[j] + grid - x[i], axis=1)
            if i == j:
                d = d[d > 0]
            assert d.min() >= 0.4 * (1 - 1e-12)


# ---------------------------------------------------------------------------------------
# correct featurizers pass
# ---------------------------------------------------------------------------------------

@given(kst.environments(r_cut=R_CUT, max_atoms=6), kst.rotations(kind="any"))
def test_rdf_is_o3_invariant(x, R):
    report = assert_rotation_invariant(rdf, x, R)
    assert isinstance(report, CheckReport) and report.passed
    assert report.max_deviation <= report.tolerance


@given(kst.environments(r_cut=R_CUT, min_atoms=2, max_atoms=6), kst.rotations(), kst.translations())
def test_sorted_distances_are_rotation_and_translation_invariant(x, R, t):
    assert_rotation_invariant(sorted_distances, x, R)
    assert_translation_invariant(sorted_distances, x, t)


@given(kst.environments(r_cut=R_CUT, min_atoms=1, max_atoms=6).flatmap(
    lambda x: st.tuples(st.just(x), kst.permutations(len(x)))))
def test_rdf_is_permutation_invariant(case):
    x, perm = case
    assert_permutation_invariant(rdf, x, perm)


@given(kst.environments(r_cut=R_CUT, max_atoms=6), kst.rotations())
def test_dipole_is_equivariant_with_the_rotation_itself(x, R):
    assert_equivariant(dipole, x, R, representation=lambda R: R)


@given(kst.cutoff_crossings(r_cut=R_CUT))
def test_c2_cutoff_is_smooth_to_second_order(path):
    report = assert_smooth_at_cutoff(rdf, path, order=2)
    assert report.details["first discontinuous derivative"] is None


@given(kst.cutoff_crossings(r_cut=R_CUT))
def test_c1_cutoff_is_smooth_to_the_order_it_has(path):
    assert_smooth_at_cutoff(make_rdf(cutoff_c1)[0], path, order=1)


@given(kst.cutoff_crossings(r_cut=R_CUT))
def test_analytic_gradient_of_c2_rdf_is_continuous_at_the_cutoff(path):
    # a C^2 function has a C^1 gradient
    assert_smooth_at_cutoff(lambda x: rdf_with_gradients(x)[1], path, order=1)


@given(kst.environments(r_cut=R_CUT, min_atoms=1, max_atoms=5))
def test_rdf_gradient_and_hessian_match_finite_differences(x):
    assert_gradient_matches(rdf_with_gradients, x)
    assert_hessian_matches(rdf_with_hessians, x, layout="blockdiag")


def test_total_hessian_layout_agrees_with_blockdiag():
    x = random_environment(np.random.default_rng(3), n=3)

    def total(xx):
        v, g, h = rdf_with_hessians(xx)
        dense = np.zeros((len(xx), 3, len(xx), 3, h.shape[-1]))
        for i in range(len(xx)):
            dense[i, :, i] = h[i]
        return v, g, dense

    assert_hessian_matches(total, x, layout="total")


@settings(max_examples=10)
@given(kst.periodic_structures(max_atoms=3, min_separation=0.5, min_length=0.8, max_length=3.0),
       kst.rotations(), kst.translations(5.0), st.randoms(use_true_random=False))
def test_periodic_featurizer_symmetries(structure, R, t, random):
    x, species, cell = structure
    perm = np.array(random.sample(range(len(x)), len(x)))
    assert_rotation_invariant(periodic_total, x, R, species=species, cell=cell)
    assert_translation_invariant(periodic_total, x, t, species=species, cell=cell, wrap=True)
    assert_permutation_invariant(periodic_total, x, perm, species=species, cell=cell)
    assert_permutation_equivariant(periodic_per_atom, x, perm, species=species, cell=cell)


def test_empty_environment_passes_trivially():
    x = np.zeros((0, 3))
    assert check_rotation_invariance(rdf, x, np.eye(3)).passed
    assert check_gradient(rdf_with_gradients, x).passed


# ---------------------------------------------------------------------------------------
# the kit can fail: each broken featurizer is caught
# ---------------------------------------------------------------------------------------

def anisotropic_rdf(x):
    return rdf(x * np.array([1.0, 1.0, 1.0 + 1e-6]))  # a 1e-6 stretch along z


def test_kit_catches_a_featurizer_that_is_not_rotation_invariant():
    rng = np.random.default_rng(11)
    for _ in range(5):
        x, R = random_environment(rng), random_rotation(rng)
        report = check_rotation_invariance(anisotropic_rdf, x, R)
        assert not report.passed
        assert report.max_deviation > 1e3 * report.tolerance  # 1e-6 defect vs round-off
        with pytest.raises(AssertionError, match="rotation invariance: FAIL"):
            assert_rotation_invariant(anisotropic_rdf, x, R)


def test_kit_catches_a_wrong_representation():
    rng = np.random.default_rng(12)
    for _ in range(5):
        x, R = random_environment(rng), random_rotation(rng)
        assert not check_equivariance(dipole, x, R, representation=lambda R: R.T).passed
        assert not check_equivariance(lambda xx: dipole(xx) * [1, 1, 2], x, R, lambda R: R).passed


def order_dependent_rdf(x):
    weights = 1.0 + 1e-3 * np.arange(len(x))
    r = np.linalg.norm(x, axis=1)
    return (weights[:, None] * radial_terms(r, cutoff_c2)[0]).sum(axis=0)


def test_kit_catches_an_order_dependent_featurizer():
    rng = np.random.default_rng(13)
    for _ in range(5):
        x = random_environment(rng)
        perm = rng.permutation(len(x))
        while np.all(perm == np.arange(len(x))):
            perm = rng.permutation(len(x))
        report = check_permutation_invariance(order_dependent_rdf, x, [perm])
        assert not report.passed
        assert "permutation" in report.worst_input
        with pytest.raises(AssertionError, match="permutation invariance: FAIL"):
            assert_permutation_invariant(order_dependent_rdf, x, perm)


def test_kit_catches_a_broken_per_atom_output_and_a_non_periodic_featurizer():
    rng = np.random.default_rng(14)
    cell = np.diag([2.5, 2.7, 3.1]) + np.array([[0, 0, 0], [0.4, 0, 0], [0.2, -0.3, 0]])
    x = rng.uniform(0, 1, (3, 3)) @ cell
    species = np.array([1, 6, 8])
    perm = np.array([2, 0, 1])

    def mislabelled(xx, s, c):  # row k depends on k itself: not permutation-equivariant
        return periodic_per_atom(xx, s, c) + 1e-3 * np.arange(len(xx))[:, None]

    assert not check_permutation_equivariance(mislabelled, x, perm, species=species, cell=cell).passed

    def no_images(xx, s, c):
        return periodic_per_atom(xx, s, c, use_images=False).sum(axis=0)

    t = np.array([0.9, -1.3, 0.4])
    assert check_translation_invariance(no_images, x, t, species=species, cell=cell).passed
    assert not check_translation_invariance(no_images, x, t, species=species, cell=cell, wrap=True).passed


def test_kit_reports_that_environment_featurizers_are_not_translation_invariant():
    x = random_environment(np.random.default_rng(15))
    assert not check_translation_invariance(rdf, x, np.array([0.1, 0.0, 0.0])).passed


def crossing(rng):
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    v = u + 0.5 * rng.normal(size=3)
    v /= np.linalg.norm(v)
    if v @ u < 0.3:
        v = u
    others = random_environment(rng, n=3, r_max=0.8 * R_CUT)
    return kst.CutoffCrossing(np.vstack([others, R_CUT * u]), 3, v, R_CUT)


def gaussians_at_cutoff():
    return np.exp(-(R_CUT - MU) ** 2 / (2 * SIGMA ** 2))


def test_kit_catches_a_hard_cutoff_and_measures_its_jump():
    rng = np.random.default_rng(16)
    hard = make_rdf(cutoff_hard)[0]
    for _ in range(3):
        report = check_cutoff_smoothness(hard, crossing(rng), order=0)
        assert not report.passed
        assert report.details["first discontinuous derivative"] == 0
        # oracle: leaving the sphere drops the moving atom's G_k(rc), largest = 1 (mu = rc)
        jump = report.details["orders"][0]["estimated jump"]
        assert abs(jump - gaussians_at_cutoff().max()) <= 1e-6
        with pytest.raises(AssertionError, match=r"cutoff smoothness \(C\^0\): FAIL"):
            assert_smooth_at_cutoff(hard, crossing(rng), order=0)


def test_kit_catches_a_c1_cutoff_claimed_c2_and_measures_the_curvature_jump():
    rng = np.random.default_rng(17)
    c1 = make_rdf(cutoff_c1)[0]
    for _ in range(3):
        path = crossing(rng)
        assert check_cutoff_smoothness(c1, path, order=1).passed
        report = check_cutoff_smoothness(c1, path, order=2)
        assert not report.passed
        assert report.details["first discontinuous derivative"] == 2
        # oracle: d2/dt2 of (1 - r/rc)^2 G(r) jumps by 2 (dr/dt)^2 / rc^2 G(rc) at the crossing
        cos = path.direction @ path.positions_at(0.0)[path.index] / R_CUT
        expected = 2 * cos ** 2 / R_CUT ** 2 * gaussians_at_cutoff().max()
        assert abs(report.details["orders"][2]["estimated jump"] - expected) <= 1e-3 * expected


def test_kit_catches_a_divergence_at_the_cutoff():
    # what a kernel-normalised projection does (docs/testing-kit.md): blows up inside, 0 outside
    report = check_cutoff_smoothness(make_rdf(cutoff_blowup)[0], crossing(np.random.default_rng(18)), order=0)
    assert not report.passed


def test_kit_catches_a_gradient_with_the_wrong_sign_and_a_hessian_missing_a_term():
    rng = np.random.default_rng(19)
    _, wrong_sign, _ = make_rdf(gradient_sign=-1.0)
    _, _, missing_term = make_rdf(hessian_bug=True)
    for _ in range(3):
        x = random_environment(rng, n=3)
        report = check_gradient(wrong_sign, x)
        assert not report.passed
        # the analytic entry is minus the finite difference
        assert np.isclose(report.details["analytic"], -report.details["finite difference"], rtol=1e-6)
        with pytest.raises(AssertionError, match="gradient vs finite differences: FAIL"):
            assert_gradient_matches(wrong_sign, x)
        assert not check_hessian(missing_term, x, layout="blockdiag").passed


def test_kit_catches_an_asymmetric_hessian():
    x = random_environment(np.random.default_rng(20), n=2)

    def skewed(xx):
        v, g, h = rdf_with_hessians(xx)
        h = h.copy()
        h[:, 0, 1, :] += 1e-3
        return v, g, h

    report = check_hessian(skewed, x, layout="blockdiag")
    assert not report.passed and report.details["asymmetry"] > 1e-4


def test_bad_arguments_raise():
    x = random_environment(np.random.default_rng(21), n=3)
    with pytest.raises(ValueError, match="positions"):
        check_rotation_invariance(rdf, x[:, :2], np.eye(3))
    with pytest.raises(ValueError, match="rotations"):
        check_rotation_invariance(rdf, x, np.eye(2))
    with pytest.raises(ValueError, match="permutations"):
        check_permutation_invariance(rdf, x, [np.array([0, 0, 1])])
    with pytest.raises(ValueError, match="gradient must have shape"):
        check_gradient(lambda xx: (rdf(xx), np.zeros((3, 3))), x)
    with pytest.raises(ValueError, match="step"):
        check_cutoff_smoothness(rdf, lambda t: x, order=0)
    with pytest.raises(ValueError, match="wrap"):
        check_translation_invariance(rdf, x, np.zeros(3), wrap=True)


def test_non_finite_output_fails_instead_of_passing():
    x = random_environment(np.random.default_rng(22), n=2)
    report = check_rotation_invariance(lambda xx: np.full(3, np.nan), x, np.eye(3))
    assert not report.passed and "non-finite" in report.details["problem"]


def test_the_documented_example_runs_and_passes():
    # the usage example of rstref.testing's docstring is real code: run its three tests
    import textwrap

    import rstref.testing

    doc = rstref.testing.__doc__
    code = textwrap.dedent(doc[doc.index("    import numpy as np"):doc.index("A failing check raises")])
    namespace = {}
    exec(compile(code, "rstref.testing docstring", "exec"), namespace)
    tests = [v for k, v in namespace.items() if k.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()


def test_wrong_representation_shape_is_named():
    x = random_environment(np.random.default_rng(23), n=2)
    with pytest.raises(ValueError, match=r"representation\(R\) must have shape \(3, 3\)"):
        check_equivariance(dipole, x, np.eye(3), lambda R: np.eye(2))


# ---------------------------------------------------------------------------------------
# no false passes: every argument validated, vacuous checks reported (one test per class)
# ---------------------------------------------------------------------------------------

X3 = random_environment(np.random.default_rng(30), n=3)
R3 = random_rotation(np.random.default_rng(31))
PATH = crossing(np.random.default_rng(32))


def per_atom_radii(x):
    return np.linalg.norm(x, axis=1)[:, None] * np.array([1.0, 2.0])


def good_arguments():
    """checker -> keyword arguments of a valid, informative call."""
    return {
        check_rotation_invariance: dict(func=rdf, positions=X3, rotations=R3),
        check_equivariance: dict(func=dipole, positions=X3, rotations=R3, representation=lambda R: R),
        check_permutation_invariance: dict(func=rdf, positions=X3, permutations=np.array([2, 0, 1])),
        check_permutation_equivariance: dict(func=per_atom_radii, positions=X3, permutations=np.array([1, 2, 0])),
        check_translation_invariance: dict(func=sorted_distances, positions=X3, translations=np.array([0.3, 0, 1])),
        check_cutoff_smoothness: dict(func=rdf, path=PATH, order=2),
        check_gradient: dict(func_with_gradients=rdf_with_gradients, positions=X3),
        check_hessian: dict(func_with_hessians=rdf_with_hessians, positions=X3, layout="blockdiag"),
    }


CHECKERS = list(good_arguments())
WITH_ATOL = [c for c in CHECKERS if c is not check_cutoff_smoothness]
WITH_POSITIONS = [c for c in CHECKERS if c is not check_cutoff_smoothness]
SYMMETRY = [check_rotation_invariance, check_equivariance, check_permutation_invariance,
            check_permutation_equivariance, check_translation_invariance]
DERIVATIVES = [check_gradient, check_hessian]


def call(checker, **overrides):
    return checker(**{**good_arguments()[checker], **overrides})


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_every_checker_passes_its_valid_informative_call(checker):
    # the control for the classes below: the good arguments are accepted and informative
    report = call(checker)
    assert report.passed and not report.vacuous, str(report)


def not_orthogonal():
    """3x3 matrices at least 1e-8 away from O(3): scaled, sheared, singular or random."""
    def distorted(case):
        R, kind, size = case
        if kind == "scale":
            return (1 + size) * R
        if kind == "shear":
            return R + size * np.triu(np.ones((3, 3)), 1)
        return R * np.array([1.0, 1.0, 0.0])  # singular
    return st.one_of(
        st.tuples(kst.rotations(kind="any"), st.sampled_from(["scale", "shear", "singular"]),
                  st.floats(1e-8, 10.0) | st.floats(-0.999, -1e-8)).map(distorted),
        st.lists(st.floats(-2, 2), min_size=9, max_size=9).map(lambda v: np.reshape(v, (3, 3))).filter(
            lambda M: np.max(np.abs(M.T @ M - np.eye(3))) > 1e-8),
        st.sampled_from([np.zeros((3, 3)), 2 * np.eye(3), np.full((3, 3), np.nan), np.diag([1.0, np.inf, 1.0])]))


@pytest.mark.parametrize("checker", [check_rotation_invariance, check_equivariance], ids=lambda c: c.__name__)
@given(M=not_orthogonal())
def test_a_matrix_that_is_not_orthogonal_is_refused_as_a_rotation(checker, M):
    # check_rotation_invariance(const, P, np.zeros((3, 3))) used to pass
    const = {"func": lambda x: np.ones(3)}  # invariant under anything: only the check can refuse
    if checker is check_equivariance:
        const["representation"] = lambda R: np.eye(3)
    with pytest.raises(ValueError, match="rotations"):
        call(checker, rotations=M, **const)
    with pytest.raises(ValueError, match=r"rotations\[1\]"):
        call(checker, rotations=[np.eye(3), M], **const)


@pytest.mark.parametrize("checker", SYMMETRY, ids=lambda c: c.__name__)
def test_an_empty_or_malformed_set_of_transformations_is_refused(checker):
    name = {check_rotation_invariance: "rotations", check_equivariance: "rotations",
            check_translation_invariance: "translations"}.get(checker, "permutations")
    empty = {"rotations": np.zeros((0, 3, 3)), "translations": np.zeros((0, 3)), "permutations": []}[name]
    with pytest.raises(ValueError, match=f"{name} must contain at least one"):
        call(checker, **{name: empty})
    malformed = {"rotations": [np.eye(3), np.eye(2)], "translations": [[0.0, 1.0, 0.0], [1.0, 2.0]],
                 "permutations": [np.array([0, 1, 2]), np.array([0, 1])]}[name]
    with pytest.raises(ValueError, match=name):
        call(checker, **{name: malformed})
    if name == "permutations":
        with pytest.raises(TypeError, match="permutations must be integer"):
            call(checker, permutations=np.array([0.0, 1.0, 2.0]))
        with pytest.raises(ValueError, match="species must have one entry per atom"):
            call(checker, func=lambda x, s: rdf(x), species=np.array([1, 6]))


BAD_TOLERANCES = st.one_of(st.floats(max_value=-1e-300), st.sampled_from([np.nan, np.inf, -np.inf]))
NOT_REAL = st.sampled_from([True, np.bool_(False), "1e-3", 1e-3 + 0j, None.__class__, [1e-3]])


@pytest.mark.parametrize("checker", WITH_ATOL, ids=lambda c: c.__name__)
@given(bad=BAD_TOLERANCES | NOT_REAL)
def test_a_tolerance_that_is_negative_not_finite_or_not_a_number_is_refused(checker, bad):
    error = ValueError if isinstance(bad, float) else TypeError
    with pytest.raises(error, match="atol"):
        call(checker, atol=bad)
    if checker in SYMMETRY:
        with pytest.raises(error, match="scale"):
            call(checker, scale=bad)


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
@given(atol=st.floats(1e3, 1e300))
def test_a_tolerance_larger_than_everything_compared_makes_the_check_vacuous(checker, atol):
    # an atol above every output (symmetries) or every derivative and rate of change
    # (derivatives) would pass anything: reported as a vacuous failure
    if checker is check_cutoff_smoothness:
        return  # no atol: its vacuity is the round-off floor (next tests)
    report = call(checker, atol=atol)
    assert not report.passed and report.vacuous and "vacuous" in report.details["problem"]
    with pytest.raises(AssertionError, match="FAIL \\(vacuous\\)"):
        report.assert_passed()
    assert call(checker, atol=1e-6).passed  # a sane override is informative


def zero_gradient(x):
    return rdf(x), np.zeros((len(x), 3, len(MU)))


@pytest.mark.parametrize("checker", DERIVATIVES, ids=lambda c: c.__name__)
@given(case=st.one_of(
    st.tuples(st.just("tiny"), st.floats(1e-3, 0.999)),   # fraction of the smallest step
    st.tuples(st.just("huge"), st.floats(1.001, 1e6)),    # multiple of the largest step
    st.tuples(st.just("bad"), st.sampled_from([0.0, -1e-3, np.nan, np.inf, -np.inf, 5e-324, 1e-300]))))
def test_a_finite_difference_step_outside_the_sane_range_is_refused(checker, case):
    # check_gradient(f_with_zero_gradient, P, step=1e-300) used to pass
    kind, value = case
    smallest = 2 * tol.KIT_FD_MIN_RELATIVE_STEP * np.max(np.abs(X3))
    largest = tol.KIT_FD_MAX_RELATIVE_STEP * np.max(np.linalg.norm(X3, axis=1))
    step = {"tiny": value * smallest, "huge": value * largest, "bad": value}[kind]
    func = zero_gradient if checker is check_gradient else (lambda x: zero_gradient(x) + (np.zeros((3, 3, 3, 9)),))
    with pytest.raises(ValueError, match="step"):
        call(checker, **{"func_with_gradients" if checker is check_gradient else "func_with_hessians": func},
             step=step)
    for step in (smallest, largest):  # the bounds themselves are accepted
        assert isinstance(call(checker, step=step), CheckReport)


@given(offset=st.floats(1e6, 1e10), factor=st.floats(30.0, 300.0), slope=st.floats(0.5, 2.0))
def test_a_legal_step_below_the_functions_resolution_is_reported_vacuous(offset, factor, slope):
    # f = offset + slope * sum(x): a step of ~100 eps * offset is legal for |x| ~ 1 but
    # moves f by less than its round-off, so the differences vanish: neither the zero
    # nor the correct gradient may pass
    step = factor * tol.EPS * offset
    value = lambda x: np.array([offset + slope * x.sum()])  # noqa: E731
    for gradient in (0.0, slope):
        report = check_gradient(lambda x, g=gradient: (value(x), np.full((len(x), 3, 1), g)), X3, step=step)
        assert not report.passed and report.vacuous and "step" in report.details["problem"], str(report)
    # the Hessian of a function whose gradient is resolved only above the step
    report = check_hessian(lambda x: (value(x), offset + 0 * x[..., None], np.zeros((3, 3, 3, 3, 1))), X3,
                           step=step)
    assert report.passed and not report.vacuous  # a constant gradient: flat at every step, zero Hessian
    # at the default step the differences are resolved but their round-off grows with the
    # offset: for offsets above ~1e9 it swamps the slope, and the check must say so
    report = check_gradient(lambda x: (value(x), np.zeros((len(x), 3, 1))), X3)
    assert not report.passed
    # controls: at the largest legal step the correct gradient passes, the zero one fails
    step = tol.KIT_FD_MAX_RELATIVE_STEP * np.max(np.linalg.norm(X3, axis=1))
    assert check_gradient(lambda x: (value(x), np.full((len(x), 3, 1), slope)), X3, step=step).passed
    report = check_gradient(lambda x: (value(x), np.zeros((len(x), 3, 1))), X3, step=step)
    assert not report.passed and not report.vacuous


def test_a_constant_function_passes_with_a_zero_gradient_at_any_legal_step():
    # flat at the step and at the probe step: its derivative really is zero (not vacuous)
    const = lambda x: (np.full(4, 3.0), np.zeros((len(x), 3, 4)))  # noqa: E731
    for step in (2e-9 * np.max(np.abs(X3)) * 1.01, 1e-6, 1e-3):
        report = check_gradient(const, X3, step=step)
        assert report.passed and not report.vacuous


@given(order=st.floats(0.01, 3.99).filter(lambda v: v != int(v)) | st.sampled_from(
    [True, "2", None, np.float64(2.0), 2.0]) | st.integers(-10, -1) | st.integers(4, 100))
def test_a_smoothness_order_that_is_not_a_supported_integer_is_refused(order):
    # order=2.5 used to be silently truncated to 2
    error = ValueError if isinstance(order, int) and not isinstance(order, bool) else TypeError
    with pytest.raises(error, match="order"):
        check_cutoff_smoothness(rdf, PATH, order)


@given(case=st.one_of(
    st.tuples(st.just("still"), st.floats(5e-324, 1e-12)),   # the path does not move resolvably
    st.tuples(st.just("far"), st.floats(1.001, 1e6)),        # the samples reach beyond 0.1 r_cut
    st.tuples(st.just("bad"), st.sampled_from([0.0, -1e-3, np.nan, np.inf]))))
def test_a_smoothness_step_outside_the_sane_range_is_refused(case):
    kind, value = case
    step = {"still": value * R_CUT, "far": value * tol.KIT_SMOOTHNESS_MAX_REACH * R_CUT / 3,
            "bad": value}[kind]
    # a hard cutoff: the step 1e-300 used to sample t = 0 on both sides and pass it as C^0
    with pytest.raises(ValueError, match="step"):
        check_cutoff_smoothness(make_rdf(cutoff_hard)[0], PATH, 0, step=step)
    with pytest.raises(ValueError, match="step"):  # a path that does not move
        check_cutoff_smoothness(rdf, lambda t: PATH.positions, 0, step=1e-3)


@given(step=st.floats(1e-8, 2e-3))
def test_a_smoothness_step_too_small_for_the_claimed_order_is_reported_vacuous(step):
    # a C^2 cutoff claimed C^3: at these steps the third-derivative jump lies under the
    # round-off floor of the one-sided estimates, so the check cannot fail; same for C^2
    # claims at steps below ~3e-5 r_cut
    report = check_cutoff_smoothness(rdf, PATH, 3, step=step * R_CUT)
    assert not report.passed and report.vacuous and "round-off floor" in report.details["problem"]
    if step < 1e-5:
        assert check_cutoff_smoothness(rdf, PATH, 2, step=step * R_CUT).vacuous
    assert assert_smooth_at_cutoff(rdf, PATH, 2).passed  # control: the default step


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_a_callable_argument_that_is_not_callable_is_refused(checker):
    name = next(k for k in ("func", "func_with_gradients", "func_with_hessians") if k in good_arguments()[checker])
    with pytest.raises(TypeError, match=f"{name} must be callable"):
        call(checker, **{name: np.ones(3)})
    helper = {check_equivariance: "representation", check_gradient: "value_func",
              check_hessian: "gradient_func", check_cutoff_smoothness: "path"}.get(checker)
    if helper:
        with pytest.raises(TypeError, match=f"{helper} must be callable"):
            call(checker, **{helper: "not a function"})


BAD_ARRAYS = st.sampled_from([("shape", np.zeros((3, 2))), ("shape", np.zeros(3)), ("nan", np.full((2, 3), np.nan)),
                              ("inf", np.full((2, 3), np.inf)), ("type", np.ones((2, 3), dtype=complex)),
                              ("type", np.ones((2, 3), dtype=bool)), ("type", np.array([["a", "b", "c"]]))])


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
@given(case=BAD_ARRAYS)
def test_positions_and_cells_that_are_not_finite_real_arrays_of_the_right_shape_are_refused(checker, case):
    kind, bad = case
    error = TypeError if kind == "type" else ValueError
    if checker is check_cutoff_smoothness:
        with pytest.raises(error, match=r"path\(0\)"):
            call(checker, path=lambda t: bad, step=1e-3)
    else:
        with pytest.raises(error, match="positions"):
            call(checker, positions=bad)
    cell = bad if bad.shape != (2, 3) else np.vstack([bad, bad[:1]])
    with pytest.raises(error, match="cell"):
        call(checker, cell=cell)


def test_layout_wrap_and_return_forms_are_checked():
    with pytest.raises(ValueError, match="layout"):
        check_gradient(rdf_with_gradients, X3, layout="blockdiag")  # blockdiag is for Hessians only
    with pytest.raises(ValueError, match="layout"):
        check_hessian(rdf_with_hessians, X3, layout="dense")
    with pytest.raises(TypeError, match="wrap"):
        check_translation_invariance(sorted_distances, X3, np.ones(3), cell=np.eye(3) * 3, wrap="yes")
    with pytest.raises(ValueError, match="wrap=True needs a cell whose rows span space"):
        check_translation_invariance(sorted_distances, X3, np.ones(3), cell=np.zeros((3, 3)), wrap=True)
    with pytest.raises(TypeError, match=r"func_with_gradients must return a tuple \(value, gradient\)"):
        check_gradient(rdf, X3)
    with pytest.raises(TypeError, match=r"multiplicity of block 0"):
        block_diagonal_representation((lambda R: R, 1.5))


def test_the_split_modules_and_the_old_import_paths_agree():
    import rstref.testing as kit
    import rstref.testing.checks as checks
    from rstref.testing import derivatives, report, smoothness, symmetry

    for name in checks.__all__:
        assert getattr(checks, name) is getattr(kit, name)
    rooms = {**vars(report), **vars(symmetry), **vars(smoothness), **vars(derivatives)}
    assert all(rooms[name] is getattr(checks, name) for name in checks.__all__)
    assert kit.assert_gradient_matches.__name__ == "assert_gradient_matches"


def test_the_guide_example_runs_and_passes():
    # docs/testing-kit.md's example is real code: run its tests
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[1] / "docs" / "testing-kit.md").read_text()
    code = guide.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, "docs/testing-kit.md", "exec"), namespace)
    tests = [v for k, v in namespace.items() if k.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()


@given(n=st.integers(1, 5), kind=st.sampled_from(["rotation", "permutation", "translation"]))
def test_identity_transformations_pass_but_the_report_says_nothing_was_tested(n, kind):
    # a valid group element, drawn often by shrinking: its trial passes (f(x) == f(x)), and
    # the report says so; any non-identity trial removes the note
    x = random_environment(np.random.default_rng(n), n=n)
    identity = {"rotation": (check_rotation_invariance, np.eye(3), R3),
                "permutation": (check_permutation_invariance, np.arange(n), np.roll(np.arange(n), 1)),
                "translation": (check_translation_invariance, np.zeros(3), np.ones(3))}
    checker, trivial, other = identity[kind]
    func = sorted_distances if kind == "translation" else rdf
    report = checker(func, x, trivial)
    assert report.passed and "nothing tested" in report.details["note"]
    assert "note" not in checker(func, x, [trivial, other]).details or (kind == "permutation" and n == 1)


def neighbours_inside(x):
    """A per-neighbour output: one entry per atom inside R_CUT, so its size changes at the cutoff."""
    r = np.linalg.norm(x, axis=1)
    return r[r < R_CUT]


def test_an_output_that_changes_shape_fails_instead_of_crashing():
    # the differenced output changes size when an atom crosses the cutoff: a failed report
    report = check_cutoff_smoothness(neighbours_inside, PATH, 0)
    assert not report.passed and "shape" in report.details["problem"]
    x = PATH.positions_at(-1e-4)  # the moving atom just inside: x + step leaves the sphere
    report = check_gradient(lambda xx: (neighbours_inside(xx), np.zeros((len(xx), 3, len(neighbours_inside(x))))),
                            x, step=1e-3)
    assert not report.passed and "shape" in report.details["problem"]
