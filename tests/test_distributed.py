"""Dask workers write their own batches into the Zarr store; progress of long runs.

The cluster tests start one ``LocalCluster(n_workers=2, processes=True)`` on loopback for
the module; every wait is bounded (a hung cluster ends the run with a traceback).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rstref.features import Featurizer, open_features
from rstref.features.results import Features

ROOT = Path(__file__).resolve().parents[1]


def _structures(copies=2):
    from ase.build import bulk, molecule

    out = []
    for k in range(6 * copies):
        cu = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((1 + k % 2, 1, 1))
        cu.rattle(0.05, seed=k)
        out.append(cu)
        out.append(molecule(("H2O", "CH4", "NH3")[k % 3]))
    return out


def _featurizer():
    return Featurizer(r_cut=3.5, n_max=3, l_max=3, species=["H", "C", "N", "O", "Cu"])


def _assert_same_store(a, b):
    one, two = open_features(a, lazy=False), open_features(b, lazy=False)
    assert set(one.arrays()) == set(two.arrays())
    for name, value in one.arrays().items():
        assert np.array_equal(getattr(two, name), value), name
    return two


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("zarr", minversion="3")
    pytest.importorskip("distributed")
    import faulthandler

    from rstref.features.distributed import local_client

    faulthandler.dump_traceback_later(600, exit=True)
    try:
        with local_client(2, numba_threads=1) as c:
            assert len(c.scheduler_info()["workers"]) == 2
            yield c
    finally:
        faulthandler.cancel_dump_traceback_later()


class _Unpickled:
    """Counts :class:`Features` objects unpickled in this process (arrays gathered)."""

    def __init__(self, monkeypatch):
        self.count = 0

        def setstate(obj, state):
            self.count += 1
            obj.__dict__.update(state)

        monkeypatch.setattr(Features, "__setstate__", setstate, raising=False)


def test_the_workers_write_the_rows_and_the_client_never_receives_them(client, tmp_path,
                                                                       monkeypatch):
    from rstref.features.distributed import compute_batch
    from rstref.features.storage import FeatureStore

    structures = _structures()
    featurizer = _featurizer()
    featurizer.compute_to(tmp_path / "one.zarr", structures, True, True, batch_atoms=15)
    unpickled = _Unpickled(monkeypatch)
    calls = {"append": 0, "commit_written": 0}
    for name in calls:
        method = getattr(FeatureStore, name)

        def spy(self, *args, _name=name, _method=method, **kwargs):
            calls[_name] += 1
            return _method(self, *args, **kwargs)

        monkeypatch.setattr(FeatureStore, name, spy)
    store = featurizer.compute_to(tmp_path / "two.zarr", structures, True, True, client=client,
                                  batch_atoms=15)
    assert unpickled.count == 0, "a batch's arrays were sent to the client"
    assert calls["append"] == 0 and calls["commit_written"] == store.committed["batches"] > 3
    two = _assert_same_store(tmp_path / "one.zarr", tmp_path / "two.zarr")
    assert two.attrs["complete"]
    # the detector sees arrays that are gathered
    remote = client.scatter(featurizer, broadcast=True)
    gathered = client.submit(compute_batch, remote, structures[:2], True, False, None).result()
    assert isinstance(gathered, Features) and unpickled.count == 1


def test_a_structure_over_the_budget_is_done_here_in_pieces_between_worker_batches(client,
                                                                                  tmp_path):
    from ase.build import bulk

    big = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((3, 3, 3))
    big.rattle(0.05, seed=3)
    structures = _structures()[:5] + [big] + _structures()[5:9]
    featurizer = _featurizer()
    whole = featurizer.compute_many(structures, True, True, batch_atoms=10**6)
    budget = featurizer.estimate_bytes([big], True, True) // 4
    store = featurizer.compute_to(tmp_path / "out.zarr", structures, True, True, client=client,
                                  batch_atoms=12, max_memory=budget)
    assert store.committed["structures"] == len(structures) and store.complete
    read = open_features(tmp_path / "out.zarr", lazy=False)
    for name, value in whole.arrays().items():
        assert np.array_equal(getattr(read, name), value), name


def test_a_bad_structure_raises_after_the_batches_before_it_are_committed(client, tmp_path):
    from ase import Atoms

    structures = _structures()
    bad = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0]])  # coincident atoms
    featurizer = _featurizer()
    with pytest.raises(ValueError, match="structure 12: atoms 0 and 1 coincide"):
        featurizer.compute_to(tmp_path / "out.zarr", structures[:12] + [bad] + structures[12:],
                              True, client=client, batch_atoms=10)
    read = open_features(tmp_path / "out.zarr", lazy=False)
    assert 0 < read.n_structures <= 12
    reference = featurizer.compute_many(structures[:read.n_structures], True)
    for name, value in reference.arrays().items():
        assert np.array_equal(getattr(read, name), value), name


# ------------------------------------------------------------ reservations (no cluster)

def test_reserved_batches_commit_in_order_and_uncommitted_rows_are_cut_on_reopening(tmp_path):
    pytest.importorskip("zarr", minversion="3")
    from rstref.features.storage import FeatureStore
    from rstref.features.worker_writes import WrittenBatch

    structures = _structures(1)
    featurizer = _featurizer()
    parts = [featurizer.compute_many(structures[k:k + 3], True) for k in (0, 3, 6)]
    path = tmp_path / "out.zarr"
    store = FeatureStore(path, featurizer, gradients=True)
    layout = store.layout()
    written = []
    for part in parts:
        rows = layout.row_counts(part)
        starts = store.reserve(rows)
        layout.write(part, starts)  # what a worker does
        written.append(WrittenBatch(starts, rows, part.atom_offsets))
    assert written[1].starts["atoms"] == parts[0].n_atoms
    assert written[1].starts["gradients"] == parts[0].gradient_centers.shape[0]
    with pytest.raises(ValueError, match="order they were reserved"):
        store.commit_written(written[1])
    store.commit_written(written[0])
    store.commit_written(written[1])
    assert open_features(path, lazy=False).n_structures == 6
    # the third batch's rows are written but not committed: a reopened store cuts them
    reopened = FeatureStore(path, featurizer, gradients=True)
    assert reopened.group["features"].shape[0] == reopened.committed["atoms"]
    assert reopened.n_inputs == 6
    whole = featurizer.compute_many(structures[:6], True)
    read = open_features(path, lazy=False)
    for name, value in whole.arrays().items():
        assert np.array_equal(getattr(read, name), value), name


def test_chunk_split_covers_the_rows_and_keeps_the_shared_chunks_out_of_the_interior():
    from rstref.features.worker_writes import chunk_split

    for chunk in (1, 3, 7):
        for start in range(0, 20):
            for n in range(0, 25):
                (lo, hi), edges = chunk_split(start, n, chunk)
                covered = sorted(r for a, b in [(lo, hi), *edges] for r in range(a, b))
                assert covered == list(range(n))  # every row once
                if hi > lo:  # whole chunks, all rows inside this batch
                    assert (start + lo) % chunk == 0 and (start + hi) % chunk == 0
                for a, b in edges:  # each edge inside one chunk at an end of the batch
                    if b > a:
                        assert (start + a) // chunk == (start + b - 1) // chunk


def test_interior_writes_in_any_order_then_edges_in_order_give_the_store(tmp_path, monkeypatch):
    """Small chunks, batch boundaries inside chunks: the interiors written last batch first
    (as parallel workers may), the edges in input order, equal one write of everything."""
    pytest.importorskip("zarr", minversion="3")
    from rstref.features import storage
    from rstref.features.storage import FeatureStore
    from rstref.features.worker_writes import WrittenBatch

    monkeypatch.setattr(storage, "CHUNK_BYTES", 4096)
    structures = _structures(1)
    featurizer = _featurizer()
    parts = [featurizer.compute_many(structures[k:k + 4], True, True) for k in (0, 4, 8)]
    path = tmp_path / "out.zarr"
    store = FeatureStore(path, featurizer, gradients=True, stress=True)
    layout = store.layout()
    assert store.group["gradient_values"].chunks[0] < parts[0].gradient_values.shape[0]
    reserved = []
    for part in parts:
        rows = layout.row_counts(part)
        reserved.append((part, WrittenBatch(store.reserve(rows), rows, part.atom_offsets)))
    for part, batch in reversed(reserved):
        layout.write(part, batch.starts, "interior")
    for part, batch in reserved:
        layout.write(part, batch.starts, "edges")
        store.commit_written(batch)
    whole = featurizer.compute_many(structures, True, True)
    read = open_features(path, lazy=False)
    for name, value in whole.arrays().items():
        assert np.array_equal(getattr(read, name), value), name


def test_rows_of_kinds_that_disagree_are_refused(tmp_path):
    pytest.importorskip("zarr", minversion="3")
    from rstref.features.storage import FeatureStore

    store = FeatureStore(tmp_path / "out.zarr", _featurizer(), gradients=True)
    with pytest.raises(ValueError, match="disagree"):
        store.reserve({"features": 3, "atomic_numbers": 4})


# ------------------------------------------------------------ progress

def test_progress_counts_structures_and_atoms_with_totals_and_redraws_while_waiting(capsys,
                                                                                    monkeypatch):
    import rstref.features.progress as progress

    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain line
    bar = progress.Progress(10, True, total_atoms=70, heartbeat=0.05)
    bar.update(3, atoms=21)
    first = capsys.readouterr().err
    assert "3/10 structures, 21/70 atoms" in first
    time.sleep(0.3)  # nothing counted: the line is redrawn all the same
    assert capsys.readouterr().err.count("3/10 structures") >= 2
    bar.update(7, atoms=49)
    bar.close()
    assert "10/10 structures, 70/70 atoms" in capsys.readouterr().err
    assert not bar._thread.is_alive()


def test_distributed_progress_shows_atoms(client, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    structures = _structures()
    n_atoms = sum(len(a) for a in structures)
    _featurizer().compute_to(tmp_path / "out.zarr", structures, client=client, batch_atoms=15,
                             progress=True)
    err = capsys.readouterr().err
    assert f"{len(structures)}/{len(structures)} structures, {n_atoms}/{n_atoms} atoms" in err


# ------------------------------------------------------------ command line: SIGKILL, resume

def _cli(*argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "rstref.cli", "featurize", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def _committed(path):
    import json

    try:
        with open(Path(path) / "zarr.json") as handle:
            return json.load(handle)["attributes"]["committed"]
    except (OSError, ValueError, KeyError):
        return None


def _store_arrays(path):
    read = open_features(path, lazy=False)
    return {**read.arrays(), **read.extra}, read.attrs


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigkill_of_a_two_worker_run_leaves_the_committed_batches_and_the_rerun_resumes(
        tmp_path):
    pytest.importorskip("zarr", minversion="3")
    pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    import ase.io
    from ase.build import molecule

    source = tmp_path / "in.xyz"
    ase.io.write(source, [molecule(k) for k in ("H2O", "CH4", "NH3")] * 1000)
    argv = [source, "--r-cut", "2.0", "--n-max", "2", "--l-max", "2", "--no-progress",
            "--gradients", "--batch-atoms", "40"]
    reference = tmp_path / "ref.zarr"
    p = _cli(argv[0], "-o", reference, *argv[1:])  # one process
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    ref, _ = _store_arrays(reference)

    store = tmp_path / "o.zarr"
    p = _cli(argv[0], "-o", store, *argv[1:], "--workers", "2")
    deadline = time.monotonic() + 240
    while (_committed(store) or {}).get("batches", 0) < 3:
        assert p.poll() is None, f"the run ended before it was hit: {p.communicate()[1]}"
        assert time.monotonic() < deadline, "no batch committed in time"
        time.sleep(0.02)
    workers = psutil.Process(p.pid).children(recursive=True)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    _, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive, "worker processes outlived the killed run"
    killed, attrs = _store_arrays(store)
    n = attrs["committed"]["structures"]
    assert 0 < n < 3000 and not attrs["complete"]
    n_atoms, n_grad = attrs["committed"]["atoms"], attrs["committed"]["gradients"]
    assert killed["atom_offsets"].shape == (n + 1,) and killed["atom_offsets"][-1] == n_atoms
    assert np.array_equal(killed["features"], ref["features"][:n_atoms])
    n_entries, n_self = attrs["committed"]["gradient_entries"], attrs["committed"]["self_entries"]
    assert np.array_equal(killed["gradient_offsets"], ref["gradient_offsets"][:n_grad + 1])
    assert np.array_equal(killed["gradient_values"], ref["gradient_values"][:n_entries])
    assert np.array_equal(killed["self_gradients"], ref["self_gradients"][:n_self])
    assert np.array_equal(killed["positions"], ref["positions"][:n_atoms])

    q = _cli(argv[0], "-o", store, *argv[1:], "--workers", "2")
    _, err = q.communicate(timeout=300)
    assert q.returncode == 0, err
    assert f"resuming {store}: its {n} input structures are done" in err
    final, attrs = _store_arrays(store)
    assert attrs["complete"]
    for name, value in ref.items():
        assert np.array_equal(final[name], value), name


# ------------------------------------------------------------ a dense periodic box

def dense_box(n, density=0.1, species=("H", "C", "O"), seed=0, min_distance=0.9):
    """``n`` atoms placed at random in a cubic periodic box, ``density`` atoms per Å^3
    (0.1: the atom density of liquid water), no two closer than ``min_distance``."""
    from ase import Atoms

    side = (n / density) ** (1 / 3)
    rng = np.random.default_rng(seed)
    positions = np.zeros((0, 3))
    while positions.shape[0] < n:
        p = rng.random(3) * side
        d = positions - p
        d -= side * np.round(d / side)
        if not (np.einsum("ij,ij->i", d, d) < min_distance ** 2).any():
            positions = np.vstack([positions, p])
    return Atoms([species[k % len(species)] for k in range(n)], positions=positions,
                 cell=[side] * 3, pbc=True)


def test_a_dense_box_over_the_budget_runs_in_pieces_or_fails_at_once_naming_its_size(tmp_path):
    pytest.importorskip("zarr", minversion="3")
    from rstref.features.memory import MemoryBudgetError

    box = dense_box(150)
    featurizer = Featurizer(r_cut=5.0, n_max=3, l_max=3, species=["H", "C", "O"])
    needed = featurizer.estimate_bytes([box], True, False)
    whole = featurizer.compute_many([box], True, max_memory=2 * needed)
    store = featurizer.compute_to(tmp_path / "box.zarr", [box], True, max_memory=needed // 5)
    assert store.complete and store.committed["atoms"] == 150
    read = open_features(tmp_path / "box.zarr", lazy=False)
    for name, value in whole.arrays().items():
        assert np.array_equal(getattr(read, name), value), name
    start = time.monotonic()
    with pytest.raises(MemoryBudgetError, match=r"structure 0 \(150 atoms, \d+ neighbour pairs\) "
                                                r"needs about .* options that shrink it"):
        featurizer.compute_to(tmp_path / "tiny.zarr", [box], True, max_memory=needed // 2000)
    assert time.monotonic() - start < 30
    assert open_features(tmp_path / "tiny.zarr", lazy=False).n_structures == 0


def test_a_bad_frame_in_a_two_worker_command_line_run_is_skipped_as_in_one_process(tmp_path):
    pytest.importorskip("zarr", minversion="3")
    pytest.importorskip("distributed")
    import ase.io
    from ase import Atoms
    from ase.build import molecule

    from rstref.cli import main

    frames = [molecule(k) for k in ("H2O", "CH4", "NH3")] * 10
    frames[13] = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0]])
    ase.io.write(tmp_path / "in.xyz", frames)
    argv = [str(tmp_path / "in.xyz"), "--r-cut", "2.0", "--n-max", "2", "--l-max", "2",
            "--species", "H,C,N,O", "--gradients", "--batch-atoms", "12", "--no-progress"]
    assert main(["featurize", *argv[:1], "-o", str(tmp_path / "one.zarr"), *argv[1:]]) == 1
    assert main(["featurize", *argv[:1], "-o", str(tmp_path / "two.zarr"), *argv[1:],
                 "--workers", "2"]) == 1
    one, attrs_one = _store_arrays(tmp_path / "one.zarr")
    two, attrs_two = _store_arrays(tmp_path / "two.zarr")
    assert attrs_two["failures"] == attrs_one["failures"] and attrs_two["failures"][0]["frame"] == 13
    assert set(one) == set(two)
    for name, value in one.items():
        assert np.array_equal(two[name], value), name
