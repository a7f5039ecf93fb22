"""Rows of a feature store written by the worker that computed them (Dask).

The client of a distributed run (:mod:`rstref.features.distributed`) never receives a
batch's arrays.  For each batch, in input order, it

1. learns the batch's row counts from the worker that holds it (:meth:`StoreLayout.row_counts`,
   a few integers);
2. reserves the rows in the store (:meth:`FeatureStore.reserve <rstref.features.storage.FeatureStore.reserve>`):
   the next free rows of each kind after the batches reserved before it, the arrays grown
   on the client, which alone writes the store's metadata;
3. has that worker write the rows there (:meth:`StoreLayout.write`);
4. once that write is done, commits the batch
   (:meth:`FeatureStore.commit_written <rstref.features.storage.FeatureStore.commit_written>`):
   it writes the small per-structure rows (``atom_offsets`` and the caller's extra
   arrays) and then the store's ``committed`` counts, as a single-process run does.

A killed run therefore leaves exactly the committed batches (rows a worker wrote past the
counts are ignored, and cut off when the store is reopened), and rerunning resumes.

Two writes into the same Zarr chunk at once would lose one of them (a chunk is read,
modified and replaced as a whole), and consecutive batches share the chunk at their
boundary.  A worker therefore writes a batch in two parts (:meth:`StoreLayout.write`):
the whole chunks inside the batch's rows at once, in parallel with the other batches (no
other batch touches them), and the rows in the chunks at its two ends **serialised in input
order** (each such write waits for the previous batch's), a few chunks per array at most.  A chunk file is replaced
atomically (Zarr's local store writes a temporary file and renames it), so a write killed
midway leaves the chunk as it was.

The rows a worker writes are those :meth:`FeatureStore.append` would write for the same
batch: both take them from :func:`rstref.features.store_rows.atom_rows`, so every per-atom and
per-gradient array the store declares is covered (row starts of the flat gradient arrays
are shifted by the batch's reserved first entry, as atom indices by its first atom).
"""

from dataclasses import dataclass

import numpy as np

from rstref.features.store_rows import kind_counts


@dataclass
class WrittenBatch:
    """A batch whose rows a worker wrote into the store: what the client learns of it.

    Attributes
    ----------
    starts : dict
        ``kind -> first row`` reserved for it.
    rows : dict
        ``array name -> rows`` written.
    atom_offsets : (n_structures + 1,) int64
        The batch's own ``atom_offsets`` (from 0).
    """

    starts: dict
    rows: dict
    atom_offsets: np.ndarray

    @property
    def n_structures(self):
        return int(len(self.atom_offsets) - 1)

    @property
    def n_atoms(self):
        return int(self.atom_offsets[-1])


@dataclass
class StoreLayout:
    """What a worker needs to write a batch into a store: its path and declared arrays
    (``name -> (dtype, trailing shape, row kind)``) and which derivatives it holds."""

    path: str
    declared: dict
    gradients: bool
    stress: bool

    def batch_rows(self, result, starts):
        """``name -> rows`` that :meth:`FeatureStore.append` writes for ``result`` (a
        :class:`~rstref.features.Features`) placed at ``starts`` (``kind -> first row``:
        atom indices and gradient row starts shifted)."""
        from rstref.features.store_rows import atom_rows

        return {name: np.asarray(data)
                for name, data in atom_rows(result, starts, self.gradients, self.stress).items()}

    def row_counts(self, result):
        """``name -> number of rows`` of :meth:`batch_rows` (small: sent to the client)."""
        return {name: int(data.shape[0]) for name, data in self.batch_rows(result, {}).items()}

    def write(self, result, starts, part="all"):
        """Write ``result``'s rows at the reserved ``starts`` (``kind -> first row``);
        returns ``name -> rows`` of the batch.

        ``part``: ``'all'``; ``'interior'``, only the Zarr chunks that lie wholly inside
        the batch's rows (no other batch touches them: written in parallel with other
        batches); ``'edges'``, the rest, in the chunks shared with the batches before and
        after it (written one batch at a time, in input order).
        """
        from rstref.features.store_rows import _require_zarr, write_region

        group = _require_zarr().open_group(self.path, mode="r+")
        rows = self.batch_rows(result, starts)
        for name, data in rows.items():
            array, start = group[name], starts[self.declared[name][2]]
            interior, edges = chunk_split(start, data.shape[0], array.chunks[0])
            pieces = {"all": [(0, data.shape[0])], "interior": [interior], "edges": edges}[part]
            for lo, hi in pieces:
                if hi > lo:
                    write_region(array, start + lo, data[lo:hi])
        return {name: int(data.shape[0]) for name, data in rows.items()}


def chunk_split(start, n, chunk):
    """Rows ``0..n`` of a batch written at row ``start`` of an array chunked by ``chunk``:
    ``(interior, edges)``, the (lo, hi) range of the whole chunks inside the batch and the
    list of the ranges before and after it (relative to the batch; empty ranges kept)."""
    first = min(-(-start // chunk) * chunk - start, n)
    last = max((start + n) // chunk * chunk - start, first)
    return (first, last), [(0, first), (last, n)]


def reserve(store, rows):
    """:meth:`FeatureStore.reserve`: the first rows (``kind -> row``) of the next batch.

    ``rows``: ``name -> rows`` of the batch (:meth:`StoreLayout.row_counts`).  Batches are
    reserved in input order after the last one reserved (or the last committed row, after
    :meth:`FeatureStore.release`); the arrays of those kinds are grown geometrically, so
    the worker can write at once.  Nothing is committed.
    """
    store.flush()  # rows buffered by the client go first
    if getattr(store, "_reserved", None) is None:
        store._reserved = dict(store._staged)
    counts = kind_counts(store.declared, rows)
    starts = {kind: int(store._reserved.get(kind, 0)) for kind in counts}
    for kind, n in counts.items():
        store._reserved[kind] = starts[kind] + n
    for name, (_, trailing, kind) in store.declared.items():
        if kind in counts:
            array = store.group[name]
            end = store._reserved[kind]
            if array.shape[0] < end:
                array.resize((max(end, 2 * array.shape[0]), *trailing))
    return starts


def commit_written(store, written, n_inputs=None, extra=None):
    """:meth:`FeatureStore.commit_written`: commit a :class:`WrittenBatch` (reserved by
    :func:`reserve`, rows written by a worker) in reservation order.

    Writes its ``atom_offsets`` and ``extra`` rows (the caller's per-structure and per-atom
    arrays), then the counts: the commit.  ``n_inputs``: input structures it consumed
    (default: its structures).
    """
    store.flush()
    for kind, start in written.starts.items():
        if int(store._staged.get(kind, 0)) != start:
            raise ValueError(f"commit_written: the batch was reserved at {kind} row {start}, "
                             f"but {store._staged.get(kind, 0)} rows are committed; batches "
                             "must be committed in the order they were reserved")
    base = written.starts.get("atoms", store._staged["atoms"])
    store._write_structures(np.asarray(written.atom_offsets[1:], dtype=np.int64) + base, extra)
    for kind, n in kind_counts(store.declared, written.rows).items():
        store._staged[kind] = store._staged.get(kind, 0) + n
    for name, n in written.rows.items():
        store._written[name] += n
    store._stage(written.n_structures, n_inputs)
    store.flush()
