"""Sparse position gradients (docs/gradients.md): layout, expansion, contraction, files."""

import numpy as np
import pytest
from ase.build import bulk, molecule

import rstref
from rstref.features import Features, Featurizer, open_features
from rstref.features.sparsity import row_features

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



def test_feature_channels_are_the_species_of_the_feature_labels():
    fz = Featurizer(n_max=8, l_max=6, species=["H", "C", "N", "O", "F", "S", "Cl"])
    table = fz.feature_channels()
    assert fz.n_features == 11172 and table.shape == (11172, 2)
    _, labels = fz.feature_labels()
    species = np.array(fz.species, dtype=np.int64)  # atomic numbers, in channel order
    assert np.array_equal(species[table[:, 0]], labels[:, 1])
    assert np.array_equal(species[table[:, 1]], labels[:, 3])
    # every channel present: a neighbour's row holds the features involving its channel
    everything = np.ones(7, dtype=bool)
    for ch, z in enumerate(species):
        involves = np.flatnonzero((labels[:, 1] == z) | (labels[:, 3] == z))
        assert np.array_equal(row_features(table, everything, ch), involves)
        assert involves.size == 2940
    assert np.array_equal(row_features(table, everything), np.arange(fz.n_features))
    bi = _featurizer("bispectrum")
    _, bl = bi.feature_labels()
    sp = np.array(bi.species, dtype=np.int64)
    assert np.array_equal(sp[bi.feature_channels()], bl[:, [0, 3, 6]])
    assert not Featurizer(n_max=3, l_max=2, species_mode="values").feature_channels().any()


@pytest.mark.parametrize("invariant", ["power_spectrum", "bispectrum"])
def test_rows_hold_exactly_the_features_of_the_present_channels(invariant):
    """Row lengths and feature lists follow the rule, checked by brute force."""
    fz = _featurizer(invariant)
    table = fz.feature_channels()
    atoms = molecule("CH3CONH2")  # H, C, N, O all present, but not around every centre
    out = fz.compute(atoms, gradients=True)
    symbols = atoms.get_chemical_symbols()
    d = atoms.get_all_distances()
    for i in range(len(atoms)):
        near = {SPECIES.index(symbols[j]) for j in range(len(atoms)) if j != i and d[i, j] < fz.r_cut}
        assert set(np.flatnonzero(out.environment_channels[i])) == near
        expected = [f for f in range(fz.n_features) if set(table[f]) <= near]
        idx, values = out.self_gradient(i)
        assert idx.tolist() == expected and values.shape == (3, len(expected))
    assert not out.environment_channels.all()  # the layout drops something here
    for g in range(out.gradient_centers.shape[0]):
        i, ch = out.gradient_centers[g], out.gradient_channels[g]
        near = set(np.flatnonzero(out.environment_channels[i]))
        expected = [f for f in range(fz.n_features) if set(table[f]) <= near and ch in table[f]]
        idx, values = out.pair_gradient(g)
        assert idx.tolist() == expected and values.shape == (3, len(expected))
    assert out.gradient_offsets[-1] == out.gradient_values.shape[0]
    assert out.self_gradient_offsets[-1] == out.self_gradients.shape[0]


@pytest.mark.parametrize("invariant", ["power_spectrum", "bispectrum"])
def test_dropped_entries_are_zero_and_the_kept_ones_match_central_differences(invariant):
    fz = _featurizer(invariant)
    atoms = molecule("CH3CONH2")
    out = fz.compute(atoms, gradients=True)
    fd = _central_differences(fz, atoms)
    scale = max(np.abs(fd).max(), 1.0)
    for g, (i, j, ch) in enumerate(zip(out.gradient_centers, out.gradient_neighbors,
                                      out.gradient_channels)):
        assert i != j and ch == SPECIES.index(atoms.get_chemical_symbols()[j])
        idx, values = out.pair_gradient(g)
        np.testing.assert_allclose(values, fd[i, j][:, idx], rtol=0, atol=1e-7 * scale)
        dropped = np.setdiff1d(np.arange(fz.n_features), idx)
        np.testing.assert_allclose(fd[i, j][:, dropped], 0.0, rtol=0, atol=1e-7 * scale)
    for i in range(len(atoms)):
        idx, values = out.self_gradient(i)
        np.testing.assert_allclose(values, fd[i, i][:, idx], rtol=0, atol=1e-7 * scale)
        dropped = np.setdiff1d(np.arange(fz.n_features), idx)
        np.testing.assert_allclose(fd[i, i][:, dropped], 0.0, rtol=0, atol=1e-7 * scale)
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
    assert values.shape == (out.gradient_centers.shape[0] + n, 3, fz.n_features)
    keys = centers * n + neighbors
    assert np.all(np.diff(keys) > 0)
    own = centers == neighbors
    assert np.array_equal(centers[own], np.arange(n))
    for i in range(n):
        idx, row = out.self_gradient(i)
        np.testing.assert_array_equal(values[own][i][:, idx], row)
        np.testing.assert_array_equal(np.delete(values[own][i], idx, axis=1), 0.0)
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
    empty = Features.concatenate([], fz.n_features, True, False, fz.feature_channels(),
                                 fz.n_channels)
    assert empty.gradient_values.shape == (0,) and empty.self_gradients.shape == (0,)
    assert np.array_equal(empty.gradient_offsets, [0])
    assert empty.environment_channels.shape == (0, fz.n_channels)


def test_periodic_self_images_go_to_the_centre_row():
    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    cu.rattle(0.05, seed=1)
    fz = Featurizer(r_cut=4.0, n_max=3, l_max=2, species=["Cu"])
    out = fz.compute(cu, gradients=True)
    assert np.all(out.gradient_centers != out.gradient_neighbors)
    fd = _central_differences(fz, cu)
    scale = max(np.abs(fd).max(), 1.0)
    for i in range(len(cu)):
        idx, values = out.self_gradient(i)
        assert idx.size == fz.n_features  # one species, present everywhere
        np.testing.assert_allclose(values, fd[i, i], rtol=0, atol=1e-7 * scale)


def test_centre_pieces_hold_the_whole_structures_rows():
    fz = _featurizer(species=["Cu"])
    cu = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    cu.rattle(0.05, seed=2)
    whole = fz.compute(cu, gradients=True)
    pairs = rstref.features.pairs.structure_pairs([cu], 0, fz.r_cut, fz.include_center, fz._assign)
    pieces = [fz._compute_centres(pairs, a, b, True, False) for a, b in ((0, 3), (3, 5), (5, 8))]
    for name in ("gradient_centers", "gradient_neighbors", "gradient_channels", "gradient_values",
                 "self_gradients", "features", "environment_channels"):
        assert np.array_equal(np.concatenate([getattr(p, name) for p in pieces]),
                              getattr(whole, name)), name
    for name in ("gradient_offsets", "self_gradient_offsets"):  # row lengths
        assert np.array_equal(np.concatenate([np.diff(getattr(p, name)) for p in pieces]),
                              np.diff(getattr(whole, name))), name


def test_zarr_and_npz_round_trip_and_format_1_files_are_read(tmp_path):
    pytest.importorskip("zarr")
    fz = _featurizer()
    structures = _structures()
    whole = fz.compute_many(structures, gradients=True, stress=True)
    fz.compute_to(tmp_path / "out.zarr", structures, gradients=True, stress=True, batch_atoms=5)
    read = open_features(tmp_path / "out.zarr", lazy=False)
    assert read.attrs["format"] == "rstref-features/3"
    for name, value in whole.arrays().items():
        assert np.array_equal(np.asarray(getattr(read, name)), value), name
    # a format-1 .npz (dense rows with (i, i)) reads into the flat layout, one channel
    centers, neighbors, values = whole.dense_gradients()
    np.savez(tmp_path / "old.npz", features=whole.features, atom_offsets=whole.atom_offsets,
             atomic_numbers=whole.atomic_numbers, gradient_centers=centers,
             gradient_neighbors=neighbors, gradient_values=values)
    old = open_features(tmp_path / "old.npz")
    assert old.feature_channels.shape == (fz.n_features, 1)
    for got, expected in zip(old.dense_gradients(), (centers, neighbors, values)):
        assert np.array_equal(got, expected)
    w = np.random.default_rng(1).normal(size=fz.n_features)
    np.testing.assert_allclose(old.gradient_dot(w), whole.gradient_dot(w), rtol=1e-13, atol=1e-13)


def _format_2_rows(fz, whole):
    """The gradients of ``whole`` as format 2 stored them: (G, 3, F_s) over a table."""
    centers, neighbors, dense = whole.dense_gradients()
    own = centers == neighbors
    table = np.array([row_features(fz.feature_channels(), np.ones(fz.n_channels, bool), ch)
                      for ch in range(fz.n_channels)])
    pair_values = np.stack([dense[~own][g][:, table[ch]]
                            for g, ch in enumerate(whole.gradient_channels)])
    return table, pair_values, dense[own], (centers, neighbors, dense)


@pytest.mark.parametrize("kind", ["npz", "zarr"])
def test_format_2_files_are_read(tmp_path, kind):
    fz = _featurizer()
    whole = fz.compute_many(_structures(), gradients=True)
    table, pair_values, self_values, expected = _format_2_rows(fz, whole)
    arrays = {"features": (whole.features, "atoms"), "atomic_numbers": (whole.atomic_numbers, "atoms"),
              "atom_offsets": (whole.atom_offsets, "offsets"),
              "gradient_centers": (whole.gradient_centers, "gradients"),
              "gradient_neighbors": (whole.gradient_neighbors, "gradients"),
              "gradient_channels": (whole.gradient_channels, "gradients"),
              "gradient_values": (pair_values, "gradients"), "self_gradients": (self_values, "atoms")}
    if kind == "npz":
        np.savez(tmp_path / "v2.npz", gradient_feature_index=table,
                 **{k: v for k, (v, _) in arrays.items()})
        reads = [open_features(tmp_path / "v2.npz")]
    else:
        zarr = pytest.importorskip("zarr")
        group = zarr.open_group(tmp_path / "v2.zarr", mode="w", zarr_format=3)
        for name, (data, _) in arrays.items():
            group.create_array(name, data=data)
        group.create_array("gradient_feature_index", data=table)
        group.attrs.update({"format": "rstref-features/2",
                            "arrays": {k: [str(d.dtype), list(d.shape[1:]), kind]
                                       for k, (d, kind) in arrays.items()},
                            "committed": {"atoms": whole.n_atoms, "structures": whole.n_structures,
                                          "gradients": int(whole.gradient_centers.shape[0]),
                                          "inputs": 3, "batches": 1}})
        reads = [open_features(tmp_path / "v2.zarr", lazy=False)]
        try:
            import dask.array  # noqa: F401
            reads.append(open_features(tmp_path / "v2.zarr", lazy=True))
        except ImportError:
            pass
    for old in reads:
        assert np.asarray(old.environment_channels).all()
        for got, want in zip(old.dense_gradients(), expected):
            assert np.array_equal(np.asarray(got), want)
        assert np.array_equal(old.pair_gradient(3)[0], table[whole.gradient_channels[3]])


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
        assert got.dtype == np.float32 and got.size, name
        assert np.all(np.abs(got.astype(np.float64) - ref) <= 2.0**-24 * np.abs(ref)), name
        assert np.array_equal(got, ref.astype(np.float32)), name
    assert single.gradient_values.nbytes * 2 == exact.gradient_values.nbytes
    assert np.array_equal(single.gradient_centers, exact.gradient_centers)
    assert np.array_equal(single.gradient_offsets, exact.gradient_offsets)
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
    assert np.array_equal(single.feature_channels, exact.feature_channels)
    assert np.array_equal(single.gradient_offsets, exact.gradient_offsets)
