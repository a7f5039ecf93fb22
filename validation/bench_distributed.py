"""Benchmark: featurizing into a Zarr store in one process vs 1 and 2 local Dask workers.

Cu frames (fcc, rattled) with gradients, r_cut 5; the workers write their own batches
(rstref.features.distributed).  Prints wall and CPU seconds (this process and its
children) per mode and repeat, and the machine load (``os.getloadavg``) around each run.

    PYTHONPATH=. python validation/bench_distributed.py [--frames 192] [--repeats 3]
"""

import argparse
import os
import resource
import shutil
import tempfile
import time


def frames(n):
    from ase.build import bulk

    out = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
        atoms.rattle(0.05, seed=k)
        out.append(atoms)
    return out


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(mode, featurizer, structures, batch_atoms, client=None):
    directory = tempfile.mkdtemp(prefix="bench-dist-")
    try:
        start, cpu = time.perf_counter(), cpu_seconds()
        featurizer.compute_to(os.path.join(directory, "out.zarr"), structures, gradients=True,
                              client=client, batch_atoms=batch_atoms, progress=False)
        return time.perf_counter() - start, cpu_seconds() - cpu
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-atoms", type=int, default=256)
    args = parser.parse_args()

    from rstref.features import Featurizer
    from rstref.features.distributed import local_client

    featurizer = Featurizer(r_cut=5.0, n_max=8, l_max=6, species=["Cu"])
    structures = frames(args.frames)
    n_atoms = sum(len(a) for a in structures)
    print(f"{args.frames} Cu frames, {n_atoms} atoms, F = {featurizer.n_features}, gradients, "
          f"batch_atoms {args.batch_atoms}, {os.cpu_count()} CPUs")
    featurizer.compute(structures[0], True)  # compile
    results = {}
    modes = [("one process", None), ("1 worker", 1), ("2 workers", 2)]
    for mode, workers in modes:
        if workers is None:
            run(mode, featurizer, structures[:4], args.batch_atoms)  # compile
            times = [(os.getloadavg()[0], *run(mode, featurizer, structures, args.batch_atoms))
                     for _ in range(args.repeats)]
        else:
            with local_client(workers) as client:
                run(mode, featurizer, structures[:4], args.batch_atoms, client)  # warm workers
                times = [(os.getloadavg()[0],
                          *run(mode, featurizer, structures, args.batch_atoms, client))
                         for _ in range(args.repeats)]
        results[mode] = times
        for load, wall, cpu in times:
            print(f"{mode:12s} wall {wall:6.2f} s  cpu (client) {cpu:6.2f} s  load {load:.2f}")
    best = {mode: min(t[1] for t in times) for mode, times in results.items()}
    print("best wall: " + ", ".join(f"{m} {w:.2f} s" for m, w in best.items()))
    print(f"speed-up 2 workers vs 1 worker: {best['1 worker'] / best['2 workers']:.2f}x; "
          f"vs one process: {best['one process'] / best['2 workers']:.2f}x")


if __name__ == "__main__":
    main()
