"""Batches of structures computed on Dask workers (``dask.distributed``), in input order.

:func:`distributed_batches` groups the structures into batches of about ``batch_atoms``
atoms on the client, sends each batch to a worker (the featurizer is scattered once to
every worker), and yields the results in input order with at most two batches per
worker in flight; the writer (:meth:`rstref.Featurizer.compute_to`) appends them.  The
numbers are those of a single-process run bit for bit: every environment is computed by
the same kernels whatever batch it is in.

Before the batches fan out, the numba kernels are compiled once in the client process
(filling numba's on-disk cache) and then on the workers one at a time: the first
compilation of many processes at once against one cache directory is a known source of
crashes.

Needs the ``rstref[dask]`` extra (dask, distributed, zarr>=3) on the client and on every
worker; the workers must import the same rstref version.
"""

import os
from collections import deque
from contextlib import contextmanager


def require_distributed():
    """Import ``distributed`` or raise ImportError saying what to install."""
    try:
        import distributed
    except ImportError:
        raise ImportError("computing on Dask workers needs dask.distributed "
                          "(pip install 'rstref[dask]' or pip install dask distributed)") from None
    return distributed


@contextmanager
def local_client(n_workers, numba_threads=None):
    """A ``Client`` of a local cluster of ``n_workers`` processes on 127.0.0.1.

    Each worker runs one task at a time with ``numba_threads`` numba threads (default:
    the CPUs divided among the workers).
    """
    distributed = require_distributed()
    if numba_threads is None:
        numba_threads = max(1, (os.cpu_count() or 1) // int(n_workers))
    env = {"NUMBA_NUM_THREADS": str(int(numba_threads))}
    with distributed.LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None, env=env) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@contextmanager
def connect(address):
    """A ``Client`` of the existing cluster at ``address`` (e.g. ``'tcp://host:8786'``)."""
    distributed = require_distributed()
    with distributed.Client(address) as client:
        yield client


def _warm_structure(featurizer):
    """Two atoms of the featurizer's first species (or hydrogen) inside the cutoff."""
    from ase import Atoms

    number = featurizer.species[0] if featurizer.species else 1
    return Atoms(numbers=[number, number], positions=[[0, 0, 0], [0, 0, 0.6 * featurizer.r_cut]])


def warm_up(featurizer, gradients, stress):
    """Compile (or load from numba's cache) the kernels of ``featurizer``'s computation."""
    featurizer.compute(_warm_structure(featurizer), gradients, stress)
    return True


def compute_batch(featurizer, structures, gradients, stress, max_memory):
    """One batch on a worker: the features of ``structures``, concatenated."""
    from rstref.features.results import Features

    parts = list(featurizer.iter_batches(structures, gradients, stress, 10**15, False,
                                         max_memory))
    return Features.concatenate(parts, featurizer.n_features, gradients, stress)


def warm_workers(client, featurizer, gradients, stress):
    """Compile here, then on every worker one after the other."""
    warm_up(featurizer, gradients, stress)
    for worker in sorted(client.scheduler_info()["workers"]):
        client.run(warm_up, featurizer, gradients, stress, workers=[worker])


def _batches_of(structures, batch_atoms):
    batch, atoms = [], 0
    for item in structures:
        batch.append(item)
        atoms += len(item)
        if atoms >= batch_atoms:
            yield batch
            batch, atoms = [], 0
    if batch:
        yield batch


def distributed_batches(client, featurizer, structures, gradients=False, stress=False,
                        batch_atoms=4096, max_memory=None, progress=None):
    """Yield :class:`~rstref.features.Features` of consecutive batches, computed on the
    workers of ``client``, in input order (see the module docstring).  ``max_memory``
    applies on the workers; a structure over it raises there."""
    from rstref._checks import check_bool, check_int
    from rstref.features.progress import Progress, progress_enabled

    batch_atoms = check_int(batch_atoms, "batch_atoms", 1)
    gradients, stress = check_bool(gradients, "gradients"), check_bool(stress, "stress")
    warm_workers(client, featurizer, gradients, stress)
    remote = client.scatter(featurizer, broadcast=True)
    window = 2 * max(1, len(client.scheduler_info()["workers"]))
    total = len(structures) if hasattr(structures, "__len__") else None
    bar = Progress(total, progress_enabled(progress, total))
    pending = deque()
    try:
        for batch in _batches_of(structures, batch_atoms):
            pending.append(client.submit(compute_batch, remote, batch, gradients, stress,
                                         max_memory, pure=False))
            while len(pending) >= window:
                result = pending.popleft().result()
                bar.update(result.n_structures)
                yield result
                del result
        while pending:
            result = pending.popleft().result()
            bar.update(result.n_structures)
            yield result
            del result
    finally:
        for future in pending:
            future.cancel()
        bar.close()
