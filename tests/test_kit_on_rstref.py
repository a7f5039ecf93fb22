"""rstref's own symmetries, derivatives and cutoff smoothness, checked through rstref.testing.

The kit treats rstref like any other featurizer: callables in, reports out.  Oracles are
the symmetry itself (with rstref's Wigner D as the representation, itself tested against
exact values elsewhere), finite differences, and each radial family's *declared*
smoothness order at r_cut: the raw projection must be C^k for the declared k and must
not be C^(k+1), while the kernel-normalised projection is not even continuous (DESIGN 2.5).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rstref
from rstref.testing import (
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
    check_rotation_invariance,
)
from rstref.testing import strategies as kst

R_CUT = 2.0
N_MAX, L_MAX = 4, 3


def o3_harmonics_representation(l_max, convention="standard"):
    """R -> block-diagonal D(R) on (l_max+1)^2 harmonics, for proper and improper R.

    An improper R = -R0 acts as the rotation R0 followed by the inversion, under which
    Y_l picks up (-1)^l.
    """
    def representation(R):
        sign = np.sign(np.linalg.det(R))
        blocks = [lambda _, l=l: sign ** l * rstref.wigner_D(l, sign * R, convention) for l in range(l_max + 1)]
        return block_diagonal_representation(*blocks)(R)

    return representation


def tensor(primitive="smooth_cosines", envelope_power=None, n_max=N_MAX, l_max=L_MAX):
    rb = rstref.OrthonormalRadialBasis(n_max, R_CUT, primitive, envelope_power)
    return rstref.RadialSphericalTensor(n_max, rb, l_max)


RST = tensor()
PS = rstref.PowerSpectrum(RST)


def o3_tensor_representation(rst):
    """R -> D(R) on the coefficients (rst.rotation_matrix), with (-1)^l for improper R."""
    l_of_index = np.array([l for (n, l, m) in rst.nlm_range()])

    def representation(R):
        sign = np.sign(np.linalg.det(R))
        return (sign ** l_of_index)[:, None] * rst.rotation_matrix(sign * R)

    return representation


def environments_with_values(min_atoms=1, max_atoms=5, **kwargs):
    return kst.environments(r_cut=R_CUT, min_atoms=min_atoms, max_atoms=max_atoms, **kwargs).flatmap(
        lambda x: st.tuples(st.just(x), kst.species_assignments(len(x), (1.0, -1.0, 0.5))))


# ---------------------------------------------------------------------------------------
# spherical harmonics
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("convention", ["standard", "e3nn"])
@given(points=kst.environments(r_cut=3.0, min_atoms=1, max_atoms=6, min_separation=0.0),
       R=kst.rotations(kind="any"))
def test_spherical_harmonics_are_o3_equivariant(convention, points, R):
    l_max = 6
    for solid in (False, True):
        assert_equivariant(lambda x: rstref.spherical_harmonics(x, l_max, "integral", convention, solid),
                           points, R, o3_harmonics_representation(l_max, convention))


@given(v=kst.near_pole_vectors() | kst.tiny_vectors(min_norm=1e-30), R=kst.rotations())
def test_spherical_harmonics_equivariant_near_the_pole_and_at_tiny_radius(v, R):
    assert_equivariant(lambda x: rstref.spherical_harmonics(x, 8), v[None], R,
                       o3_harmonics_representation(8))


@given(points=kst.environments(r_cut=2.0, min_atoms=1, max_atoms=4, min_separation=0.0,
                               min_radius=0.3) | kst.near_pole_vectors().map(lambda v: v[None]))
def test_spherical_harmonics_derivatives_through_the_kit(points):
    l_max = 6
    assert_gradient_matches(lambda x: rstref.spherical_harmonics_with_gradients(x, l_max), points,
                            layout="pointwise")
    assert_hessian_matches(lambda x: rstref.spherical_harmonics_with_hessians(x, l_max), points,
                           layout="pointwise")


@given(v=kst.tiny_vectors(min_norm=1e-30, max_norm=1e-3))
def test_spherical_harmonics_gradient_at_tiny_radius(v):
    # the step must scale with |v|: Y is homogeneous of degree 0, so dY ~ 1/|v|
    step = 1e-3 * np.linalg.norm(v)
    assert_gradient_matches(lambda x: rstref.spherical_harmonics_with_gradients(x, 5), v[None],
                            layout="pointwise", step=step)


# ---------------------------------------------------------------------------------------
# radial-spherical tensor and invariants
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("normalize", [False, True])
@given(case=environments_with_values(), R=kst.rotations(kind="any"))
def test_tensor_coefficients_are_o3_equivariant(normalize, case, R):
    x, values = case
    assert_equivariant(lambda xx, v: RST.with_peaks_at(xx, v, normalize=normalize), x, R,
                       o3_tensor_representation(RST), species=values)


@given(case=environments_with_values(min_atoms=2).flatmap(
    lambda c: st.tuples(st.just(c), kst.permutations(len(c[0])))))
def test_tensor_and_power_spectrum_are_permutation_invariant(case):
    (x, values), perm = case
    for normalize in (False, True):
        assert_permutation_invariant(lambda xx, v: RST.with_peaks_at(xx, v, normalize=normalize),
                                     x, perm, species=values)
        assert_permutation_invariant(lambda xx, v: PS.compute(xx, v, normalize=normalize),
                                     x, perm, species=values)


@given(case=environments_with_values(), R=kst.rotations(kind="any"))
def test_power_spectrum_is_o3_invariant(case, R):
    x, values = case
    for normalize in (False, True):
        assert_rotation_invariant(lambda xx, v: PS.compute(xx, v, normalize=normalize), x, R,
                                  species=values)


BISPECTRA = {parity: rstref.Bispectrum(tensor(n_max=3, l_max=3), parity=parity)
             for parity in ("all", "even", "odd")}


@given(case=environments_with_values(), R=kst.rotations(kind="any"))
def test_bispectrum_invariance_and_parity(case, R):
    x, values = case
    sign = np.sign(np.linalg.det(R))
    assert_rotation_invariant(BISPECTRA["even"].compute, x, R, species=values)
    # odd-parity triples are pseudoscalars: they change sign under improper rotations.  They
    # vanish for achiral environments (any with <= 3 atoms), so their round-off is measured
    # against the size of the products they are made of, that of the whole bispectrum
    scale = np.max(np.abs(BISPECTRA["all"].compute(x, values)))
    assert_equivariant(BISPECTRA["odd"].compute, x, R, lambda R: sign * np.eye(BISPECTRA["odd"].n_features),
                       species=values, scale=scale)
    if sign > 0:
        assert_rotation_invariant(BISPECTRA["all"].compute, x, R, species=values)


def test_full_bispectrum_is_not_inversion_invariant_on_a_chiral_environment():
    # the kit tells SO(3) from O(3) invariants: a chiral environment, inverted
    x = np.array([[0.9, 0.1, 0.0], [0.1, 1.1, 0.2], [-0.2, 0.3, 1.3], [0.5, -0.6, 0.4]])
    values = np.array([1.0, -1.0, 0.5, 1.0])
    report = check_rotation_invariance(BISPECTRA["all"].compute, x, -np.eye(3), species=values)
    assert not report.passed and report.max_deviation > 1e6 * report.tolerance


@settings(max_examples=10)
@given(case=environments_with_values(max_atoms=4, min_radius=0.3, max_radius=0.9 * R_CUT))
def test_tensor_and_invariant_derivatives_through_the_kit(case):
    # the default step 1e-3 resolves functions varying on lengths >~ 0.03: angular
    # functions of degree l vary on |r| / l, so atoms stay >= 0.3 from the centre here
    # (closer atoms: see the next test, with the step scaled to the radius)
    x, values = case
    for normalize in (False, True):
        assert_gradient_matches(lambda xx, v: RST.with_peaks_at_with_gradients(xx, v, normalize=normalize),
                                x, species=values)
        assert_hessian_matches(lambda xx, v: RST.with_peaks_at_with_hessians(xx, v, normalize=normalize),
                               x, species=values, layout="blockdiag")
        assert_gradient_matches(lambda xx, v: PS.compute_with_gradients(xx, v, normalize=normalize),
                                x, species=values)
        assert_hessian_matches(lambda xx, v: PS.compute_with_hessians(xx, v, normalize=normalize),
                               x, species=values)
    bs = BISPECTRA["all"]
    assert_gradient_matches(lambda xx, v: bs.compute_with_gradients(xx, v, normalize=False), x, species=values)
    assert_hessian_matches(lambda xx, v: bs.compute_with_hessians(xx, v, normalize=False), x, species=values)


@given(v=kst.tiny_vectors(min_norm=1e-6, max_norm=0.3), values=kst.species_assignments(1, (1.0, -1.0)))
def test_tensor_derivatives_close_to_the_centre(v, values):
    step = 1e-3 * np.linalg.norm(v)
    for normalize in (False, True):
        assert_gradient_matches(lambda xx, vv: RST.with_peaks_at_with_gradients(xx, vv, normalize=normalize),
                                v[None], species=values, step=step)
        assert_hessian_matches(lambda xx, vv: RST.with_peaks_at_with_hessians(xx, vv, normalize=normalize),
                               v[None], species=values, layout="blockdiag", step=step)


# ---------------------------------------------------------------------------------------
# cutoff smoothness: raw projection = declared order; kernel-normalised = discontinuous
# ---------------------------------------------------------------------------------------

FAMILIES = [("cosine_bumps", None), ("cosine_bumps", 2), ("cosine_bumps", 3), ("cosines", None),
            ("cosines", 1), ("cosines", 3), ("smooth_cosines", None)]


def crossings():
    return kst.cutoff_crossings(r_cut=R_CUT, max_other_atoms=3).flatmap(
        lambda p: st.tuples(st.just(p), kst.species_assignments(len(p.positions), (1.0, -1.0, 0.5))))


@pytest.mark.parametrize("primitive,envelope_power", FAMILIES)
@settings(max_examples=8)
@given(case=crossings())
def test_raw_projection_is_smooth_exactly_to_the_declared_order(primitive, envelope_power, case):
    path, values = case
    rst = tensor(primitive, envelope_power)
    declared = rst.radial_basis.smoothness_at_cutoff if hasattr(rst, "radial_basis") else None
    if declared is None:
        declared = rstref.OrthonormalRadialBasis(N_MAX, R_CUT, primitive, envelope_power).smoothness_at_cutoff

    def raw(x, v):
        return rst.with_peaks_at(x, v, normalize=False)

    if declared >= 0:
        assert_smooth_at_cutoff(raw, path, order=min(declared, 2), species=values)
    if declared + 1 <= 3:
        report = check_cutoff_smoothness(raw, path, order=declared + 1, species=values)
        assert not report.passed, f"{primitive}, envelope {envelope_power}: smoother than declared\n{report}"
        assert report.details["first discontinuous derivative"] == declared + 1


@settings(max_examples=8)
@given(case=crossings())
def test_power_spectrum_cutoff_smoothness_raw_versus_kernel_normalised(case):
    # DESIGN 2.5: the kit must show the difference between the two projections
    path, values = case
    raw = check_cutoff_smoothness(lambda x, v: PS.compute(x, v, normalize=False), path, 2, species=values)
    normalised = check_cutoff_smoothness(lambda x, v: PS.compute(x, v, normalize=True), path, 0,
                                         species=values)
    assert raw.passed, str(raw)
    assert not normalised.passed and normalised.details["first discontinuous derivative"] == 0
    # and the analytic gradient of the raw power spectrum is C^1 across the cutoff
    assert_smooth_at_cutoff(lambda x, v: PS.compute_with_gradients(x, v, normalize=False)[1], path, 1,
                            species=values)


@pytest.mark.parametrize("primitive,envelope_power", FAMILIES)
def test_kernel_normalised_projection_is_discontinuous_for_every_family(primitive, envelope_power):
    rst = tensor(primitive, envelope_power)
    u = np.array([0.48, -0.6, 0.64])
    path = kst.CutoffCrossing(np.array([[0.3, 0.2, -0.5], R_CUT * u]), 1, u, R_CUT)
    report = check_cutoff_smoothness(lambda x, v: rst.with_peaks_at(x, v, normalize=True), path, 0,
                                     species=np.array([1.0, -1.0]))
    assert not report.passed and report.details["first discontinuous derivative"] == 0
    value = report.details["orders"][0]
    assert value["estimated jump"] > 1e6 * value["round-off floor"]
    # a finite jump (basis not vanishing at r_cut) keeps D(h/4)/D(h/2) near 1, a divergence
    # (basis vanishing at r_cut, so phi / ||phi||^2 blows up) makes it grow
    assert value["ratio D(h/4)/D(h/2)"] > 0.9


# ---------------------------------------------------------------------------------------
# featurization of (periodic) structures through the kit
# ---------------------------------------------------------------------------------------

FEATURIZE = dict(r_cut=R_CUT, n_max=3, l_max=2, species=[1, 6, 8])


def structure_features(x, species, cell=None, **kwargs):
    import ase

    from rstref.features import featurize

    atoms = ase.Atoms(numbers=species, positions=x, cell=cell, pbc=cell is not None)
    return featurize(atoms, **FEATURIZE, **kwargs).features


def structure_features_with_gradients(x, species, cell=None):
    """Dense (N, 3, N, F) gradients from featurize's pair-sparse ones."""
    import ase

    from rstref.features import featurize

    atoms = ase.Atoms(numbers=species, positions=x, cell=cell, pbc=cell is not None)
    out = featurize(atoms, **FEATURIZE, gradients=True)
    n, f = out.features.shape
    dense = np.zeros((n, 3, n, f))
    centers, neighbors, values = out.dense_gradients()
    np.add.at(dense, (neighbors, slice(None), centers), values)
    return out.features, dense


periodic = kst.periodic_structures(min_atoms=1, max_atoms=3, species=(1, 6, 8), min_separation=0.6,
                                   min_length=1.0, max_length=3.0)


@settings(max_examples=10)
@given(structure=periodic, R=kst.rotations(kind="any"), t=kst.translations(4.0), data=st.data())
def test_featurize_periodic_symmetries_through_the_kit(structure, R, t, data):
    x, species, cell = structure
    perm = data.draw(kst.permutations(len(x)))
    assert_rotation_invariant(structure_features, x, R, species=species, cell=cell)
    assert_translation_invariant(structure_features, x, t, species=species, cell=cell, wrap=True)
    assert_permutation_equivariant(structure_features, x, perm, species=species, cell=cell)


@settings(max_examples=5)
@given(structure=periodic)
def test_featurize_periodic_gradients_through_the_kit(structure):
    x, species, cell = structure
    assert_gradient_matches(structure_features_with_gradients, x, species=species, cell=cell,
                            value_func=structure_features)


@settings(max_examples=8)
@given(case=kst.cutoff_crossings(r_cut=R_CUT, max_other_atoms=3, min_separation=0.6).flatmap(
    lambda p: st.tuples(st.just(p), kst.species_assignments(len(p.positions) + 1, (1, 6, 8)))))
def test_featurize_cutoff_smoothness_raw_versus_kernel_normalised(case):
    path, species = case
    centred = kst.CutoffCrossing(np.vstack([np.zeros((1, 3)), path.positions]), path.index + 1,
                                 path.direction, R_CUT)
    assert_smooth_at_cutoff(lambda x, s: structure_features(x, s)[0], centred, 2, species=species)
    report = check_cutoff_smoothness(lambda x, s: structure_features(x, s, normalize=True)[0], centred, 0,
                                     species=species)
    assert not report.passed
