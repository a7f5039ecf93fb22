"""Chunked, appendable, resumable feature stores (Zarr v3); read them with
:func:`rstref.features.open_features` (:mod:`rstref.features.reading`).

Layout of a store (a Zarr v3 group; every array chunked along its first axis)::

    features            (n_atoms, F) float64
    atomic_numbers      (n_atoms,) int64
    atom_offsets        (n_structures + 1,) int64
    gradient_centers,   (G,) int64, global atom indices   (gradients only: the sparse
    gradient_neighbors                                     pair rows, centre != neighbour,
    gradient_channels   (G,) int64                         docs/gradients.md)
    gradient_starts     (G,) int64                         start of each row in
    gradient_values     (E,) float64                       gradient_values (a (3, k) block)
    self_gradient_starts (n_atoms,) int64                  the centres' own rows, the same
    self_gradients      (E_s,) float64                     way
    environment_channels (n_atoms, n_channels) bool        channels present around each centre
    feature_channels    (F, k) int64                       channels of each feature
    strain_derivatives  (n_atoms, 3, 3, F) float64         (stress only)
    feature_labels      (F, k) int64
    ... and any per-atom / per-structure arrays the writer declares (the command line adds
    positions, cells, pbc, structure_file, structure_frame)

Group attributes: ``hyperparameters`` (:meth:`rstref.Featurizer.hyperparameters`),
``species``, ``feature_label_names``, ``rstref_version``, ``provenance`` (where the
structures came from), ``gradients``, ``stress``, ``arrays`` (name -> row kind) and
``committed`` (rows of each kind and input structures consumed).

Commit protocol: batches are buffered and written together (at least every
``COMMIT_SECONDS`` or ``FLUSH_BYTES``; a structure done in pieces at once), growing the
arrays geometrically; only then is ``committed`` rewritten (one atomic file replacement of the group's ``zarr.json`` in
Zarr's local store).  Readers use the ``committed`` counts, so a run killed at any moment
leaves a valid store of the batches it completed; rows past the counts are ignored, and a
writer that reopens the store cuts them off and appends after the last committed
structure.  Reopening with other hyperparameters, derivatives or provenance is refused.

Format ``rstref-features/3`` (this layout); :func:`open_features` also reads stores and
``.npz`` files of format 2 (rows over every feature of the neighbour's channel:
``gradient_values`` (G, 3, F_s) with a ``gradient_feature_index`` table, ``self_gradients``
(n_atoms, 3, F)) and of format 1 (dense (G, 3, F) rows with the ``(i, i)`` row of every
centre), returned in the flat layout with every channel marked present.
"""

import os
import time

import numpy as np

from rstref.features.reading import _STORED_FIELDS, StoredFeatures, open_features  # noqa: F401
from rstref.features.results import Features
from rstref.features.store_rows import (  # noqa: F401
    FORMAT,
    READABLE_FORMATS,
    WRITE_BYTES,
    _length,
    _require_zarr,
    atom_rows,
    gradient_declarations,
    kind_counts,
    write_region,
)

#: target bytes of one chunk
CHUNK_BYTES = 8 * 2**20
#: buffered batches are committed when they hold this many bytes ...
FLUSH_BYTES = 64 * 2**20
#: ... or when this many seconds have passed since the last commit
COMMIT_SECONDS = 1.0
#: row kinds and the count that sets an array's length
KINDS = ("atoms", "structures", "gradients", "gradient_entries", "self_entries", "offsets")


def _chunk_rows(trailing, itemsize):
    return max(1, CHUNK_BYTES // (itemsize * max(int(np.prod(trailing, dtype=np.int64)), 1)))


class FeatureStore:
    """Writer of a Zarr feature store: create or reopen, append batches, finish.

    Parameters
    ----------
    path : str
        Directory of the store (``.zarr``).
    featurizer : rstref.Featurizer
    gradients, stress : bool
    provenance : dict, optional
        JSON-serialisable description of the inputs; part of what must match on reopening.
    extra : dict, optional
        ``name -> (dtype, trailing shape, kind)`` of further arrays (kind 'atoms' or
        'structures') that every :meth:`append` provides.
    dtype : {'float64', 'float32'}, optional
        Of the feature and derivative arrays (rows are cast when written).

    Attributes
    ----------
    committed : dict
        ``atoms``, ``structures``, ``gradients`` (pair rows), ``gradient_entries`` and
        ``self_entries`` (lengths of the flat gradient arrays), ``inputs`` (input structures
        consumed, skipped ones included), ``batches``.
    complete : bool
        The run that wrote it reached the end of its inputs (:meth:`finish`).
    """

    def __init__(self, path, featurizer, gradients=False, stress=False, provenance=None,
                 extra=None, dtype=None):
        zarr = _require_zarr()
        import rstref
        from rstref.features.results import output_dtype

        real = output_dtype(dtype)

        self.path = os.fspath(path)
        self.gradients, self.stress = bool(gradients), bool(stress)
        F = featurizer.n_features
        declared = {"features": (real, (F,), "atoms"),
                    "atomic_numbers": ("int64", (), "atoms"),
                    "atom_offsets": ("int64", (), "offsets")}
        if self.gradients:
            table = featurizer.feature_channels()
            declared.update(gradient_declarations(featurizer, real))
        if self.stress:
            declared["strain_derivatives"] = (real, (3, 3, F), "atoms")
        for name, (dtype, trailing, kind) in (extra or {}).items():
            declared[name] = (np.dtype(dtype).name, tuple(trailing), kind)
        self.declared = declared
        names, labels = featurizer.feature_labels()
        identity = {
            "format": FORMAT,
            "hyperparameters": featurizer.hyperparameters(),
            "gradients": self.gradients,
            "stress": self.stress,
            "provenance": provenance or {},
            "arrays": {k: [v[0], list(v[1]), v[2]] for k, v in declared.items()},
        }
        self._identity = identity
        if os.path.exists(os.path.join(self.path, "zarr.json")):
            self.group = zarr.open_group(self.path, mode="r+")
            self._check_same(identity)
            self.committed = dict(self.group.attrs["committed"])
            self.complete = bool(self.group.attrs.get("complete", False))
            self._trim()
        elif os.path.exists(self.path) and os.listdir(self.path):
            raise ValueError(f"{self.path!r} exists and is not a Zarr store; choose another path")
        else:
            self.group = zarr.open_group(self.path, mode="w", zarr_format=3)
            for name, (dtype, trailing, kind) in declared.items():
                self.group.create_array(name, shape=(1 if kind == "offsets" else 0, *trailing),
                                        dtype=dtype, fill_value=0,
                                        chunks=(_chunk_rows(trailing, np.dtype(dtype).itemsize),
                                                *trailing))
            self.group["atom_offsets"][0] = 0
            self.group.create_array("feature_labels", data=np.ascontiguousarray(labels))
            if self.gradients:
                self.group.create_array("feature_channels", data=table)
            self.committed = {"atoms": 0, "structures": 0, "gradients": 0,
                              "gradient_entries": 0, "self_entries": 0, "inputs": 0,
                              "batches": 0}
            self.complete = False
            self._trim()
            self.group.attrs.update({**identity, "species": identity["hyperparameters"]["species"],
                                     "feature_label_names": list(names),
                                     "rstref_version": rstref.__version__,
                                     "complete": False, "committed": self.committed})

    def _check_same(self, identity):
        attrs = self.group.attrs
        for key, value in identity.items():
            stored = _plain(attrs.get(key))
            now = _plain(value)
            if stored != now:
                if isinstance(stored, dict) and isinstance(now, dict):
                    keys = sorted(k for k in set(stored) | set(now) if stored.get(k) != now.get(k))
                    what = ", ".join(f"{k}: {stored.get(k)!r} there, {now.get(k)!r} now"
                                     for k in keys)
                else:
                    what = f"{stored!r} there, {now!r} now"
                raise ValueError(f"{self.path!r} was written with different {key} ({what}); "
                                 "it cannot be resumed: remove it or write to another path")

    def _trim(self):
        """Cut every array to the committed counts (rows of an unfinished batch)."""
        self._written, self._buffer, self._buffered_bytes = {}, {}, 0
        self._staged, self._last_commit = dict(self.committed), time.monotonic()
        for name, (_, trailing, kind) in self.declared.items():
            array = self.group[name]
            n = _length(kind, self.committed)
            if array.shape[0] != n:
                array.resize((n, *trailing))
            self._written[name] = n

    @property
    def n_inputs(self):
        """Input structures consumed by the committed batches (where a resumed run starts)."""
        return int(self.committed["inputs"])

    def append(self, result, n_inputs=None, extra=None):
        """Add one batch (a :class:`rstref.features.Features` with its own atom numbering).

        ``n_inputs``: input structures it consumed (default: its structures); ``extra``: the
        declared extra arrays' rows of this batch.  Batches are committed together when
        ``FLUSH_BYTES`` are buffered or ``COMMIT_SECONDS`` have passed since the last
        commit, and by :meth:`flush` / :meth:`finish`.
        """
        base = self._staged["atoms"]
        self._write_atoms(result, base)
        self._write_structures(result.atom_offsets[1:] + base, extra)
        self._stage(result.n_structures, n_inputs)

    def append_pieces(self, pieces, n_inputs=1, extra=None):
        """Write one structure given as consecutive pieces of its centre atoms (each a
        :class:`Features` whose gradient indices number the structure's atoms), then commit
        it.  A run killed before the commit leaves the structure to be redone."""
        self.flush()
        base, n_atoms = self._staged["atoms"], 0
        for piece in _released(pieces):
            self._write_atoms(piece, base, direct=True)
            n_atoms += piece.n_atoms
            del piece  # before the next piece is computed
        self._write_structures(np.array([base + n_atoms], dtype=np.int64), extra)
        self._stage(1, n_inputs)
        self.flush()

    def _write(self, name, data, direct=False):
        """Buffer rows (or, ``direct``, write them now, a few chunks at a time)."""
        data = np.asarray(data)
        if data.dtype != self.declared[name][0]:  # float32 stores: cast when written
            data = data.astype(self.declared[name][0])
        if not direct:
            self._buffer.setdefault(name, []).append(data)
            self._buffered_bytes += data.nbytes
            return
        array, trailing = self.group[name], self.declared[name][1]
        start = self._written[name]
        end = start + data.shape[0]
        if array.shape[0] < end:  # grow geometrically: few metadata rewrites
            array.resize((max(end, 2 * array.shape[0]), *trailing))
        write_region(array, start, data)
        self._written[name] = end

    def _write_atoms(self, result, base, direct=False):
        """Rows per atom, per gradient row and per gradient entry after the staged ones;
        gradient atom indices shifted by ``base``."""
        rows = atom_rows(result, {**self._staged, "atoms": base}, self.gradients, self.stress)
        for name, data in rows.items():
            self._write(name, data, direct)
        counts = kind_counts(self.declared, {k: np.asarray(v).shape[0] for k, v in rows.items()})
        for kind in counts.keys() - {"atoms"}:
            self._staged[kind] = self._staged.get(kind, 0) + counts[kind]
        self._staged["atoms"] += result.n_atoms

    def _write_structures(self, offsets, extra):
        self._write("atom_offsets", offsets)
        extra = extra or {}
        missing = {k for k in self.declared if k not in _STORED_FIELDS} - set(extra)
        if missing:
            raise ValueError(f"append: rows missing for {sorted(missing)}")
        for name, value in extra.items():
            self._write(name, value)

    def _stage(self, n_structures, n_inputs):
        self._staged["structures"] += int(n_structures)
        self._staged["inputs"] += int(n_structures) if n_inputs is None else int(n_inputs)
        self._staged["batches"] += 1
        if (self._buffered_bytes >= FLUSH_BYTES
                or time.monotonic() - self._last_commit >= COMMIT_SECONDS):
            self.flush()

    def flush(self):
        """Write the buffered batches and commit them (the counts are written last)."""
        for name, parts in self._buffer.items():
            self._write(name, np.concatenate(parts), direct=True)
        self._buffer, self._buffered_bytes = {}, 0
        if self._staged != self.committed:
            self.committed = dict(self._staged)
            self.group.attrs["committed"] = self.committed  # last: the commit
        self._last_commit = time.monotonic()

    def skipped(self, n_inputs):
        """Count ``n_inputs`` input structures consumed without rows (skipped as bad)."""
        self._staged["inputs"] += int(n_inputs)
        self.flush()

    def set_attributes(self, **values):
        """Further JSON attributes (e.g. the failures of a command-line run)."""
        self.group.attrs.update(values)

    def finish(self):
        """Commit what is buffered, cut the arrays to their lengths, mark the store complete
        (the run reached the end of its inputs)."""
        self.flush()
        self._trim()
        self.complete = True
        self.group.attrs["complete"] = True

    # rows written by Dask workers (rstref.features.worker_writes)

    def layout(self):
        """The picklable layout a worker writes a batch's rows with
        (:class:`rstref.features.worker_writes.StoreLayout`)."""
        from rstref.features.worker_writes import StoreLayout

        return StoreLayout(self.path, dict(self.declared), self.gradients, self.stress)

    def reserve(self, rows):
        """Reserve the next rows for a batch a worker writes (``name -> rows``); returns
        ``kind -> first row`` (:func:`rstref.features.worker_writes.reserve`)."""
        from rstref.features.worker_writes import reserve

        return reserve(self, rows)

    def commit_written(self, written, n_inputs=None, extra=None):
        """Commit a batch a worker wrote, in reservation order
        (:func:`rstref.features.worker_writes.commit_written`)."""
        from rstref.features.worker_writes import commit_written

        commit_written(self, written, n_inputs, extra)

    def release(self):
        """Forget the reservations not committed (their rows are ignored and reused)."""
        self._reserved = None


def _plain(value):
    """JSON-like value with tuples as lists (what Zarr's attributes give back)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def compute_to(featurizer, path, structures, gradients=False, stress=False, client=None,
               batch_atoms=None, max_memory=None, progress=None, provenance=None, dtype=None):
    """:meth:`rstref.Featurizer.compute_to` (see there)."""
    import itertools

    from rstref.features.defaults import DEFAULT_BATCH_ATOMS
    from rstref.features.memory import writing_budget

    batch_atoms = DEFAULT_BATCH_ATOMS if batch_atoms is None else batch_atoms
    max_memory = writing_budget(max_memory)
    store = FeatureStore(path, featurizer, gradients, stress, provenance, dtype=dtype)
    skip = store.n_inputs
    if hasattr(structures, "__len__") and hasattr(structures, "__getitem__"):
        rest = structures[skip:]
    else:
        rest = itertools.islice(structures, skip, None)
    if client is None:
        batches = featurizer._iter_units(rest, gradients, stress, batch_atoms, progress,
                                         max_memory, split=True)
    else:
        from rstref.features.distributed import distributed_batches

        batches = distributed_batches(client, featurizer, rest, gradients, stress, batch_atoms,
                                      max_memory, progress, store=store)
    try:
        for result in _released(batches):
            if isinstance(result, Features):
                store.append(result)
            elif hasattr(result, "starts"):  # rows a Dask worker wrote (WrittenBatch)
                store.commit_written(result)
            else:  # one structure over the budget, in pieces of its centre atoms
                store.append_pieces(result)
            del result  # before the next batch is computed: one batch in memory at a time
    finally:  # also on an error or Ctrl-C: the completed batches are committed
        store.flush()
    store.finish()
    return store


def _released(iterable):
    """``iterable``'s items, with no reference kept by the loop while the next is made.

    ``for x in it`` keeps the previous ``x`` alive while ``next(it)`` runs, which doubles
    the peak memory of a stream of batches; a loop body that ends with ``del x`` and this
    generator (which holds nothing between items) keeps one.
    """
    iterator = iter(iterable)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        yield item
        del item
