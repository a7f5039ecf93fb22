"""``rstref compile``: compile the numba kernels of the main jobs once, into the on-disk cache.

rstref's CPU kernels are compiled by numba on first use and cached on disk
(:mod:`rstref._numba`); the first ``rstref demo`` or ``rstref featurize`` on a machine
therefore spends most of its time compiling.  This command does that once, up front, on
tiny inputs (a Dockerfile step, a shared install before fanning out to workers, a CI
image), and reports the time and where the cache went.  It is not run at install time:
pip has no post-install step for wheels, and numba's cache is specific to the machine's
CPU and the numba version, so it must be built where the kernels run.
"""

import os
import sys
import time


def add_arguments(parser):
    parser.add_argument("--jobs", default="demo,featurize",
                        help="comma-separated jobs whose kernels to compile: demo, featurize "
                        "(default: %(default)s)")


JOBS = ("demo", "featurize")


def _compile_demo():
    from rstref.demo import seed_experiment

    seed_experiment(n_starts=1, report=None)


def _compile_featurize():
    from ase.build import bulk, molecule

    from rstref import Featurizer

    water = molecule("H2O")
    copper = bulk("Cu", "fcc", a=3.61, cubic=True)
    for featurizer in (Featurizer(species=["H", "O"]), Featurizer(species_mode="values")):
        featurizer.compute(water)
        featurizer.compute(water, gradients=True)
    copper_featurizer = Featurizer(species=["Cu"])
    for gradients, stress in ((False, False), (True, False), (True, True)):
        copper_featurizer.compute(copper, gradients=gradients, stress=stress)


def _parse_jobs(text):
    jobs = [job.strip() for job in str(text).split(",") if job.strip()]
    unknown = [job for job in jobs if job not in JOBS]
    if unknown or not jobs:
        raise ValueError(f"--jobs: expected a comma-separated list of {', '.join(JOBS)}, "
                         f"got {text!r}")
    return jobs


def cache_files(root):
    """``(count, bytes)`` of numba cache files (``.nbi``, ``.nbc``) under ``root``."""
    count = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            if name.endswith((".nbi", ".nbc")):
                count += 1
                size += os.path.getsize(os.path.join(directory, name))
    return count, size


def _cache_roots():
    import numba

    import rstref

    if numba.config.CACHE_DIR:  # NUMBA_CACHE_DIR, or rstref's fallback (rstref._numba)
        return [numba.config.CACHE_DIR]
    return [os.path.dirname(rstref.__file__)]


def run(args):
    from rstref._numba import cache_enabled

    try:
        jobs = _parse_jobs(args.jobs)
    except ValueError as err:
        print(f"rstref compile: error: {err}", file=sys.stderr)
        return 2
    if not cache_enabled():
        print("rstref compile: RSTREF_NUMBA_CACHE is off, so nothing compiled now would be kept; "
              "unset it and run again", file=sys.stderr)
        return 2
    runners = {"demo": _compile_demo, "featurize": _compile_featurize}
    for job in jobs:
        print(f"rstref compile: compiling the kernels of '{job}' (numba; a few seconds to a "
              "minute the first time, then loaded from the cache) ...", flush=True)
        start = time.perf_counter()
        runners[job]()
        print(f"rstref compile: '{job}' ready in {time.perf_counter() - start:.1f} s", flush=True)
    for root in _cache_roots():
        count, size = cache_files(root)
        if count:
            print(f"rstref compile: cache {root}: {count} files, {size / 2**20:.1f} MiB")
    return 0


def compile_notice():
    """A one-line notice when featurization's kernels are not in the cache yet, else None."""
    from rstref._engine import structures  # the engine's per-environment entry kernel
    from rstref._numba import is_cached

    if is_cached(structures._power_spectrum_loop):
        return None
    return ("numba is compiling rstref's kernels on this first run (about 30 s on 2 cores, "
            "once; later runs load them from the on-disk cache; 'rstref compile' does it ahead)")
