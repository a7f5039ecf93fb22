"""``rstref featurize -o OUT.zarr``: the run into a resumable Zarr feature store.

The store (:mod:`rstref.features.storage`) gets, besides the features and derivatives, the
per-atom ``positions`` and the per-structure ``cells``, ``pbc``, ``structure_file`` and
``structure_frame`` of the ``.npz`` output, and as attributes the input files, the frame
selection and format (its provenance: what must match to resume) and the ``failures``.
Every batch is committed when written; a run stopped in any way (Ctrl-C, SIGTERM,
SIGKILL, a crash) leaves the store of its committed batches, and the same command run
again reads past the input structures already consumed and goes on from there.  A store
written with other hyper-parameters, derivatives or inputs is refused (exit status 2).
"""

from contextlib import contextmanager

import numpy as np

#: the extra arrays of a command-line store: name -> (dtype, trailing shape, row kind)
EXTRA = {"positions": ("float64", (3,), "atoms"), "cells": ("float64", (3, 3), "structures"),
         "pbc": ("bool", (3,), "structures"), "structure_file": ("int64", (), "structures"),
         "structure_frame": ("int64", (), "structures")}


def provenance(args):
    """What identifies the inputs of a run (part of what must match to resume)."""
    return {"input_files": list(args.inputs), "index": args.index, "format": args.format}


def open_store(path, featurizer, args):
    """The store of this run (created, or reopened to resume); ValueError if it differs."""
    from rstref.features.storage import FeatureStore

    return FeatureStore(path, featurizer, args.gradients, args.stress, provenance(args), EXTRA,
                        dtype=getattr(args, "dtype", "float64"))


def extra_rows(entries):
    """The extra arrays' rows of the structures ``entries`` ((file, frame, atoms) each)."""
    structures = [atoms for _, _, atoms in entries]
    return {
        "positions": np.concatenate([a.get_positions() for a in structures]).reshape(-1, 3),
        "cells": np.array([np.asarray(a.get_cell()) for a in structures]).reshape(-1, 3, 3),
        "pbc": np.array([a.get_pbc() for a in structures], dtype=bool).reshape(-1, 3),
        "structure_file": np.array([f for f, _, _ in entries], dtype=np.int64),
        "structure_frame": np.array([k for _, k, _ in entries], dtype=np.int64),
    }


class StoreWriter:
    """What the command needs of its output, over a :class:`FeatureStore` opened once the
    featurizer is known: the path, whether something is committed, a stop message, and a
    clean-up (nothing to remove: the store stays)."""

    is_store = True

    def __init__(self, path):
        self.path = path
        self.store = None
        self.resumed_from = 0

    def open(self, featurizer, args):
        self.store = open_store(self.path, featurizer, args)
        self.resumed_from = self.store.n_inputs

    @property
    def committed(self):
        return self.store is not None and self.store.committed["batches"] > 0

    def stopped_message(self, name):
        if self.store is None:
            return f"{name}: nothing written"
        return (f"{name}: {self.path} holds the {self.store.committed['structures']} structures "
                f"of its committed batches; run the same command again to resume")

    def cleanup(self):
        """Commit the batches done (the store stays, to be resumed)."""
        if self.store is not None:
            self.store.flush()


@contextmanager
def dask_client(args):
    """A ``dask.distributed.Client``: None (one process), a local cluster of ``--workers``
    processes, or the cluster at ``--scheduler``."""
    if args.workers is None and args.scheduler is None:
        yield None
        return
    from rstref.features.distributed import connect, local_client

    if args.scheduler is not None:
        with connect(args.scheduler) as client:
            yield client
        return
    with local_client(args.workers) as client:
        yield client


def skip_done(frames, n):
    """Consume the first ``n`` frames (those a resumed store already holds)."""
    for _ in range(n):
        try:
            next(frames)
        except StopIteration:
            return
        frames.take(1)


def append(store, entries, result):
    """Append one batch (or one structure in centre pieces) and commit it."""
    from rstref.features import Features

    if isinstance(result, Features):
        store.append(result, n_inputs=len(entries), extra=extra_rows(entries))
    elif hasattr(result, "starts"):  # rows a Dask worker wrote (WrittenBatch)
        store.commit_written(result, n_inputs=len(entries), extra=extra_rows(entries))
    else:
        store.append_pieces(result, n_inputs=1, extra=extra_rows(entries))


@contextmanager
def progress(args, store, totals=None):
    """The run's progress bar: structures and atoms (with their totals when ``totals`` has
    them), counted from what ``store`` already holds; on when ``--progress`` or stderr is
    a terminal."""
    from rstref.features.progress import Progress, progress_enabled

    totals = totals or {}
    total = totals.get("structures")
    bar = Progress(total, progress_enabled(args.progress, total),
                   total_atoms=totals.get("atoms"))
    done = store.committed
    if done["inputs"]:
        bar.update(done["inputs"], atoms=done["atoms"])
    try:
        yield bar
    finally:
        bar.close()
