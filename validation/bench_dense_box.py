"""Large structures with gradients inside a 2 GB budget, into Zarr.

``--system box`` (default): 1,500 atoms (H, C, O in turn) at random in a cubic periodic box
at 0.1 atoms/Å^3 (the atom density of liquid water; no two closer than 0.9 Å).
``--system cu``: a 17 x 17 x 17 cubic fcc Cu cell (a = 3.61 Å, 19,652 atoms, rattled
0.05 Å, seed 0).  Both with r_cut 5, n_max 8, l_max 6, channels mode, gradients.  A
structure over the budget on its own is written by ``compute_to`` in pieces of its centre
atoms.  Prints the estimate, wall time, peak RSS and the store's size; ``--budget`` below
one centre shows the immediate size message instead.

    PYTHONPATH=. python validation/bench_dense_box.py [--system box|cu] [--atoms 1500] [--budget 2GB]
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=("box", "cu"), default="box")
    parser.add_argument("--atoms", type=int, default=1500, help="atoms of the box")
    parser.add_argument("--budget", default="2GB")
    parser.add_argument("--keep", default=None, help="write the store here (default: a temp dir)")
    args = parser.parse_args()

    from test_distributed import dense_box

    from rstref.features import Featurizer, open_features
    from rstref.features.memory import MemoryBudgetError, parse_bytes

    if args.system == "cu":
        from ase.build import bulk

        box = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((17, 17, 17))
        box.rattle(0.05, seed=0)
        species = ["Cu"]
    else:
        box, species = dense_box(args.atoms), ["H", "C", "O"]
    featurizer = Featurizer(r_cut=5.0, n_max=8, l_max=6, species=species)
    needed = featurizer.estimate_bytes([box], True, False)
    print(f"{len(box)} atoms, box {box.cell[0, 0]:.2f} Å, F = {featurizer.n_features}, "
          f"estimate {needed / 2**30:.2f} GiB, budget {parse_bytes(args.budget) / 2**30:.2f} GiB")
    directory = args.keep or tempfile.mkdtemp(prefix="dense-box-")
    path = os.path.join(directory, "box.zarr")
    start = time.perf_counter()
    try:
        store = featurizer.compute_to(path, [box], gradients=True, max_memory=args.budget,
                                      progress=False)
    except MemoryBudgetError as exc:
        print(f"refused after {time.perf_counter() - start:.2f} s: {exc}")
        return
    finally:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    wall = time.perf_counter() - start
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    read = open_features(path)
    print(f"wall {wall:.1f} s, peak RSS {peak:.2f} GiB, {store.committed['gradients']} gradient "
          f"rows, store {size / 2**30:.2f} GiB on disk, "
          f"gradient_values {read.gradient_values.shape}")
    if args.keep is None:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
