"""Batches of structures computed on Dask workers (``dask.distributed``) and written into
a Zarr feature store by the workers themselves, committed in input order.

:func:`distributed_batches` groups the structures into batches of about ``batch_atoms``
atoms on the client and sends each batch to a worker (the featurizer is scattered once to
every worker), at most two batches per worker in flight.  A batch's arrays never travel
back: for each batch, in input order, the client

1. asks the worker holding the result for its row counts (a tiny task that Dask runs
   where the result is);
2. reserves those rows in the store (:meth:`FeatureStore.reserve
   <rstref.features.storage.FeatureStore.reserve>`, which grows the arrays: only the
   client writes the store's metadata);
3. submits the write (:meth:`StoreLayout.write
   <rstref.features.worker_writes.StoreLayout.write>`) in two tasks, which depend on the
   result and so run on the worker holding it: the whole Zarr chunks inside the batch's
   rows, at once (no other batch touches them), and the rows in the chunks at its ends,
   after the previous batch's: **those edge writes are serialised in input order** (two
   writes into the chunk at a batch boundary at once would lose one of them);
4. when both are done, yields a :class:`~rstref.features.worker_writes.WrittenBatch`
   (row counts and the batch's ``atom_offsets``) that the caller commits with
   :meth:`FeatureStore.commit_written <rstref.features.storage.FeatureStore.commit_written>`.

The client receives a few integers per structure; a killed run leaves exactly the
committed batches (rows written past them are ignored and cut off on reopening), and the
same call again resumes.  The numbers are those of a single-process run bit for bit (every
environment is computed by the same kernels whatever batch it is in), in input order.

A structure over ``max_memory`` on its own cannot be written by a worker (its pieces are
written as they are computed): the batch holding it is recomputed on the client, the
large structure in centre pieces, exactly as in a single-process run.  Any other error of
a batch is raised after the batches before it were yielded.

Before the batches fan out, the numba kernels are compiled once in the client process
(filling numba's on-disk cache) and then on the workers one at a time: the first
compilation of many processes at once against one cache directory is a known source of
crashes.

Needs the ``rstref[dask]`` extra (dask, distributed, zarr>=3) on the client and on every
worker; the workers must import the same rstref version and reach the store's path (a
shared file system on a real cluster).
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


def compute_batch(featurizer, structures, gradients, stress, max_memory, first=0):
    """One batch on a worker: the features of ``structures``, concatenated; an error names
    the structure by its input number (the batch starts at input ``first``)."""
    from rstref.features.results import Features

    try:
        parts = list(featurizer.iter_batches(structures, gradients, stress, 10**15, False,
                                             max_memory))
    except (TypeError, ValueError) as exc:
        renumbered = _renumbered(str(exc), first)
        if renumbered == str(exc):
            raise
        raise type(exc)(renumbered) from None
    return Features.concatenate(parts, featurizer.n_features, gradients, stress,
                                featurizer._feature_channels() if gradients else None,
                                featurizer.n_channels)


def _renumbered(message, first):
    """``message`` with its first ``structure K`` counted from input ``first``."""
    import re

    return re.sub(r"\bstructure (\d+)\b", lambda m: f"structure {int(m[1]) + first}", message,
                  count=1)


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


def row_counts(layout, result):
    """On the worker holding ``result``: its rows per array and its ``atom_offsets``."""
    return layout.row_counts(result), result.atom_offsets


def write_rows(layout, result, starts, part="all", after=None):
    """On the worker holding ``result``: write its rows (``part``, see
    :meth:`~rstref.features.worker_writes.StoreLayout.write`) at ``starts`` (``after``: the
    previous batch's edge write, a dependency that keeps those writes in input order)."""
    return layout.write(result, starts, part)


class _Batch:
    """One batch in flight: its structures, its futures, then its reservation."""

    def __init__(self, structures, result, counts):
        self.structures, self.result, self.counts = structures, result, counts
        self.write = self.interior = self.written = None

    def write_done(self):
        return self.write.done() and self.interior.done()


def distributed_batches(client, featurizer, structures, gradients=False, stress=False,
                        batch_atoms=4096, max_memory=None, progress=None, store=None,
                        total_atoms=None):
    """Compute ``structures`` on the workers of ``client`` and have them write into ``store``.

    Yields, in input order, a :class:`~rstref.features.worker_writes.WrittenBatch` per
    batch once its rows are written (commit it with ``store.commit_written``), or, for a
    batch holding a structure over ``max_memory``, the :class:`Features` and
    :class:`~rstref.features.featurizer.StructurePieces` of that batch computed on the
    client (``store.append`` / ``store.append_pieces``); see the module docstring.

    Parameters
    ----------
    client : distributed.Client
    featurizer : rstref.Featurizer
    structures : iterable of ase.Atoms
    gradients, stress : bool
    batch_atoms : int
        Atoms per batch sent to a worker.
    max_memory : int or str, optional
        Memory budget on the workers (:func:`rstref.features.memory.memory_budget`).
    progress : bool, optional
        Progress on stderr (:class:`~rstref.features.progress.Progress`).
    store : rstref.features.storage.FeatureStore
        The store the workers write into (its path must be reachable from them).
    total_atoms : int, optional
        Atoms of all ``structures`` (for the progress; counted when they are a sequence).
    """
    from rstref._checks import check_bool, check_int
    from rstref.features.progress import Progress, progress_enabled

    if store is None:
        raise TypeError("distributed_batches: store is required (the workers write into it)")
    batch_atoms = check_int(batch_atoms, "batch_atoms", 1)
    gradients, stress = check_bool(gradients, "gradients"), check_bool(stress, "stress")
    total = len(structures) if hasattr(structures, "__len__") else None
    if total_atoms is None and total is not None and hasattr(structures, "__getitem__"):
        total_atoms = sum(len(atoms) for atoms in structures)
    bar = Progress(total, progress_enabled(progress, total), total_atoms=total_atoms)
    pipeline = _Pipeline(client, featurizer, store, gradients, stress, max_memory)
    try:
        for item in pipeline.run(_batches_of(structures, batch_atoms)):
            bar.update(item.n_structures, atoms=item.n_atoms)
            yield item
            del item
    finally:
        pipeline.close()
        bar.close()


class _Pipeline:
    """The futures of :func:`distributed_batches`: computing, then writing, in order."""

    def __init__(self, client, featurizer, store, gradients, stress, max_memory):
        self.client, self.featurizer, self.store = client, featurizer, store
        self.gradients, self.stress, self.max_memory = gradients, stress, max_memory
        self.layout = store.layout()
        self.computing, self.writing, self.last_write = deque(), deque(), None
        self.submitted = 0  # input structures sent to the workers
        warm_workers(client, featurizer, gradients, stress)
        self.remote = client.scatter(featurizer, broadcast=True)
        self.window = 2 * max(1, len(client.scheduler_info()["workers"]))

    def submit(self, structures):
        result = self.client.submit(compute_batch, self.remote, structures, self.gradients,
                                    self.stress, self.max_memory, self.submitted, pure=False)
        self.submitted += len(structures)
        counts = self.client.submit(row_counts, self.layout, result, pure=False, priority=1)
        self.computing.append(_Batch(structures, result, counts))

    def run(self, batches):
        """Yield the batches' results in order (see :func:`distributed_batches`)."""
        batches = iter(batches)
        more = True
        while more or self.computing or self.writing:
            while more and len(self.computing) + len(self.writing) < self.window:
                batch = next(batches, None)
                if batch is None:
                    more = False
                else:
                    self.submit(batch)
            if self.writing and self.writing[0].write_done():
                yield self.finished(self.writing.popleft())
            elif self.computing and self.computing[0].counts.done():
                yield from self.start_write(self.computing.popleft())
            else:
                self.wait_any()

    def wait_any(self):
        from distributed import wait

        futures = [f for b in list(self.writing)[:1] for f in (b.write, b.interior)]
        futures += [b.counts for b in list(self.computing)[:1]]
        # a future already done would return at once: wait for the others (no busy loop)
        wait([f for f in futures if not f.done()] or futures, return_when="FIRST_COMPLETED")

    def start_write(self, batch):
        """Reserve the rows of the batch at the head and submit its write (or, when it
        failed, yield the batches before it and redo it here or raise)."""
        from rstref.features.memory import MemoryBudgetError

        try:
            rows, offsets = batch.counts.result()
        except MemoryBudgetError:
            yield from self.drain()
            self.store.release()
            batch.result.cancel()
            yield from self.featurizer._iter_units(batch.structures, self.gradients, self.stress,
                                                   10**15, False, self.max_memory, split=True)
            return
        except BaseException:
            yield from self.drain()
            raise
        from rstref.features.worker_writes import WrittenBatch

        starts = self.store.reserve(rows)
        batch.written = WrittenBatch(starts, rows, offsets)
        batch.interior = self.client.submit(write_rows, self.layout, batch.result, starts,
                                            "interior", pure=False, priority=1)
        batch.write = self.client.submit(write_rows, self.layout, batch.result, starts, "edges",
                                         self.last_write, pure=False, priority=1)
        self.last_write = batch.write
        self.writing.append(batch)

    def finished(self, batch):
        batch.interior.result()  # raise the worker's error, if any
        batch.write.result()
        if self.last_write is batch.write:
            self.last_write = None
        batch.result = batch.counts = None  # released on the worker
        return batch.written

    def drain(self):
        """Yield the batches being written, in order, once written."""
        while self.writing:
            batch = self.writing[0]
            batch.interior.result()
            batch.write.result()
            self.writing.popleft()
            yield self.finished(batch)

    def close(self):
        """Cancel the computations; wait for the writes started (their rows stay
        uncommitted) so that none lands after this run; forget their reservations."""
        for batch in self.computing:
            batch.counts.cancel()
            batch.result.cancel()
        for batch in self.writing:
            for future in (batch.interior, batch.write):
                try:
                    future.result(timeout=300)
                except BaseException:  # the run is being abandoned
                    pass
        self.computing.clear()
        self.writing.clear()
        self.last_write = None
        self.store.release()
