"""The rows a batch adds to a feature store, shared by the writer of the store
(:mod:`rstref.features.storage`) and the Dask workers that write their own batches
(:mod:`rstref.features.worker_writes`)."""

import numpy as np

FORMAT = "rstref-features/3"
#: formats :func:`open_features` reads (1: dense gradient rows, 2: rows over every feature
#: of the neighbour's channel)
READABLE_FORMATS = ("rstref-features/1", "rstref-features/2", FORMAT)


def _length(kind, committed):
    if kind == "offsets":
        return committed["structures"] + 1
    return committed.get(kind, 0)


#: largest block of rows handed to Zarr in one write (Zarr holds copies of the block while it
#: encodes it: part of :data:`rstref.features.memory.WRITER_RESERVE_BYTES`)
WRITE_BYTES = 16 * 2**20


def _require_zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError("writing or reading .zarr feature stores needs zarr>=3 "
                          "(pip install 'rstref[dask]' or pip install 'zarr>=3')") from None
    if int(zarr.__version__.split(".")[0]) < 3:
        raise ImportError(f"rstref needs zarr>=3 for .zarr stores, found {zarr.__version__}")
    return zarr


def gradient_declarations(featurizer, real):
    """``name -> (dtype, trailing shape, row kind)`` of the gradient arrays of a store or a
    command-line ``.npz`` (docs/gradients.md): the flat rows are their own row kinds,
    ``gradient_entries`` and ``self_entries``, and each row's start is stored as a global
    position in its flat array."""
    return {"gradient_centers": ("int64", (), "gradients"),
            "gradient_neighbors": ("int64", (), "gradients"),
            "gradient_channels": ("int64", (), "gradients"),
            "gradient_starts": ("int64", (), "gradients"),
            "gradient_values": (real, (), "gradient_entries"),
            "self_gradient_starts": ("int64", (), "atoms"),
            "self_gradients": (real, (), "self_entries"),
            "environment_channels": ("bool", (featurizer.n_channels,), "atoms")}


def atom_rows(result, bases, gradients, stress):
    """``name -> rows`` of a :class:`~rstref.features.Features` per atom, per gradient row
    and per gradient entry, in the order they are written.

    ``bases``: ``kind -> first row`` of the batch in the file: gradient atom indices are
    shifted by ``bases['atoms']``, row starts by ``bases['gradient_entries']`` and
    ``bases['self_entries']``.
    """
    base = int(bases.get("atoms", 0))
    rows = {"features": result.features, "atomic_numbers": result.atomic_numbers}
    if gradients:
        rows["gradient_centers"] = result.gradient_centers + base
        rows["gradient_neighbors"] = result.gradient_neighbors + base
        rows["gradient_channels"] = result.gradient_channels
        rows["gradient_starts"] = result.gradient_offsets[:-1] + int(bases.get("gradient_entries", 0))
        rows["gradient_values"] = result.gradient_values
        rows["self_gradient_starts"] = (result.self_gradient_offsets[:-1]
                                        + int(bases.get("self_entries", 0)))
        rows["self_gradients"] = result.self_gradients
        rows["environment_channels"] = result.environment_channels
    if stress:
        rows["strain_derivatives"] = result.strain_derivatives
    return rows


def stored_offsets(starts, n_entries):
    """Row offsets (rows + 1,) from the stored starts and the committed entries."""
    return np.append(np.asarray(starts, dtype=np.int64), np.int64(n_entries))


def write_region(array, start, data):
    """``array[start:start + len(data)] = data``, a few chunks (``WRITE_BYTES``) at a time."""
    step = array.chunks[0] * max(1, WRITE_BYTES // max(array.chunks[0] * data[:1].nbytes, 1))
    for k in range(0, data.shape[0], step):
        array[start + k:start + min(k + step, data.shape[0])] = data[k:k + step]


def kind_counts(declared, rows):
    """``kind -> rows`` of a batch from its ``name -> rows``; arrays of one kind must agree."""
    counts = {}
    for name, n in rows.items():
        kind = declared[name][2]
        if counts.setdefault(kind, int(n)) != int(n):
            raise ValueError(f"batch rows of kind {kind!r} disagree ({name}: {n}, "
                             f"others: {counts[kind]})")
    return counts
