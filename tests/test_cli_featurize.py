"""``rstref featurize``: argument and output-path checks, read errors, atomic output,
signals (SIGINT, SIGTERM, SIGKILL) and concurrent runs to the same output.

The signal and concurrency tests run the CLI as a subprocess (``python -m rstref.cli``)
on many small molecules, so that a run lasts long enough to be hit mid-way; every wait
has a timeout.
"""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rstref.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--r-cut", "2.0", "--n-max", "2", "--l-max", "2", "--no-progress"]
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _write_molecules(path, copies, kinds=("H2O", "CH4", "NH3")):
    import ase.io
    from ase.build import molecule

    ase.io.write(path, [molecule(k) for k in kinds] * copies)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    return {"small": _write_molecules(d / "small.xyz", 2), "big": _write_molecules(d / "big.xyz", 2000)}


def _cli(*argv, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "rstref.cli", "featurize", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, **kwargs)


@pytest.fixture(scope="module")
def warm(inputs, tmp_path_factory):
    """One run first, so that numba's cache is filled and later runs start quickly."""
    out = tmp_path_factory.mktemp("warm") / "w.npz"
    p = _cli(inputs["small"], "-o", out, *SMALL)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return True


def _stages(directory):
    return sorted(Path(directory).glob(".rstref-featurize-*"))


def _wait_for_rows(directory, process, timeout=60.0):
    """Wait until the run has staged some feature rows (it is mid-run), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stage in _stages(directory):
            raw = stage / "features.raw"
            if raw.exists() and raw.stat().st_size > 0:
                return stage
        if process.poll() is not None:
            pytest.fail(f"the run ended before it was hit: {process.communicate()[1]}")
        time.sleep(0.02)
    process.kill()
    pytest.fail("the run staged no rows in time")


def _assert_complete(path):
    """A complete, self-consistent output file; returns its number of structures."""
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None  # every member's CRC is right
    with np.load(path, allow_pickle=False) as data:
        offsets = data["atom_offsets"]
        n = offsets.shape[0] - 1
        assert offsets[-1] == data["features"].shape[0] == data["positions"].shape[0]
        assert data["structure_frame"].shape == (n,) and data["cells"].shape == (n, 3, 3)
        json.loads(str(data["failures"]))
        return n


def _old_file(path):
    np.savez(path, marker=np.arange(3))
    return path.read_bytes()


# ----------------------------------------------------------------------------- checks before the work

@pytest.mark.parametrize("argv, message", [
    (["--batch-atoms", "0"], "--batch-atoms"),
    (["--batch-atoms", "-5"], "--batch-atoms"),
    (["--species-mode", "values", "--species-values", "H=abc"], "the value of 'H' must be a number"),
    (["--species-mode", "values", "--species-values", "H"], "SYMBOL=VALUE"),
    (["--species-mode", "values", "--species-values", "H=nan"], "finite"),
    (["--species", " , "], "--species"),
    (["--r-cut", "-1"], "r_cut"),
])
def test_bad_arguments_are_one_line_and_status_2(inputs, tmp_path, capsys, argv, message):
    out = tmp_path / "o.npz"
    rc = main(["featurize", str(inputs["small"]), "-o", str(out), *SMALL, *argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporaries


def test_output_path_is_checked_before_the_work(inputs, tmp_path, capsys):
    small = tmp_path / "in.xyz"
    small.write_bytes(inputs["small"].read_bytes())
    before = small.read_bytes()
    cases = [(str(small), "is the input file"), (str(tmp_path), "is a directory"),
             (str(tmp_path / "missing" / "o.npz"), "does not exist"),
             (str(small / "o.npz"), "is not a directory")]
    for output, message in cases:
        rc = main(["featurize", str(small), "-o", output, *SMALL])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, (output, err)
    assert small.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.xyz"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_directory_fails_at_once(inputs, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        rc = main(["featurize", str(inputs["small"]), "-o", str(locked / "o.npz"), *SMALL])
    finally:
        locked.chmod(0o755)
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_directory_where_no_file_can_be_created_fails_at_once(inputs, capsys):
    rc = main(["featurize", str(inputs["small"]), "-o", "/proc/self/o.npz", *SMALL])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write to '/proc/self'" in err and len(err.strip().splitlines()) == 1


def test_missing_suffix_is_added_and_said(inputs, tmp_path, capsys):
    rc = main(["featurize", str(inputs["small"]), "-o", str(tmp_path / "out_x"), *SMALL])
    err = capsys.readouterr().err
    assert rc == 0 and "no .npz suffix" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_x.npz"]
    assert _assert_complete(tmp_path / "out_x.npz") == 6


def test_inferred_species_keep_the_good_frames_of_a_truncated_file(inputs, tmp_path, capsys):
    lines = inputs["small"].read_text().splitlines()
    truncated = tmp_path / "truncated.xyz"
    truncated.write_text("\n".join(lines[:-2]) + "\n")  # the last frame (NH3) loses two lines
    other = _write_molecules(tmp_path / "other.xyz", 1, kinds=("CO",))
    out = tmp_path / "o.npz"
    rc = main(["featurize", str(truncated), str(other), "-o", str(out), *SMALL])
    err = capsys.readouterr().err
    assert rc == 1 and "truncated.xyz" in err and "frames before the error are kept" in err
    with np.load(out, allow_pickle=False) as data:
        assert data["structure_file"].tolist() == [0] * 5 + [1]
        assert data["structure_frame"].tolist() == [0, 1, 2, 3, 4, 0]
        assert json.loads(str(data["hyperparameters"]))["species"] == ["H", "C", "N", "O"]
        assert [f["file"] for f in json.loads(str(data["failures"]))] == [str(truncated)]


def test_bad_structures_inside_a_batch_are_skipped_and_named(inputs, tmp_path, capsys):
    import ase.io
    from ase.build import molecule

    bad = molecule("H2O")
    bad.positions[1] = bad.positions[0]  # coincident atoms
    structures = [molecule("CH4"), bad, molecule("H2O"), molecule("NH3")]
    ase.io.write(tmp_path / "four.xyz", structures)
    out = tmp_path / "o.npz"
    rc = main(["featurize", str(tmp_path / "four.xyz"), "-o", str(out), "--species", "H,C,N,O",
               "--batch-atoms", "100", *SMALL])
    err = capsys.readouterr().err
    assert rc == 1 and "four.xyz: frame 1:" in err and "frame 1: frame 1" not in err
    with np.load(out, allow_pickle=False) as data:
        assert data["structure_frame"].tolist() == [0, 2, 3]
        from rstref.features import Featurizer

        good = [structures[k] for k in (0, 2, 3)]
        fz = Featurizer(r_cut=2.0, n_max=2, l_max=2, species=["H", "C", "N", "O"])
        np.testing.assert_array_equal(data["features"], fz.compute_many(good).features)


# ----------------------------------------------------------------------------- stale temporaries

def test_stale_stage_of_a_dead_run_is_removed(inputs, tmp_path, capsys):
    from rstref._commands._staging import _host

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    stale = tmp_path / f".rstref-featurize-{_host()}-{dead.pid}-abc_123"
    live = tmp_path / f".rstref-featurize-{_host()}-{os.getpid()}-xyz"
    other_host = tmp_path / f".rstref-featurize-elsewhere-{dead.pid}-abc"
    for d in (stale, live, other_host):
        d.mkdir()
        (d / "features.raw").write_bytes(b"x" * 10)
    rc = main(["featurize", str(inputs["small"]), "-o", str(tmp_path / "o.npz"), *SMALL])
    capsys.readouterr()
    assert rc == 0
    assert not stale.exists()
    assert live.exists() and other_host.exists()  # a live run's and another host's are kept


# ----------------------------------------------------------------------------- signals

@POSIX_ONLY
def test_sigterm_mid_run_writes_nothing_and_cleans_up(inputs, tmp_path, warm):
    out = tmp_path / "o.npz"
    old = _old_file(out)
    p = _cli(inputs["big"], "-o", out, *SMALL, "--batch-atoms", "40")
    _wait_for_rows(tmp_path, p)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "nothing written" in err
    assert out.read_bytes() == old
    assert _stages(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["o.npz"]


@POSIX_ONLY
def test_sigint_mid_run_writes_the_structures_done(inputs, tmp_path, warm):
    out = tmp_path / "o.npz"
    _old_file(out)
    p = _cli(inputs["big"], "-o", out, *SMALL, "--batch-atoms", "40")
    _wait_for_rows(tmp_path, p)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert _stages(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["o.npz"]
    n = _assert_complete(out)
    assert 0 < n < 6000
    with np.load(out, allow_pickle=False) as data:
        assert data["structure_frame"].tolist() == list(range(n))
        failures = json.loads(str(data["failures"]))
        assert failures[-1]["file"] is None and "interrupted" in failures[-1]["error"]


@POSIX_ONLY
def test_sigkill_mid_run_leaves_the_old_file_and_the_next_run_cleans_up(inputs, tmp_path, warm):
    out = tmp_path / "o.npz"
    old = _old_file(out)
    p = _cli(inputs["big"], "-o", out, *SMALL, "--batch-atoms", "40")
    stage = _wait_for_rows(tmp_path, p)
    p.kill()
    p.communicate(timeout=60)
    assert out.read_bytes() == old  # never a partial or mixed file
    assert stage.exists()  # SIGKILL cannot be handled: the next run must clean up
    q = _cli(inputs["small"], "-o", out, *SMALL)
    _, err = q.communicate(timeout=120)
    assert q.returncode == 0, err
    assert _assert_complete(out) == 6
    assert _stages(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["o.npz"]


def _parts(directory):
    return [p for p in Path(directory).rglob("*.part")]


@POSIX_ONLY
def test_concurrent_runs_to_one_output_give_one_complete_file(tmp_path, warm):
    """Run A is frozen (SIGSTOP) in the middle of its final write while run B runs from
    start to end to the same output; then A goes on.  At every moment the output is
    absent or one run's complete file, and no temporaries remain."""
    out = tmp_path / "o.npz"
    sources = [_write_molecules(tmp_path / "a.xyz", 80), _write_molecules(tmp_path / "b.xyz", 2)]
    wide = ["--r-cut", "2.0", "--n-max", "6", "--l-max", "4", "--no-progress"]  # a long final write
    a = _cli(sources[0], "-o", out, *wide)
    deadline = time.monotonic() + 120
    while not _parts(tmp_path):
        if a.poll() is not None or time.monotonic() > deadline:
            a.kill()
            pytest.fail(f"run A ended before it was caught writing: {a.communicate()[1]}")
        time.sleep(0.0005)
    a.send_signal(signal.SIGSTOP)
    try:
        caught = bool(_parts(tmp_path))
        b = _cli(sources[1], "-o", out, *wide)
        _, err_b = b.communicate(timeout=120)
        assert b.returncode == 0, err_b
        assert _assert_complete(out) == 6
    finally:
        a.send_signal(signal.SIGCONT)
    seen = set()
    while a.poll() is None and time.monotonic() < deadline:  # a reader never sees a mixed file
        if out.exists():
            seen.add(_assert_complete(out))
        time.sleep(0.005)
    _, err_a = a.communicate(timeout=60)
    assert a.returncode == 0, err_a
    assert seen <= {6, 240}
    if caught:
        assert _assert_complete(out) == 240  # A finished last: its file, complete
    assert _stages(tmp_path) == [] and _parts(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xyz", "b.xyz", "o.npz"]


@POSIX_ONLY
def test_ctrl_c_during_the_final_write_leaves_the_old_file_or_a_complete_one(tmp_path, warm):
    out = tmp_path / "o.npz"
    old = _old_file(out)
    source = _write_molecules(tmp_path / "a.xyz", 80)
    p = _cli(source, "-o", out, "--r-cut", "2.0", "--n-max", "6", "--l-max", "4", "--no-progress")
    deadline = time.monotonic() + 120
    while not _parts(tmp_path):
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"the run ended before it was caught writing: {p.communicate()[1]}")
        time.sleep(0.0005)
    p.send_signal(signal.SIGSTOP)  # frozen mid-write: the SIGINT arrives there
    if not _parts(tmp_path):  # the write ended in between (a loaded machine): nothing to test
        p.send_signal(signal.SIGCONT)
        p.communicate(timeout=60)
        pytest.skip("the run finished its write before it could be stopped")
    p.send_signal(signal.SIGINT)
    p.send_signal(signal.SIGCONT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    if "nothing written" in err:
        assert out.read_bytes() == old
    else:  # the signal came after the rename: the new file, complete
        assert "was written" in err and _assert_complete(out) == 240
    assert _stages(tmp_path) == [] and _parts(tmp_path) == []


def test_interleaved_writers_of_one_output_never_mix(tmp_path):
    from rstref._commands._staging import StagedNpz

    out = tmp_path / "o.npz"
    writers = [StagedNpz(str(out)), StagedNpz(str(out))]
    assert writers[0].stage != writers[1].stage
    for k, w in enumerate(writers):
        w.append("rows", np.full((1000 * (k + 1), 4), float(k)))
    staged = [w.write_zip({"k": k}) for k, w in enumerate(writers)]
    assert staged[0] != staged[1]
    for order in ((0, 1), (1, 0)):
        for k in order:
            writers[k].commit(staged[k]) if Path(staged[k]).exists() else None
            with np.load(out, allow_pickle=False) as data:
                assert int(data["k"]) == k and np.all(data["rows"] == k)
                assert data["rows"].shape == (1000 * (k + 1), 4)
        staged = [w.write_zip({"k": k}) for k, w in enumerate(writers)]
    for w in writers:
        w.cleanup()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.npz"]


def test_a_signal_wrapped_by_a_c_callback_is_recognised():
    # a handler that raises inside numba's cache loader surfaces as SystemError
    from rstref._commands._staging import Interrupted, signal_in

    try:
        try:
            raise Interrupted(2)
        except Interrupted as inner:
            raise SystemError("returned a result with an exception set") from inner
    except SystemError as err:
        assert isinstance(signal_in(err), Interrupted)
    assert signal_in(SystemError("unrelated")) is None


# ----------------------------------------------------------------------------- Zarr stores

def _committed(store):
    try:
        return json.loads((Path(store) / "zarr.json").read_text())["attributes"]["committed"]
    except (OSError, ValueError, KeyError):
        return None


def _store_arrays(path):
    from rstref.features import open_features

    read = open_features(path, lazy=False)
    return {**read.arrays(), **read.extra}, read.attrs


def test_zarr_output_equals_the_npz_and_refuses_other_settings(inputs, tmp_path, capsys):
    pytest.importorskip("zarr", minversion="3")
    npz, store = tmp_path / "o.npz", tmp_path / "o.zarr"
    assert main(["featurize", str(inputs["small"]), "-o", str(npz), *SMALL, "--gradients",
                 "--stress"]) == 0
    assert main(["featurize", str(inputs["small"]), "-o", str(store), *SMALL, "--gradients",
                 "--stress", "--batch-atoms", "5"]) == 0
    arrays, attrs = _store_arrays(store)
    with np.load(npz, allow_pickle=False) as data:
        for name in ("features", "atom_offsets", "gradient_values", "gradient_centers",
                     "strain_derivatives", "positions", "cells", "structure_frame"):
            assert np.array_equal(arrays[name], data[name]), name
        assert attrs["hyperparameters"] == json.loads(str(data["hyperparameters"]))
    assert attrs["provenance"]["input_files"] == [str(inputs["small"])]
    assert attrs["complete"] and attrs["failures"] == []
    capsys.readouterr()
    assert main(["featurize", str(inputs["small"]), "-o", str(store), *SMALL[:4], "--l-max", "3",
                 "--gradients", "--stress", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "different hyperparameters" in err and "l_max: 2 there, 3 now" in err
    assert main(["featurize", str(inputs["small"]), "-o", str(store), *SMALL]) == 2
    assert "different gradients" in capsys.readouterr().err
    assert main(["featurize", str(inputs["small"]), "-o", str(tmp_path / "x.npz"), *SMALL,
                 "--workers", "2"]) == 2
    assert "--workers and --scheduler need a .zarr output" in capsys.readouterr().err
    assert main(["featurize", str(inputs["small"]), "-o", str(tmp_path / "y.zarr"), *SMALL,
                 "--max-memory", "lots"]) == 2
    assert "--max-memory" in capsys.readouterr().err


@POSIX_ONLY
def test_sigkill_mid_zarr_run_leaves_the_committed_batches_and_the_rerun_resumes(
        inputs, tmp_path, warm):
    pytest.importorskip("zarr", minversion="3")
    argv = [inputs["big"], *SMALL, "--gradients", "--batch-atoms", "40"]
    reference = tmp_path / "ref.zarr"
    p = _cli(argv[0], "-o", reference, *argv[1:])
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    ref, _ = _store_arrays(reference)

    store = tmp_path / "o.zarr"
    p = _cli(argv[0], "-o", store, *argv[1:])
    deadline = time.monotonic() + 120
    while (_committed(store) or {}).get("batches", 0) < 3:
        assert p.poll() is None, f"the run ended before it was hit: {p.communicate()[1]}"
        assert time.monotonic() < deadline, "no batch committed in time"
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    killed, attrs = _store_arrays(store)
    n = attrs["committed"]["structures"]
    assert 0 < n < 6000 and not attrs["complete"]
    assert killed["atom_offsets"].shape == (n + 1,)
    n_atoms = int(killed["atom_offsets"][-1])
    assert killed["features"].shape[0] == n_atoms == attrs["committed"]["atoms"]
    n_grad = attrs["committed"]["gradients"]
    assert np.array_equal(killed["features"], ref["features"][:n_atoms])
    n_entries, n_self = attrs["committed"]["gradient_entries"], attrs["committed"]["self_entries"]
    assert np.array_equal(killed["gradient_offsets"], ref["gradient_offsets"][:n_grad + 1])
    assert np.array_equal(killed["gradient_values"], ref["gradient_values"][:n_entries])
    assert np.array_equal(killed["self_gradients"], ref["self_gradients"][:n_self])
    assert np.array_equal(killed["structure_frame"], ref["structure_frame"][:n])

    q = _cli(argv[0], "-o", store, *argv[1:])
    _, err = q.communicate(timeout=300)
    assert q.returncode == 0, err
    assert f"resuming {store}: its {n} input structures are done" in err
    final, attrs = _store_arrays(store)
    assert attrs["complete"]
    for name, value in ref.items():
        assert np.array_equal(final[name], value), name


def test_zarr_with_two_local_workers_equals_one_process(inputs, tmp_path):
    pytest.importorskip("zarr", minversion="3")
    pytest.importorskip("distributed")
    one, two = tmp_path / "one.zarr", tmp_path / "two.zarr"
    assert main(["featurize", str(inputs["small"]), "-o", str(one), *SMALL, "--gradients",
                 "--batch-atoms", "4"]) == 0
    p = _cli(inputs["small"], "-o", two, *SMALL, "--gradients", "--batch-atoms", "4",
             "--workers", "2")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    a, _ = _store_arrays(one)
    b, attrs = _store_arrays(two)
    assert attrs["complete"]
    for name, value in a.items():
        assert np.array_equal(b[name], value), name
