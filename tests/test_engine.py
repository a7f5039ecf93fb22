"""One engine under every entry point: the tensor, batched and featurizer paths agree.

The oracle of each test is another public entry point computing the same quantity of the
same environment.  All of them run the same per-atom projection kernel and the same
invariant formulas (rstref._engine), so coefficients and power spectra agree bit for bit
(``assert_array_equal``); where two paths use different (mathematically equal) formulas,
e.g. the factored per-neighbour gradient of the featurizer against the chain rule of
PowerSpectrum, the agreement is to round-off of the scale.
"""

import numpy as np
import pytest
from ase import Atoms

import rstref
from rstref import batched
from rstref.features import Featurizer
from rstref.neighbors import neighbor_list
from rstref.tolerances import identity_atol

N_MAX, L_MAX, R_CUT = 3, 3, 3.0


def _environments(seed=0, sizes=(4, 0, 6, 1)):
    """Ragged batch of environments with distinct neighbours, one at the centre."""
    rng = np.random.default_rng(seed)
    rows = [rng.uniform(-2.0, 2.0, (k, 3)) for k in sizes]
    rows[0][0] = 0.0
    positions = np.concatenate(rows)
    values = rng.uniform(-1.5, 1.5, positions.shape[0])
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return positions, values, offsets


def _tensor(primitive="smooth_cosines", convention="standard"):
    basis = rstref.OrthonormalRadialBasis(N_MAX, R_CUT, primitive)
    return rstref.RadialSphericalTensor(N_MAX, basis, L_MAX, convention=convention)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("convention", ["standard", "e3nn"])
def test_batched_and_tensor_are_bit_identical(normalize, convention):
    rst = _tensor("cosine_bumps", convention)
    ps = rstref.PowerSpectrum(rst)
    positions, values, offsets = _environments()
    c, dc, d2c = batched.expansions_with_hessians(rst, positions, offsets, values, normalize)
    p, dp = batched.power_spectra_with_gradients(rst, positions, offsets, values, normalize)
    for e in range(len(offsets) - 1):
        s, t = offsets[e], offsets[e + 1]
        c1, dc1, d2c1 = rst.with_peaks_at_with_hessians(positions[s:t], values[s:t], normalize)
        p1, dp1 = ps.compute_with_gradients(positions[s:t], values[s:t], normalize)
        np.testing.assert_array_equal(c[e], c1)
        np.testing.assert_array_equal(dc[s:t], dc1)
        np.testing.assert_array_equal(d2c[s:t], d2c1)
        np.testing.assert_array_equal(p[e], p1)
        np.testing.assert_array_equal(dp[s:t], dp1)


def _molecule():
    """A small open structure with two species (no periodic images)."""
    rng = np.random.default_rng(3)
    positions = rng.uniform(0.0, 2.6, (7, 3))
    return Atoms("H3O2C2", positions=positions)


def _environment_of(atoms, centre):
    nl = neighbor_list(atoms.get_positions(), R_CUT, np.zeros((3, 3)), np.zeros(3, bool))
    rows = nl.i == centre
    return nl.vector[rows], nl.j[rows]


@pytest.mark.parametrize("normalize", [False, True])
def test_featurizer_values_mode_equals_power_spectrum(normalize):
    atoms = _molecule()
    rst = _tensor()
    ps = rstref.PowerSpectrum(rst)
    featurizer = Featurizer(radial_basis=rst.radial_basis, l_max=L_MAX, species_mode="values",
                            normalize=normalize)
    out = featurizer.compute(atoms)
    grad = featurizer.compute(atoms, gradients=True)
    heights = np.array([rstref.features.seed_species_value(z) for z in atoms.numbers])
    for centre in range(len(atoms)):
        vectors, neighbours = _environment_of(atoms, centre)
        np.testing.assert_array_equal(out.features[centre], ps.compute(vectors, heights[neighbours],
                                                                       normalize))
        p, dp = ps.compute_with_gradients(vectors, heights[neighbours], normalize)
        centers, neighbors, values = grad.dense_gradients()
        rows = centers == centre
        for k, j in enumerate(neighbours):
            slot = np.flatnonzero(rows & (neighbors == j))[0]
            np.testing.assert_allclose(values[slot], dp[k], rtol=0,
                                       atol=identity_atol(np.abs(dp).max()))


@pytest.mark.parametrize("normalize", [False, True])
def test_featurizer_channels_are_radial_offsets(normalize):
    """Same-species blocks of the stacked power spectrum are the one-species power spectra;
    cross-species blocks are sqrt(2) times the cross power spectrum."""
    atoms = _molecule()
    rst = _tensor()
    ps = rstref.PowerSpectrum(rst)
    species = [1, 6, 8]
    featurizer = Featurizer(radial_basis=rst.radial_basis, l_max=L_MAX, species=species,
                            normalize=normalize)
    features = featurizer.compute(atoms).features
    names, labels = featurizer.feature_labels()
    for centre in range(len(atoms)):
        vectors, neighbours = _environment_of(atoms, centre)
        c = {}
        for z in species:
            mine = atoms.numbers[neighbours] == z
            c[z] = rst.with_peaks_at(vectors[mine], None, normalize)
            same = (labels[:, 1] == z) & (labels[:, 3] == z)
            np.testing.assert_array_equal(features[centre, same],
                                          ps.compute(vectors[mine], None, normalize))
        for a, za in enumerate(species):
            for zb in species[a + 1:]:
                cross = rstref.power_spectrum_cross(c[za], c[zb], N_MAX, L_MAX)
                rows = (labels[:, 1] == za) & (labels[:, 3] == zb)
                want = np.sqrt(2.0) * cross
                np.testing.assert_allclose(features[centre, rows], want, rtol=0,
                                           atol=identity_atol(np.abs(want).max()))


def test_featurizer_bispectrum_equals_bispectrum():
    atoms = _molecule()
    rst = _tensor()
    bs = rstref.Bispectrum(rst)
    featurizer = Featurizer(radial_basis=rst.radial_basis, l_max=L_MAX, species_mode="values",
                            invariant="bispectrum")
    out = featurizer.compute(atoms)
    heights = np.array([rstref.features.seed_species_value(z) for z in atoms.numbers])
    for centre in range(len(atoms)):
        vectors, neighbours = _environment_of(atoms, centre)
        np.testing.assert_array_equal(out.features[centre],
                                      bs.compute(vectors, heights[neighbours], False))


def test_checked_fast_paths_equal_public_calls():
    rst = _tensor("cosine_bumps")
    positions, values, _ = _environments(sizes=(5,))
    for invariant in (rstref.PowerSpectrum(rst), rstref.Bispectrum(rst)):
        public = [(invariant.compute(positions, values, True),),
                  invariant.compute_with_gradients(positions, values, True),
                  invariant.compute_with_hessians(positions, values, True)]
        for order, want in enumerate(public):
            got = invariant._compute_checked(positions, values, True, order)
            assert len(got) == 3 and all(x is None for x in got[order + 1:])
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
    c, dc, d2c = rst._project_checked(positions, values, False, 2)
    for g, w in zip((c, dc, d2c), rst.with_peaks_at_with_hessians(positions, values, False)):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("normalize", [False, True])
def test_device_facing_environment_kernels_equal_the_engine(normalize):
    """The one-density loops the GPU driver launches run the same per-atom kernel."""
    from rstref import limits
    from rstref._kernels.tensor import project_environment, project_environment_radial

    rst = _tensor("cosine_bumps")
    positions, values, _ = _environments(sizes=(5,))
    want = rst.with_peaks_at_with_hessians(positions, values, normalize)
    sph = rstref.SphericalHarmonics(L_MAX, "component", "standard")
    Y, dY, d2Y = sph.compute_with_hessians(positions)
    R, dR, d2R = rst.radial_basis.with_derivatives(np.linalg.norm(positions, axis=1))
    n = positions.shape[0]
    tail = (N_MAX, L_MAX, normalize, 2, limits.KERNEL_NORM_FLOOR)
    c, dc, d2c = np.empty(rst.dim), np.empty((n, 3, rst.dim)), np.empty((n, 3, 3, rst.dim))
    project_environment(positions, values, R, dR, d2R, Y, dY, d2Y, *tail, c, dc, d2c)
    for got, ref in zip((c, dc, d2c), want):
        np.testing.assert_array_equal(got, ref)
    family, r_cut, n_prim, p, coefficients = rst.radial_basis.kernel_arguments()
    scratch = [np.empty(n_prim) for _ in range(3)] + [np.empty(N_MAX) for _ in range(3)]
    project_environment_radial(positions, values, family, r_cut, n_prim, p, coefficients, Y, dY,
                               d2Y, *tail, *scratch, c, dc, d2c)
    for got, ref in zip((c, dc, d2c), want):
        np.testing.assert_array_equal(got, ref)
