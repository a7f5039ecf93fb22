"""Species-sparse position gradients (docs/gradients.md): layout, expansion, contraction, files."""

import numpy as np
import pytest
from ase.build import bulk, molecule

import rstref
from rstref.features import Features, Featurizer, open_features

SPECIES = ["H", "C", "N", "O"]


def _featurizer(invariant="power_spectrum", **kwargs):
    options = dict(r_cut=3.0, n_max=3, l_max=2, species=SPECIES, invariant=invariant)
    options.update(kwargs)
    return Featurizer(**options)


def _structures():
    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    cu.rattle(0.05, seed=3)
    return [molecule("CH3CH2OH"), molecule("H2O"), molecule("CH3CONH2")]


def _central_differences(fz, atoms, h=1e-5):
    """(n, n, 3, F): d features[i] / d positions[j, a] at [i, j, a] by central differences."""
    n = len(atoms)
    out = np.zeros((n, n, 3, fz.n_features))
    for j in range(n):
        for a in range(3):
            moved = []
            for sign in (1, -1):
                shifted = atoms.copy()
                positions = shifted.get_positions()
                positions[j, a] += sign * h
                shifted.set_positions(positions)
                moved.append(fz.compute(shifted).features)
            out[:, j, a] = (moved[0] - moved[1]) / (2 * h)
    return out


def test_power_spectrum_table_counts_the_features_of_each_channel():
    fz = Featurizer(n_max=8, l_max=6, species=["H", "C", "N", "O", "F", "S", "Cl"])
    table = fz.gradient_feature_index()
    assert fz.n_features == 11172 and table.shape == (7, 2940)
    names, labels = fz.feature_labels()
    species = np.array(fz.species, dtype=np.int64)  # atomic numbers, in channel order
    for ch, z in enumerate(species):
        involves = np.flatnonzero((labels[:, 1] == z) | (labels[:, 3] == z))
        assert np.array_equal(table[ch], involves)
    values = Featurizer(n_max=3, l_max=2, species_mode="values").gradient_feature_index()
    assert np.array_equal(values, np.arange(values.shape[1])[None])


@pytest.mark.parametrize("invariant", ["power_spectrum", "bispectrum"])
def test_dropped_entries_are_zero_and_the_kept_ones_match_central_differences(invariant):
    fz = _featurizer(invariant)
    atoms = molecule("CH3CONH2")
    out = fz.compute(atoms, gradients=True)
    fd = _central_differences(fz, atoms)
    scale = max(np.abs(fd).max(), 1.0)
    table = out.gradient_feature_index
    for g, (i, j, ch) in enumerate(zip(out.gradient_centers, out.gradient_neighbors,
                                      out.gradient_channels)):
        assert i != j and ch == SPECIES.index(atoms.get_chemical_symbols()[j])
        np.testing.assert_allclose(out.gradient_values[g], fd[i, j][:, table[ch]], rtol=0,
                                   atol=1e-7 * scale)
        dropped = np.setdiff1d(np.arange(fz.n_features), table[ch])
        np.testing.assert_allclose(fd[i, j][:, dropped], 0.0, rtol=0, atol=1e-7 * scale)
    for i in range(len(atoms)):
        np.testing.assert_allclose(out.self_gradients[i], fd[i, i], rtol=0, atol=1e-7 * scale)
    # pairs out of range have no rows: their central differences vanish
    present = set(zip(out.gradient_centers.tolist(), out.gradient_neighbors.tolist()))
    for i in range(len(atoms)):
        for j in range(len(atoms)):
            if i != j and (i, j) not in present:
                np.testing.assert_allclose(fd[i, j], 0.0, rtol=0, atol=1e-7 * scale)


def test_dense_gradients_holds_every_row_once_and_is_memory_checked(monkeypatch):
    fz = _featurizer()
    atoms = molecule("CH3CH2OH")
    out = fz.compute(atoms, gradients=True)
    centers, neighbors, values = out.dense_gradients()
    n = len(atoms)
    assert values.shape == (out.gradient_values.shape[0] + n, 3, fz.n_features)
    keys = centers * n + neighbors
    assert np.all(np.diff(keys) > 0)
    own = centers == neighbors
    assert np.array_equal(centers[own], np.arange(n))
    np.testing.assert_array_equal(values[own], out.self_gradients)
    # translation invariance: the rows of each centre sum to zero
    sums = np.zeros((n, 3, fz.n_features))
    np.add.at(sums, centers, values)
    np.testing.assert_allclose(sums, 0.0, atol=1e-12 * max(np.abs(values).max(), 1.0))
    with pytest.raises(ValueError, match="no gradients"):
        fz.compute(atoms).dense_gradients()
    monkeypatch.setattr(rstref.limits, "MAX_ALLOCATION_BYTES", 1000)
    with pytest.raises(ValueError, match="dense_gradients.*gradient_dot"):
        out.dense_gradients()


@pytest.mark.parametrize("invariant", ["power_spectrum", "bispectrum"])
def test_gradient_dot_equals_the_dense_contraction(invariant):
    fz = _featurizer(invariant)
    out = fz.compute_many(_structures(), gradients=True, batch_atoms=4)
    centers, neighbors, values = out.dense_gradients()
    rng = np.random.default_rng(0)
    w = rng.normal(size=fz.n_features)
    expected = np.zeros((out.n_atoms, 3))
    np.add.at(expected, neighbors, values @ w)
    scale = np.abs(values).sum(axis=2).max() * np.abs(w).max()
    np.testing.assert_allclose(out.gradient_dot(w), expected, rtol=0, atol=1e-13 * scale)
    W = rng.normal(size=(out.n_atoms, fz.n_features))
    expected = np.zeros((out.n_atoms, 3))
    np.add.at(expected, neighbors, np.einsum("gaf,gf->ga", values, W[centers]))
    np.testing.assert_allclose(out.gradient_dot(W), expected, rtol=0, atol=1e-13 * scale * 4)
    with pytest.raises(ValueError, match="weights"):
        out.gradient_dot(np.ones(fz.n_features + 1))
    with pytest.raises(ValueError, match="weights"):
        out.gradient_dot(np.ones((2, 3, fz.n_features)))


def test_concatenated_batches_equal_each_structure_alone():
    fz = _featurizer()
    structures = _structures()
    many = fz.compute_many(structures, gradients=True, stress=True, batch_atoms=1)
    one = Features.concatenate([fz.compute(a, gradients=True, stress=True) for a in structures],
                               fz.n_features, True, True)
    for name, value in one.arrays().items():
        assert np.array_equal(value, many.arrays()[name]), name
    offsets = many.atom_offsets
    c, n, v = many.dense_gradients()
    for s, atoms in enumerate(structures):
        cs, ns, vs = fz.compute(atoms, gradients=True).dense_gradients()
        rows = (c >= offsets[s]) & (c < offsets[s + 1])
        assert np.array_equal(c[rows] - offsets[s], cs) and np.array_equal(n[rows] - offsets[s], ns)
        assert np.array_equal(v[rows], vs)
    empty = Features.concatenate([], fz.n_features, True, False, fz.gradient_feature_index())
    assert empty.gradient_values.shape == (0, 3, fz.gradient_feature_index().shape[1])
    assert empty.self_gradients.shape == (0, 3, fz.n_features)


def test_periodic_self_images_go_to_the_centre_row():
    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    cu.rattle(0.05, seed=1)
    fz = Featurizer(r_cut=4.0, n_max=3, l_max=2, species=["Cu"])
    out = fz.compute(cu, gradients=True)
    assert np.all(out.gradient_centers != out.gradient_neighbors)
    fd = _central_differences(fz, cu)
    scale = max(np.abs(fd).max(), 1.0)
    for i in range(len(cu)):
        np.testing.assert_allclose(out.self_gradients[i], fd[i, i], rtol=0, atol=1e-7 * scale)


def test_centre_pieces_hold_the_whole_structures_rows():
    fz = _featurizer(species=["Cu"])
    cu = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    cu.rattle(0.05, seed=2)
    whole = fz.compute(cu, gradients=True)
    pairs = rstref.features.pairs.structure_pairs([cu], 0, fz.r_cut, fz.include_center, fz._assign)
    pieces = [fz._compute_centres(pairs, a, b, True, False) for a, b in ((0, 3), (3, 5), (5, 8))]
    for name in ("gradient_centers", "gradient_neighbors", "gradient_channels", "gradient_values",
                 "self_gradients", "features"):
        assert np.array_equal(np.concatenate([getattr(p, name) for p in pieces]),
                              getattr(whole, name)), name


def test_zarr_and_npz_round_trip_and_format_1_files_are_read(tmp_path):
    pytest.importorskip("zarr")
    fz = _featurizer()
    structures = _structures()
    whole = fz.compute_many(structures, gradients=True, stress=True)
    fz.compute_to(tmp_path / "out.zarr", structures, gradients=True, stress=True, batch_atoms=5)
    read = open_features(tmp_path / "out.zarr", lazy=False)
    assert read.attrs["format"] == "rstref-features/2"
    for name, value in whole.arrays().items():
        assert np.array_equal(np.asarray(getattr(read, name)), value), name
    # a format-1 .npz (dense rows with (i, i)) reads into the sparse layout, identity table
    centers, neighbors, values = whole.dense_gradients()
    np.savez(tmp_path / "old.npz", features=whole.features, atom_offsets=whole.atom_offsets,
             atomic_numbers=whole.atomic_numbers, gradient_centers=centers,
             gradient_neighbors=neighbors, gradient_values=values)
    old = open_features(tmp_path / "old.npz")
    assert old.gradient_feature_index.shape == (1, fz.n_features)
    for got, expected in zip(old.dense_gradients(), (centers, neighbors, values)):
        assert np.array_equal(got, expected)
    w = np.random.default_rng(1).normal(size=fz.n_features)
    np.testing.assert_allclose(old.gradient_dot(w), whole.gradient_dot(w), rtol=1e-13, atol=1e-13)


def test_a_format_1_zarr_store_is_read(tmp_path):
    zarr = pytest.importorskip("zarr")
    fz = _featurizer()
    whole = fz.compute_many(_structures(), gradients=True)
    centers, neighbors, values = whole.dense_gradients()
    group = zarr.open_group(tmp_path / "old.zarr", mode="w", zarr_format=3)
    arrays = {"features": (whole.features, "atoms"), "atomic_numbers": (whole.atomic_numbers, "atoms"),
              "atom_offsets": (whole.atom_offsets, "offsets"), "gradient_centers": (centers, "gradients"),
              "gradient_neighbors": (neighbors, "gradients"), "gradient_values": (values, "gradients")}
    for name, (data, _) in arrays.items():
        group.create_array(name, data=data)
    group.create_array("feature_labels", data=fz.feature_labels()[1])
    group.attrs.update({"format": "rstref-features/1", "arrays": {k: [str(d.dtype), list(d.shape[1:]), kind]
                                                                  for k, (d, kind) in arrays.items()},
                        "committed": {"atoms": whole.n_atoms, "structures": whole.n_structures,
                                      "gradients": int(centers.shape[0]), "inputs": 3, "batches": 1}})
    for lazy in (False, True):
        if lazy:
            pytest.importorskip("dask")
        read = open_features(tmp_path / "old.zarr", lazy=lazy)
        for got, expected in zip(read.dense_gradients(), (centers, neighbors, values)):
            assert np.array_equal(np.asarray(got), expected)


def test_float32_outputs_are_the_float64_ones_rounded(tmp_path):
    fz = _featurizer()
    structures = _structures()
    exact = fz.compute_many(structures, gradients=True, stress=True)
    single = fz.compute_many(structures, gradients=True, stress=True, dtype="float32")
    for name in ("features", "gradient_values", "self_gradients", "strain_derivatives"):
        got, ref = getattr(single, name), getattr(exact, name)
        assert got.dtype == np.float32, name
        assert np.all(np.abs(got.astype(np.float64) - ref) <= 2.0**-24 * np.abs(ref)), name
        assert np.array_equal(got, ref.astype(np.float32)), name
    assert single.gradient_values.nbytes * 2 == exact.gradient_values.nbytes
    assert np.array_equal(single.gradient_centers, exact.gradient_centers)
    assert fz.compute(structures[0], dtype=np.float32).features.dtype == np.float32
    with pytest.raises(ValueError, match="dtype"):
        fz.compute(structures[0], dtype="float16")
    pytest.importorskip("zarr")
    fz.compute_to(tmp_path / "f32.zarr", structures, gradients=True, dtype="float32")
    read = open_features(tmp_path / "f32.zarr", lazy=False)
    assert read.features.dtype == np.float32
    assert np.array_equal(read.gradient_values, single.gradient_values)
    with pytest.raises(ValueError, match="different"):
        fz.compute_to(tmp_path / "f32.zarr", structures, gradients=True)  # float64 now


def test_command_line_dtype_float32(tmp_path):
    import ase.io

    from rstref.cli import main

    ase.io.write(tmp_path / "in.xyz", _structures())
    out = tmp_path / "out.npz"
    args = [str(tmp_path / "in.xyz"), "--species", ",".join(SPECIES), "--r-cut", "3.0",
            "--n-max", "3", "--l-max", "2", "--gradients", "--no-progress"]
    assert main(["featurize", *args, "-o", str(out), "--dtype", "float32"]) == 0
    assert main(["featurize", *args, "-o", str(tmp_path / "ref.npz")]) == 0
    single, exact = open_features(out), open_features(tmp_path / "ref.npz")
    assert single.features.dtype == np.float32 and single.self_gradients.dtype == np.float32
    for name in ("features", "gradient_values", "self_gradients"):
        assert np.array_equal(getattr(single, name), getattr(exact, name).astype(np.float32)), name
    assert np.array_equal(single.gradient_feature_index, exact.gradient_feature_index)
