"""Featurization at scale: memory-planned batches, Zarr output, Dask workers."""

import numpy as np
import pytest

from rstref.features import Featurizer
from rstref.features.memory import MemoryBudgetError, batch_bytes, memory_budget, parse_bytes


def _structures():
    from ase.build import bulk, molecule

    out = []
    for k in range(6):
        cu = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((1 + k % 2, 1, 1))
        cu.rattle(0.05, seed=k)
        out.append(cu)
        out.append(molecule(("H2O", "CH4", "NH3")[k % 3]))
    return out


def _featurizer(**kwargs):
    options = dict(r_cut=3.5, n_max=3, l_max=3, species=["H", "C", "N", "O", "Cu"])
    options.update(kwargs)
    return Featurizer(**options)


def _assert_identical(a, b):
    assert set(a.arrays()) == set(b.arrays())
    for name, value in a.arrays().items():
        assert np.array_equal(value, b.arrays()[name]), name


def test_parse_bytes_reads_sizes_and_refuses_nonsense():
    assert parse_bytes("2GB") == 2 * 10**9
    assert parse_bytes("512 MiB") == 512 * 2**20
    assert parse_bytes(1e6) == 10**6
    for bad in ("lots", "-1GB", "0", "2XB"):
        with pytest.raises(ValueError, match="max_memory"):
            parse_bytes(bad)
    with pytest.raises(TypeError, match="max_memory"):
        parse_bytes(True)
    assert 0 < memory_budget() <= __import__("rstref.limits").limits.MAX_ALLOCATION_BYTES


def test_batch_bytes_counts_gradients_and_strain():
    base = batch_bytes(100, 4000, 50, 4, 3)
    grad = batch_bytes(100, 4000, 50, 4, 3, gradients=True)
    both = batch_bytes(100, 4000, 50, 4, 3, gradients=True, stress=True)
    assert base >= 8 * 100 * 50
    assert grad - base >= 8 * 4100 * 3 * 50
    assert both - grad >= 8 * 100 * 9 * 50


def test_a_structure_over_the_budget_is_refused_at_once_with_the_options():
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((3, 3, 3))
    featurizer = _featurizer()
    with pytest.raises(MemoryBudgetError, match=r"structure 0 \(108 atoms.*r_cut.*n_max.*"
                                                r"gradients=False.*species") as info:
        next(featurizer.iter_batches([atoms], gradients=True, max_memory="1MB"))
    assert isinstance(info.value, ValueError)
    # without gradients the same structure fits
    result = next(featurizer.iter_batches([atoms], max_memory="1MB"))
    assert result.n_atoms == 108


@pytest.mark.parametrize("gradients, stress", [(False, False), (True, True)])
def test_budget_splits_batches_and_the_numbers_do_not_change(gradients, stress):
    structures = _structures()
    featurizer = _featurizer()
    whole = featurizer.compute_many(structures, gradients, stress, batch_atoms=10**6)
    sizes = [featurizer.estimate_bytes([a], gradients, stress) for a in structures]
    budget = int(2.5 * max(sizes))
    parts = list(featurizer.iter_batches(structures, gradients, stress, batch_atoms=10**6,
                                         max_memory=budget))
    assert len(parts) > 2
    assert sum(p.n_structures for p in parts) == len(structures)
    start = 0
    for part in parts:  # every batch within the budget, and the next structure would not fit
        batch = structures[start:start + part.n_structures]
        assert featurizer.estimate_bytes(batch, gradients, stress) <= budget
        if start + part.n_structures < len(structures):
            more = structures[start:start + part.n_structures + 1]
            assert featurizer.estimate_bytes(more, gradients, stress) > budget
        start += part.n_structures
    from rstref.features import Features

    split = Features.concatenate(parts, featurizer.n_features, gradients, stress)
    _assert_identical(whole, split)


def test_batch_atoms_still_sets_the_batches():
    structures = _structures()
    featurizer = _featurizer()
    parts = list(featurizer.iter_batches(structures, batch_atoms=1))
    assert [p.n_structures for p in parts] == [1] * len(structures)
    parts = list(featurizer.iter_batches(structures, batch_atoms=10**6))
    assert len(parts) == 1


# ---------------------------------------------------------------- Zarr stores

def _zarr():
    return pytest.importorskip("zarr", minversion="3")


@pytest.mark.parametrize("lazy", [False, True])
def test_store_equals_compute_many_and_keeps_the_metadata(tmp_path, lazy):
    _zarr()
    if lazy:
        pytest.importorskip("dask.array")
    from rstref.features import open_features

    structures = _structures()
    featurizer = _featurizer()
    whole = featurizer.compute_many(structures, True, True)
    path = tmp_path / "out.zarr"
    store = featurizer.compute_to(path, structures, gradients=True, stress=True, batch_atoms=20,
                                  provenance={"source": "test"})
    assert store.committed["batches"] > 2 and store.complete
    read = open_features(path, lazy=lazy)
    for name, value in whole.arrays().items():
        got = getattr(read, name)
        got = got.compute() if hasattr(got, "compute") else np.asarray(got)
        assert np.array_equal(got, value), name
    assert read.attrs["hyperparameters"] == featurizer.hyperparameters()
    assert read.attrs["provenance"] == {"source": "test"}
    assert read.attrs["species"] == ["H", "C", "N", "O", "Cu"]
    assert read.attrs["rstref_version"]
    names, labels = featurizer.feature_labels()
    assert read.attrs["feature_label_names"] == list(names)
    assert np.array_equal(np.asarray(read.extra["feature_labels"]), labels)


def test_store_resumes_after_the_last_commit_and_refuses_other_settings(tmp_path):
    _zarr()
    from rstref.features import open_features
    from rstref.features.storage import FeatureStore

    structures = _structures()
    featurizer = _featurizer()
    reference = tmp_path / "ref.zarr"
    featurizer.compute_to(reference, structures, gradients=True, batch_atoms=20)
    path = tmp_path / "out.zarr"
    featurizer.compute_to(path, structures[:5], gradients=True, batch_atoms=20)
    # an unfinished batch: rows written past the committed counts, no commit
    store = FeatureStore(path, featurizer, gradients=True)
    store.group["features"].resize((store.committed["atoms"] + 7, featurizer.n_features))
    assert open_features(path, lazy=False).n_structures == 5
    featurizer.compute_to(path, structures, gradients=True, batch_atoms=20)
    a, b = open_features(reference, lazy=False), open_features(path, lazy=False)
    for name, value in a.arrays().items():
        assert np.array_equal(getattr(b, name), value), name
    with pytest.raises(ValueError, match="different hyperparameters"):
        _featurizer(n_max=4).compute_to(path, structures, gradients=True)
    with pytest.raises(ValueError, match="different gradients"):
        featurizer.compute_to(path, structures)


def test_open_features_reads_the_command_line_npz(tmp_path):
    import ase.io

    from rstref.cli import main
    from rstref.features import open_features

    structures = _structures()
    ase.io.write(tmp_path / "in.xyz", structures)
    out = tmp_path / "out.npz"
    assert main(["featurize", str(tmp_path / "in.xyz"), "-o", str(out), "--r-cut", "3.5",
                 "--n-max", "3", "--l-max", "3", "--species", "H,C,N,O,Cu", "--gradients",
                 "--no-progress"]) == 0
    read = open_features(out)
    whole = _featurizer().compute_many(ase.io.read(tmp_path / "in.xyz", ":"), True)
    assert np.array_equal(read.features, whole.features)
    assert np.array_equal(read.gradient_values, whole.gradient_values)
    assert read.attrs["hyperparameters"]["n_max"] == 3
    assert read.extra["positions"].shape == (whole.n_atoms, 3)


def test_a_structure_over_the_budget_is_written_in_centre_pieces_that_equal_the_whole(tmp_path):
    _zarr()
    from ase.build import bulk

    from rstref.features import open_features

    big = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((3, 3, 3))
    big.rattle(0.05, seed=3)
    structures = _structures()[:3] + [big] + _structures()[3:5]
    featurizer = _featurizer()
    whole = featurizer.compute_many(structures, True, True, batch_atoms=10**6)
    budget = featurizer.estimate_bytes([big], True, True) // 4
    with pytest.raises(MemoryBudgetError):
        featurizer.compute_many(structures, True, True, max_memory=budget)
    store = featurizer.compute_to(tmp_path / "out.zarr", structures, True, True,
                                  max_memory=budget)
    assert store.committed["structures"] == len(structures)
    read = open_features(tmp_path / "out.zarr", lazy=False)
    for name, value in whole.arrays().items():
        assert np.array_equal(getattr(read, name), value), name


# ---------------------------------------------------------------- Dask workers

def test_two_local_dask_workers_give_the_single_process_store_bit_for_bit(tmp_path):
    _zarr()
    pytest.importorskip("distributed")
    import faulthandler

    faulthandler.dump_traceback_later(300, exit=True)  # bounded: a hung cluster ends the run
    try:
        _two_workers(tmp_path)
    finally:
        faulthandler.cancel_dump_traceback_later()


def _two_workers(tmp_path):
    from rstref.features import open_features
    from rstref.features.distributed import local_client

    structures = _structures() * 3
    featurizer = _featurizer()
    featurizer.compute_to(tmp_path / "one.zarr", structures, True, True, batch_atoms=15)
    with local_client(2, numba_threads=1) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        featurizer.compute_to(tmp_path / "two.zarr", structures, True, True, client=client,
                              batch_atoms=15)
    one = open_features(tmp_path / "one.zarr", lazy=False)
    two = open_features(tmp_path / "two.zarr", lazy=False)
    assert two.attrs["complete"]
    for name, value in one.arrays().items():
        assert np.array_equal(getattr(two, name), value), name


# ---------------------------------------------------------------- scikit-learn

def test_feature_transformer_learns_the_species_and_reduces_per_structure():
    from rstref.features import FeatureTransformer

    structures = _structures()
    transformer = FeatureTransformer(r_cut=3.5, n_max=3, l_max=3)
    summed = transformer.fit_transform(structures)
    assert transformer.species_ == [1, 6, 7, 8, 29]
    per_atom = FeatureTransformer(r_cut=3.5, n_max=3, l_max=3, reduce=None).fit_transform(structures)
    mean = FeatureTransformer(r_cut=3.5, n_max=3, l_max=3, reduce="mean").fit_transform(structures)
    whole = _featurizer(species=[1, 6, 7, 8, 29]).compute_many(structures)
    assert np.array_equal(per_atom, whole.features)
    o = whole.atom_offsets
    for s in range(len(structures)):
        np.testing.assert_allclose(summed[s], whole.features[o[s]:o[s + 1]].sum(axis=0),
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(mean[s], whole.features[o[s]:o[s + 1]].mean(axis=0),
                                   rtol=1e-12, atol=1e-14)
    assert len(transformer.get_feature_names_out()) == summed.shape[1]
    with pytest.raises(ValueError, match="reduce"):
        FeatureTransformer(reduce="max").fit(structures)


def test_feature_transformer_in_a_pipeline():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from rstref.features import FeatureTransformer

    structures = _structures()
    energies = np.array([len(a) * 1.5 for a in structures])
    model = make_pipeline(FeatureTransformer(r_cut=3.5, n_max=3, l_max=3), Ridge(alpha=1e-6))
    model.fit(structures, energies)
    assert model.predict(structures).shape == (len(structures),)
    assert clone(model).get_params()["featuretransformer__r_cut"] == 3.5


def test_the_core_works_without_the_optional_extras():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "for name in ('zarr', 'dask', 'distributed', 'sklearn'): sys.modules[name] = None\n"
        "from ase.build import molecule\n"
        "from rstref.features import Featurizer, FeatureTransformer\n"
        "f = Featurizer(r_cut=3.0, n_max=2, l_max=2, species=['H', 'O'])\n"
        "assert f.compute_many([molecule('H2O')] * 3).features.shape[0] == 9\n"
        "assert FeatureTransformer(r_cut=3.0, n_max=2, l_max=2).fit_transform("
        "[molecule('H2O')]).shape[0] == 1\n"
        "try:\n"
        "    f.compute_to('unused.zarr', [molecule('H2O')])\n"
        "except ImportError as exc:\n"
        "    assert 'zarr>=3' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('compute_to without zarr')\n"
    )
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         timeout=300, env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert run.returncode == 0, run.stderr
