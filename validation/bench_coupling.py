"""Clebsch-Gordan table: size, cold load time, generation time, coupling throughput.

What is measured (one process, side by side where there is a peer):

* the shipped table: file size, blocks, non-zero entries, provenance;
* cold load: ``load_table()`` in fresh subprocesses (``import rstref.coupling`` timed
  separately; numpy is imported before either clock starts), best and median of 5;
  and the cached (warm) call;
* generation: ``python -m rstref.tables.generate --l-max 10 --workers 2`` into a
  temporary file (wall time), and whether the result is byte-identical to the
  shipped file (``--skip-generate`` skips it; it takes about a minute of 2 cores);
* coupling throughput: ``out[M] = sum C[m1,m2,M] a[m1] b[m2]`` for a batch of
  100,000 (a, b) pairs, with the sparse numba kernel
  ``rstref._kernels.coupling.cg_couple`` in a serial loop, against the dense numpy
  peer ``np.einsum('ijk,ni,nj->nk', C, a, b)`` (BLAS-backed) on the same data;
  the two results must agree to 1e-12.

Writes the section '## Clebsch–Gordan tables' of validation/RESULTS.md.

Usage: ``python validation/bench_coupling.py [--skip-generate] [--pairs 100000] [--no-write]``
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import _peers

HEADING = "## Clebsch–Gordan tables"
BLOCKS = [(1, 1, 1), (2, 2, 2), (3, 4, 5), (4, 4, 4), (6, 6, 6), (10, 10, 10)]

_COLD = r"""
import time, numpy
t0 = time.perf_counter()
import rstref.coupling as c
t1 = time.perf_counter()
c.load_table()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def cold_load(repeat=5):
    imports, loads = [], []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True, check=True,
                             cwd=_peers._REPO_ROOT).stdout.split()
        imports.append(float(out[0]))
        loads.append(float(out[1]))
    return imports, loads


def generation(path):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rstref.tables.generate", "--l-max", "10", "--workers", "2",
                    "--out", path], check=True, cwd=_peers._REPO_ROOT, capture_output=True)
    return time.perf_counter() - start


def throughput(table, pairs, seed=0):
    import numba

    from rstref._kernels.coupling import cg_couple

    @numba.njit(cache=False)
    def couple_all(l1, l2, L, a, b, out, offsets, m1, m2, M, values, l_max):
        n1, n2, n3 = 2 * l1 + 1, 2 * l2 + 1, 2 * L + 1
        for i in range(a.shape[0] // n1):
            cg_couple(l1, l2, L, a, i * n1, b, i * n2, out, i * n3, offsets, m1, m2, M, values, l_max)

    rows = []
    rng = np.random.default_rng(seed)
    ka = table.kernel_arrays()
    for l1, l2, L in BLOCKS:
        a = rng.normal(size=(pairs, 2 * l1 + 1))
        b = rng.normal(size=(pairs, 2 * l2 + 1))
        C = table.dense(l1, l2, L)
        out = np.zeros((pairs, 2 * L + 1))

        def sparse():
            out[:] = 0.0
            couple_all(l1, l2, L, a.reshape(-1), b.reshape(-1), out.reshape(-1), *ka)

        def dense():
            return np.einsum("ijk,ni,nj->nk", C, a, b, optimize=True)

        sparse()
        ref = dense()
        dev = float(np.abs(out - ref).max())
        t_sparse = _peers.best_time(sparse, repeat=5)
        t_dense = _peers.best_time(dense, repeat=3)
        start, stop = table.block_range(l1, l2, L)
        rows.append(((l1, l2, L), stop - start, pairs / t_sparse, pairs / t_dense, t_dense / t_sparse, dev))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from rstref.coupling import load_table, shipped_table_path

    report = _peers.Report("Clebsch-Gordan tables")
    shipped = shipped_table_path()
    table = load_table()
    size = os.path.getsize(shipped)
    print(f"shipped table {shipped}: {size} bytes, l_max {table.l_max}, {table.size} entries, "
          f"sympy {table.sympy_version}")

    imports, loads = cold_load()
    warm = _peers.best_time(load_table, repeat=20)
    print(f"cold load: best {1e3 * min(loads):.1f} ms, median {1e3 * statistics.median(loads):.1f} ms "
          f"(import rstref.coupling: best {1e3 * min(imports):.1f} ms); cached: {1e6 * warm:.1f} us")

    gen_line = "not run (--skip-generate)"
    if not args.skip_generate:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "cg10.npz")
            seconds = generation(path)
            identical = open(path, "rb").read() == open(shipped, "rb").read()
        if not identical:
            report.fail("regeneration", "regenerated l_max=10 table differs from the shipped file")
        else:
            report.check("regeneration byte-identical to shipped", 0.0, 0.0)
        gen_line = f"{seconds:.1f} s wall with 2 worker processes; byte-identical to the shipped file: {identical}"
        print(f"generation l_max=10: {gen_line}")

    rows = throughput(table, args.pairs)
    for (l1, l2, L), nnz, sparse, dense, ratio, dev in rows:
        report.check(f"cg_couple vs einsum ({l1},{l2},{L})", dev, 1e-12)
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    body = "\n".join([
        f"_{_peers.utc_now()}, `python validation/bench_coupling.py`_",
        "",
        _peers.machine_info(peers=["sympy"]) + f" 1-minute load average at the end: {load_avg:.1f}.",
        "",
        f"- Shipped table `rstref/tables/clebsch_gordan_l10.npz`: {size / 1024:.0f} KiB, "
        f"l1, l2, L <= {table.l_max}, 671 blocks, {table.size} non-zero float64 entries, derived with "
        f"sympy {table.sympy_version} (generator sha256 `{table.generator_sha256[:16]}…`).",
        f"- Cold load (`load_table()` in a fresh process, after numpy is imported; unzip, sha256 of the "
        f"content, checks): best {1e3 * min(loads):.1f} ms, median {1e3 * statistics.median(loads):.1f} ms "
        f"over 5 processes (target < 50 ms); `import rstref.coupling` best {1e3 * min(imports):.1f} ms; "
        f"cached call {1e6 * warm:.1f} µs.",
        f"- Generation l_max = 10: {gen_line}.",
        "",
        f"Coupling throughput, {args.pairs} pairs, 1 thread: sparse numba kernel `cg_couple` (serial loop) "
        "vs dense `np.einsum('ijk,ni,nj->nk')` on the same data.",
        "",
        _peers.markdown_table(
            ["(l1, l2, L)", "non-zeros", "cg_couple (couplings/s)", "dense einsum (couplings/s)",
             "speed-up", "max abs diff"],
            [[f"({a}, {b}, {c})", nnz, f"{s:.3g}", f"{d:.3g}", f"{r:.1f}x", f"{dev:.1e}"]
             for (a, b, c), nnz, s, d, r, dev in rows],
        ),
    ])
    print(body)
    if not args.no_write:
        _peers.update_results_section(HEADING, body)
    return report.exit_status()


if __name__ == "__main__":
    sys.exit(main())
