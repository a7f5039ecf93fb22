"""Featurization of structures (rstref.features, the `rstref featurize` CLI).

Oracles: the per-environment descriptors of rstref.tensor / rstref.invariants applied
to brute-force neighbour lists; the stacked-channel identity with power_spectrum_cross;
symmetry checks of rstref.testing; central differences of the features for gradients
and for the strain derivatives.
"""

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from hypothesis import given, settings
from hypothesis import strategies as st

import rstref
from rstref import tolerances
from rstref.features import Features, Featurizer, featurize, open_features
from rstref.neighbors import neighbor_list_brute_force
from rstref.testing import (
    assert_gradient_matches,
    assert_permutation_equivariant,
    assert_rotation_invariant,
    assert_smooth_at_cutoff,
    assert_translation_invariant,
)
from rstref.testing import strategies as kst

SMALL = dict(r_cut=2.2, n_max=3, l_max=3)
SPECIES = (1, 6, 8)


def structure(positions, species, cell, pbc=None):
    """Periodic when the cell is non-zero (the kit passes np.zeros((3, 3)) for open ones)."""
    pbc = bool(np.any(cell)) if pbc is None else pbc
    return Atoms(numbers=np.asarray(species), positions=positions, cell=cell, pbc=pbc)


def channels_featurizer(**kw):
    return Featurizer(**{**SMALL, "species": SPECIES, **kw})


def features_of(featurizer):
    """Featurizer -> callable(positions, species, cell) for the rstref.testing kit."""
    def f(positions, species, cell):
        return featurizer.compute(structure(positions, species, cell)).features
    return f


def dense_gradient(out):
    """(N, 3, N, F): d features[i, f] / d positions[k, a] at [k, a, i, f] (the kit's 'total')."""
    n = out.n_atoms
    dense = np.zeros((n, 3, n, out.features.shape[1]))
    centers, neighbors, values = out.dense_gradients()
    dense[neighbors, :, centers, :] = values
    return dense


def ethanol_like():
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.02, seed=7)  # break every symmetry
    return atoms


def small_periodic():
    """Two species in a skewed cell smaller than 2 r_cut (atoms see their own images)."""
    cell = np.array([[2.1, 0.0, 0.0], [0.5, 2.3, 0.0], [-0.3, 0.4, 2.6]])
    frac = np.array([[0.1, 0.2, 0.3], [0.6, 0.5, 0.4], [0.3, 0.8, 0.9]])
    return structure(frac @ cell, [8, 1, 6], cell)


# ----------------------------------------------------------------------------- oracles

@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("atoms_kind", ["molecule", "periodic"])
def test_values_mode_equals_per_environment_power_spectrum(normalize, atoms_kind):
    atoms = ethanol_like() if atoms_kind == "molecule" else small_periodic()
    fz = Featurizer(**SMALL, species_mode="values", species_values={"H": -0.5, "C": 1.0, "O": 2.0},
                    normalize=normalize)
    out = fz.compute(atoms)
    rst = rstref.RadialSphericalTensor(fz.n_max, fz.radial_basis, fz.l_max)
    ps = rstref.PowerSpectrum(rst)
    nl = neighbor_list_brute_force(atoms, fz.r_cut)
    heights = {1: -0.5, 6: 1.0, 8: 2.0}
    for i in range(len(atoms)):
        sel = nl.i == i
        values = np.array([heights[z] for z in atoms.numbers[nl.j[sel]]])
        expected = ps.compute(nl.vector[sel], values, normalize=normalize)
        np.testing.assert_allclose(out.features[i], expected, rtol=0,
                                   atol=tolerances.identity_atol(np.abs(expected).max(), fz.l_max))


def test_values_mode_default_heights_are_the_seeds():
    atoms = ethanol_like()
    a = featurize(atoms, **SMALL, species_mode="values").features
    b = featurize(atoms, **SMALL, species_mode="values",
                  species_values={"H": -1.0, "C": 1.0, "O": 1.0}).features
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("atoms_kind", ["molecule", "periodic"])
def test_channels_mode_is_the_stacked_power_spectrum(atoms_kind):
    atoms = ethanol_like() if atoms_kind == "molecule" else small_periodic()
    fz = channels_featurizer()
    out = fz.compute(atoms)
    n_max, l_max, S = fz.n_max, fz.l_max, len(SPECIES)
    rst = rstref.RadialSphericalTensor(n_max, fz.radial_basis, l_max)
    nl = neighbor_list_brute_force(atoms, fz.r_cut)
    names, labels = fz.feature_labels()
    assert names == ("l", "species_a", "n", "species_b", "n2")
    for i in range(len(atoms)):
        sel = nl.i == i
        per_species = []
        for z in SPECIES:
            mine = sel & (atoms.numbers[nl.j] == z)
            per_species.append(rst.with_peaks_at(nl.vector[mine], None, normalize=False)
                               if mine.any() else np.zeros(rst.dim))
        # (1) the stacked tensor with composite radial index N = a * n_max + n
        stacked = np.zeros(S * rst.dim)
        for l in range(l_max + 1):
            w = 2 * l + 1
            for a in range(S):
                for n in range(n_max):
                    src = n_max * l * l + n * w
                    dst = S * n_max * l * l + (a * n_max + n) * w
                    stacked[dst:dst + w] = per_species[a][src:src + w]
        expected = rstref.power_spectrum(stacked, S * n_max, l_max)
        scale = np.abs(expected).max()
        np.testing.assert_allclose(out.features[i], expected, rtol=0,
                                   atol=tolerances.identity_atol(scale, l_max))
        # (2) each labelled feature is a same- or cross-species product (sqrt(2) off the diagonal)
        index = {z: a for a, z in enumerate(SPECIES)}
        for f, (l, za, n, zb, n2) in enumerate(labels):
            a, b = index[za], index[zb]
            cross = rstref.power_spectrum_cross(per_species[a], per_species[b], n_max, l_max)
            value = cross[l * n_max * n_max + n * n_max + n2]
            weight = 1.0 if (a, n) == (b, n2) else np.sqrt(2.0)
            assert abs(out.features[i, f] - weight * value) <= tolerances.identity_atol(scale, l_max)


def test_bispectrum_values_mode_equals_per_environment_bispectrum():
    atoms = ethanol_like()
    fz = Featurizer(r_cut=2.2, n_max=2, l_max=2, species_mode="values", invariant="bispectrum")
    out = fz.compute(atoms)
    rst = rstref.RadialSphericalTensor(2, fz.radial_basis, 2)
    bs = rstref.Bispectrum(rst)
    nl = neighbor_list_brute_force(atoms, fz.r_cut)
    for i in range(len(atoms)):
        sel = nl.i == i
        values = np.where(atoms.numbers[nl.j[sel]] == 1, -1.0, 1.0)
        expected = bs.compute(nl.vector[sel], values, normalize=False)
        np.testing.assert_allclose(out.features[i], expected, rtol=0,
                                   atol=tolerances.identity_atol(np.abs(expected).max() + 1, 2))


def test_include_center_adds_the_peak_at_the_origin():
    atoms = ethanol_like()
    fz = Featurizer(**SMALL, species_mode="values", include_center=True)
    out = fz.compute(atoms)
    rst = rstref.RadialSphericalTensor(fz.n_max, fz.radial_basis, fz.l_max)
    ps = rstref.PowerSpectrum(rst)
    nl = neighbor_list_brute_force(atoms, fz.r_cut, self_interaction=True)
    assert np.sum((nl.i == nl.j) & (nl.distance == 0)) == len(atoms)
    for i in range(len(atoms)):
        sel = nl.i == i
        values = np.where(atoms.numbers[nl.j[sel]] == 1, -1.0, 1.0)
        expected = ps.compute(nl.vector[sel], values, normalize=False)
        np.testing.assert_allclose(out.features[i], expected, rtol=0,
                                   atol=tolerances.identity_atol(np.abs(expected).max(), fz.l_max))
    # and it differs from excluding the centre
    assert not np.allclose(out.features, featurize(atoms, **SMALL, species_mode="values").features)


def test_feature_count_and_labels():
    fz = channels_featurizer()
    F = (fz.l_max + 1) * 9 * 10 // 2
    assert fz.n_features == F
    names, labels = fz.feature_labels()
    assert labels.shape == (F, 5)
    # order: l-major, then composite (a, n) <= (b, n2)
    composite = [(l, SPECIES.index(za) * 3 + n, SPECIES.index(zb) * 3 + n2) for l, za, n, zb, n2 in labels]
    assert composite == [(l, N, N2) for l in range(fz.l_max + 1) for N in range(9) for N2 in range(N, 9)]
    bz = Featurizer(r_cut=2.0, n_max=2, l_max=2, species=(1, 8), invariant="bispectrum")
    names, labels = bz.feature_labels()
    assert labels.shape == (bz.n_features, 9)
    assert bz.n_features == len(rstref.invariants.bispectrum_range(4, 2))


# ----------------------------------------------------------------------------- symmetries

periodic = kst.periodic_structures(min_atoms=1, max_atoms=4, species=SPECIES, min_separation=0.5,
                                   min_length=1.2, max_length=3.5)


@settings(max_examples=15)
@given(periodic, kst.rotations(kind="any"))
def test_rotation_invariance(case, rotation):
    positions, species, cell = case
    assert_rotation_invariant(features_of(channels_featurizer()), positions, rotation, species, cell)


@settings(max_examples=15)
@given(periodic.flatmap(lambda c: kst.permutations(len(c[0])).map(lambda p: (c, p))))
def test_permutation_equivariance(case):
    (positions, species, cell), perm = case
    assert_permutation_equivariant(features_of(channels_featurizer()), positions, perm, species, cell)


@settings(max_examples=15)
@given(periodic, kst.translations(max_norm=20.0), st.booleans())
def test_translation_and_rewrapping_invariance(case, translation, wrap):
    positions, species, cell = case
    assert_translation_invariant(features_of(channels_featurizer()), positions, translation, species,
                                 cell, wrap=wrap)


@settings(max_examples=10)
@given(periodic, st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3)))
def test_supercell_atoms_have_the_primitive_features(case, repeat):
    positions, species, cell = case
    atoms = structure(positions, species, cell)
    fz = channels_featurizer()
    primitive = fz.compute(atoms).features
    supercell = fz.compute(atoms.repeat(repeat)).features
    expected = np.tile(primitive, (int(np.prod(repeat)), 1))  # ase.repeat: copies of the cell in turn
    atol = tolerances.kit_invariance_atol(max(np.abs(primitive).max(), 1.0), len(supercell), fz.n_features)
    np.testing.assert_allclose(supercell, expected, rtol=0, atol=atol)


def test_open_structure_is_invariant_under_rotation_of_positions_only():
    atoms = ethanol_like()
    fz = channels_featurizer()
    f0 = fz.compute(atoms).features
    R = rstref.random_rotation(3)
    rotated = atoms.copy()
    rotated.positions = atoms.positions @ R.T
    atol = tolerances.kit_invariance_atol(np.abs(f0).max(), len(atoms), fz.n_features)
    np.testing.assert_allclose(fz.compute(rotated).features, f0, rtol=0, atol=atol)


@settings(max_examples=8)
@given(kst.cutoff_crossings(r_cut=2.0, max_other_atoms=3))
def test_default_features_are_c2_across_the_cutoff(path):
    # the centre atom sits at the origin; one neighbour crosses |r| = r_cut
    fz = Featurizer(r_cut=2.0, n_max=3, l_max=3, species_mode="values")

    def centre_features(positions):
        atoms = Atoms(numbers=[6] * (len(positions) + 1), positions=np.vstack([np.zeros((1, 3)), positions]))
        return fz.compute(atoms).features[0]

    assert_smooth_at_cutoff(centre_features, path, order=2)
    # control: the seed's kernel-normalised projection with plain cosines jumps at r_cut
    jumpy = Featurizer(r_cut=2.0, n_max=3, l_max=3, species_mode="values", normalize=True, primitive="cosines")

    def jumpy_features(positions):
        atoms = Atoms(numbers=[6] * (len(positions) + 1), positions=np.vstack([np.zeros((1, 3)), positions]))
        return jumpy.compute(atoms).features[0]

    with pytest.raises(AssertionError):
        assert_smooth_at_cutoff(jumpy_features, path, order=0)


# ----------------------------------------------------------------------------- derivatives

def _with_gradients(featurizer):
    def f(positions, species, cell):
        out = featurizer.compute(structure(positions, species, cell), gradients=True)
        return out.features, dense_gradient(out)
    return f


@pytest.mark.parametrize("mode", ["channels", "values"])
def test_pair_gradients_match_central_differences_periodic(mode):
    atoms = small_periodic()
    fz = channels_featurizer() if mode == "channels" else Featurizer(**SMALL, species_mode="values")
    assert_gradient_matches(_with_gradients(fz), atoms.positions, atoms.numbers, np.asarray(atoms.cell))


def test_pair_gradients_match_central_differences_molecule_and_bispectrum():
    atoms = ethanol_like()
    fz = channels_featurizer()
    assert_gradient_matches(_with_gradients(fz), atoms.positions, atoms.numbers, np.zeros((3, 3)))
    bz = Featurizer(r_cut=2.2, n_max=2, l_max=2, species=SPECIES, invariant="bispectrum")
    periodic_atoms = small_periodic()
    assert_gradient_matches(_with_gradients(bz), periodic_atoms.positions, periodic_atoms.numbers,
                            np.asarray(periodic_atoms.cell))


def test_kernel_normalised_gradients_match_central_differences():
    # plain cosines do not vanish at r_cut, so phi / ||phi||^2 stays bounded (it jumps to 0
    # at r_cut instead; no pair is near it here)
    atoms = ethanol_like()
    fz = Featurizer(**{**SMALL, "r_cut": 2.85}, species_mode="values", normalize=True, primitive="cosines")
    assert np.min(np.abs(neighbor_list_brute_force(atoms, 10.0).distance - fz.r_cut)) > 0.05
    assert_gradient_matches(_with_gradients(fz), atoms.positions, atoms.numbers, np.zeros((3, 3)))


@settings(max_examples=10)
@given(periodic)
def test_gradient_layout_and_sum_rules(case):
    positions, species, cell = case
    fz = channels_featurizer()
    out = fz.compute(structure(positions, species, cell), gradients=True, stress=True)
    n = len(positions)
    centers, neighbors, values = out.dense_gradients()
    keys = centers * n + neighbors
    assert np.all(np.diff(keys) > 0)  # sorted, unique
    assert set(zip(*np.nonzero(np.eye(n, dtype=bool)))) <= set(zip(centers, neighbors))
    dense = dense_gradient(out)
    scale = max(np.abs(values).max(initial=0.0), 1.0)
    atol = tolerances.kit_symmetry_atol(scale * n * 30, fz.n_features)
    # translation: moving every atom together changes nothing
    np.testing.assert_allclose(dense.sum(axis=0), 0.0, rtol=0, atol=atol)
    # rotation: the strain derivative is symmetric (its antisymmetric part is the torque)
    W = out.strain_derivatives
    stress_scale = max(np.abs(W).max(initial=0.0), 1.0)
    np.testing.assert_allclose(W, np.swapaxes(W, 1, 2), rtol=0,
                               atol=tolerances.kit_symmetry_atol(stress_scale * 30, fz.n_features))


def _strained(atoms, eps):
    out = atoms.copy()
    deformation = np.eye(3) + eps
    out.set_cell(np.asarray(atoms.cell) @ deformation.T, scale_atoms=False)
    out.positions = atoms.positions @ deformation.T
    return out


@pytest.mark.parametrize("mode", ["channels", "values", "bispectrum"])
def test_strain_derivatives_match_finite_strain(mode):
    atoms = small_periodic()
    if mode == "bispectrum":
        fz = Featurizer(r_cut=2.2, n_max=2, l_max=2, species=SPECIES, invariant="bispectrum")
    elif mode == "values":
        fz = Featurizer(**SMALL, species_mode="values")
    else:
        fz = channels_featurizer()
    W = fz.compute(atoms, stress=True).strain_derivatives
    h = tolerances.FD_STEP
    scale = max(np.abs(W).max(), 1.0)
    for a in range(3):
        for b in range(3):
            E = np.zeros((3, 3))
            E[a, b] = h
            fd = (fz.compute(_strained(atoms, E)).features - fz.compute(_strained(atoms, -E)).features) / (2 * h)
            np.testing.assert_allclose(W[:, a, b], fd, rtol=0, atol=tolerances.FD_RTOL * scale * 10,
                                       err_msg=f"strain component {(a, b)}")


def test_gradients_and_stress_do_not_change_the_features():
    atoms = small_periodic()
    fz = channels_featurizer()
    plain = fz.compute(atoms)
    full = fz.compute(atoms, gradients=True, stress=True)
    np.testing.assert_array_equal(plain.features, full.features)
    assert plain.gradient_values is None and plain.strain_derivatives is None


def test_self_images_in_tiny_cells_do_not_move_the_centre():
    # one atom in a cell far smaller than r_cut: its only neighbours are its own images,
    # so every position gradient vanishes exactly, while the strain derivative does not
    atoms = bulk("Cu", "fcc", a=2.0)
    out = featurize(atoms, r_cut=3.0, n_max=3, l_max=2, gradients=True, stress=True)
    centers, neighbors, values = out.dense_gradients()
    assert centers.tolist() == [0] and neighbors.tolist() == [0]
    np.testing.assert_allclose(values, 0.0, atol=1e-12)
    assert np.abs(out.strain_derivatives).max() > 1e-3


# ----------------------------------------------------------------------------- batches

def test_batches_stream_in_order_and_match_single_structures():
    structures = [ethanol_like(), small_periodic(), molecule("H2O"), structure(np.zeros((0, 3)), [], np.eye(3)),
                  small_periodic().repeat((1, 2, 1))]
    fz = channels_featurizer()
    singles = [fz.compute(a, gradients=True, stress=True) for a in structures]

    def gen():
        yield from structures

    batches = list(fz.iter_batches(gen(), gradients=True, stress=True, batch_atoms=7))
    assert 1 < len(batches) < len(structures)
    joined = Features.concatenate(batches, fz.n_features, gradients=True, stress=True)
    expected = Features.concatenate(singles, fz.n_features, gradients=True, stress=True)
    for name, value in expected.arrays().items():
        np.testing.assert_array_equal(getattr(joined, name), value, err_msg=name)
    many = featurize(structures, **SMALL, species=SPECIES, gradients=True, stress=True, batch_atoms=3)
    for name, value in expected.arrays().items():
        np.testing.assert_array_equal(getattr(many, name), value, err_msg=name)
    assert many.n_structures == len(structures)
    np.testing.assert_array_equal(np.diff(many.atom_offsets), [len(a) for a in structures])


def test_featurize_infers_species_from_the_list():
    structures = [molecule("H2O"), molecule("CH4")]
    out = featurize(structures, **SMALL)
    assert out.features.shape == (8, (SMALL["l_max"] + 1) * 9 * 10 // 2)
    np.testing.assert_array_equal(out.features, featurize(structures, **SMALL, species=[1, 6, 8]).features)


def test_progress_goes_to_stderr(capsys):
    fz = channels_featurizer()
    list(fz.iter_batches([molecule("H2O")] * 3, batch_atoms=1, progress=True))
    err = capsys.readouterr().err
    assert "3" in err and err.strip()
    list(fz.iter_batches([molecule("H2O")] * 3, batch_atoms=1, progress=False))
    assert capsys.readouterr().err == ""


def test_progress_counts_atoms_of_the_library_path(capsys):
    fz = channels_featurizer()
    list(fz.iter_batches([molecule("H2O"), molecule("CH4")] * 2, batch_atoms=4, progress=True))
    last = capsys.readouterr().err.strip().split("\r")[-1]
    assert "4/4 structures" in last and "16 atoms" in last


# ----------------------------------------------------------------------------- bad input

def test_bad_input_raises_clear_errors():
    fz = channels_featurizer()
    with pytest.raises(ValueError, match=r"species \['N'\] not in the species list"):
        fz.compute(molecule("NH3"))
    nan = molecule("H2O")
    nan.positions[1, 0] = np.nan
    with pytest.raises(ValueError, match="positions of structure 0 contains NaN"):
        fz.compute(nan)
    flat = structure(np.zeros((1, 3)), [1], np.diag([1.0, 1.0, 0.0]), pbc=True)
    with pytest.raises(ValueError, match="structure 0: .*zero"):
        fz.compute(flat)
    with pytest.raises(ValueError, match="r_cut"):
        Featurizer(r_cut=0.0, species=SPECIES)
    with pytest.raises(ValueError, match="r_cut"):
        featurize(molecule("H2O"), r_cut=-1.0)
    with pytest.raises(ValueError, match="species is required"):
        Featurizer(**SMALL)
    with pytest.raises(ValueError, match="unknown chemical symbol"):
        Featurizer(**SMALL, species=["H", "Xx"])
    with pytest.raises(ValueError, match="duplicates"):
        Featurizer(**SMALL, species=["H", "H"])
    with pytest.raises(ValueError, match="species_mode"):
        Featurizer(**SMALL, species=SPECIES, species_mode="onehot")
    with pytest.raises(ValueError, match="species_values has no value"):
        Featurizer(**SMALL, species=[1, 8], species_mode="values", species_values={"H": 1.0})
    with pytest.raises(ValueError, match="species_values has no value"):
        Featurizer(**SMALL, species_mode="values", species_values={"H": 1.0}).compute(molecule("H2O"))
    with pytest.raises(TypeError, match="ase.Atoms"):
        fz.compute(np.zeros((3, 3)))
    twins = structure(np.zeros((2, 3)), [1, 1], np.eye(3) * 5)
    with pytest.raises(ValueError, match="coincide"):
        fz.compute(twins)
    with pytest.raises(ValueError, match="species cannot be inferred"):
        featurize([Atoms()], **SMALL)


@pytest.mark.parametrize("pbc", [False, True])
def test_empty_structure_gives_shaped_empty_outputs(pbc):
    fz = channels_featurizer()
    empty = Atoms(cell=np.eye(3) * 4, pbc=pbc)
    out = fz.compute(empty, gradients=True, stress=True)
    F = fz.n_features
    assert out.features.shape == (0, F) and out.atom_offsets.tolist() == [0, 0]
    centers, _, values = out.dense_gradients()
    assert values.shape == (0, 3, F) and centers.shape == (0,)
    assert out.strain_derivatives.shape == (0, 3, 3, F)
    none = fz.compute_many([], gradients=True)
    assert none.features.shape == (0, F) and none.atom_offsets.tolist() == [0]
    assert none.dense_gradients()[2].shape == (0, 3, F)


def test_isolated_atom_has_zero_features():
    out = featurize(Atoms("O"), **SMALL, gradients=True)
    np.testing.assert_array_equal(out.features, 0.0)
    np.testing.assert_array_equal(out.dense_gradients()[2], 0.0)


# ----------------------------------------------------------------------------- CLI

def _write_inputs(tmp_path):
    import ase.io

    mols = [ethanol_like(), molecule("H2O")]
    ase.io.write(tmp_path / "mols.xyz", mols)
    crystals = [small_periodic(), small_periodic().repeat((2, 1, 1))]
    ase.io.write(tmp_path / "crystals.traj", crystals)
    (tmp_path / "broken.xyz").write_text("3\ncomment\nH 0 0 0\nthis is not a structure\n")
    return mols, crystals


def test_cli_round_trip_with_a_bad_file(tmp_path, capsys):
    from rstref.cli import main

    mols, crystals = _write_inputs(tmp_path)
    out_path = tmp_path / "out.npz"
    argv = [str(tmp_path / "mols.xyz"), str(tmp_path / "broken.xyz"), str(tmp_path / "crystals.traj"),
            "-o", str(out_path), "--r-cut", "2.2", "--n-max", "3", "--l-max", "3",
            "--species", "H,C,O", "--gradients", "--stress", "--batch-atoms", "5", "--no-progress"]
    rc = main(["featurize"] + argv)
    err = capsys.readouterr().err
    assert rc == 1  # a file failed, the others were written
    assert "broken.xyz" in err
    import ase.io

    fz = channels_featurizer()
    as_read = ase.io.read(tmp_path / "mols.xyz", ":") + ase.io.read(tmp_path / "crystals.traj", ":")
    expected = fz.compute_many(as_read, gradients=True, stress=True)
    read = open_features(out_path)
    for name, value in expected.arrays().items():
        np.testing.assert_array_equal(getattr(read, name), value, err_msg=name)
    with np.load(out_path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["gradient_starts"], expected.gradient_offsets[:-1])
        assert data["structure_file"].tolist() == [0, 0, 2, 2]
        assert data["structure_frame"].tolist() == [0, 1, 0, 1]
        hyper = json.loads(str(data["hyperparameters"]))
        assert hyper["species"] == ["H", "C", "O"] and hyper["r_cut"] == 2.2 and hyper["n_max"] == 3
        assert str(data["rstref_version"]) == rstref.__version__
        failures = json.loads(str(data["failures"]))
        assert [f["file"] for f in failures] == [str(tmp_path / "broken.xyz")]
        assert json.loads(str(data["input_files"]))[1].endswith("broken.xyz")
        np.testing.assert_array_equal(data["feature_labels"], fz.feature_labels()[1])
        np.testing.assert_array_equal(data["positions"][:len(mols[0])], as_read[0].positions)


def test_cli_index_values_mode_and_skipped_structure(tmp_path, capsys):
    import ase.io

    from rstref.cli import main

    structures = [molecule("H2O"), molecule("NH3"), molecule("CH4")]
    ase.io.write(tmp_path / "three.xyz", structures)
    out_path = tmp_path / "v.npz"
    rc = main(["featurize", str(tmp_path / "three.xyz"), "-o", str(out_path), "--index", "0:3",
               "--species-mode", "values", "--species-values", "H=-1,C=1,O=2", "--r-cut", "2.2",
               "--n-max", "3", "--l-max", "3", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "three.xyz" in err and "N" in err  # NH3 has no peak height
    as_read = ase.io.read(tmp_path / "three.xyz", ":")
    expected = featurize([as_read[0], as_read[2]], **SMALL, species_mode="values",
                         species_values={"H": -1, "C": 1, "O": 2})
    with np.load(out_path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["features"], expected.features)
        assert data["structure_frame"].tolist() == [0, 2]
        assert "gradient_values" not in data.files
    rc = main(["featurize", str(tmp_path / "three.xyz"), "-o", str(tmp_path / "all.npz"), "--index", "::2",
               "--r-cut", "2.2", "--n-max", "3", "--l-max", "3", "--no-progress"])
    assert rc == 0
    with np.load(tmp_path / "all.npz", allow_pickle=False) as data:
        assert json.loads(str(data["hyperparameters"]))["species"] == ["H", "C", "O"]
        assert data["features"].shape[0] == len(structures[0]) + len(structures[2])
