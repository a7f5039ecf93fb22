"""``rstref featurize``: per-atom invariant features of structure files into one ``.npz``.

Reads every INPUT with ``ase.io.iread`` (any format ase reads; ``--index`` selects
frames, default all), featurizes the structures in batches and streams the results to
temporary files, then writes ``OUT.npz`` (plain arrays, loadable with
``numpy.load(OUT, allow_pickle=False)``):

=======================  =====================================================
features                 (n_atoms, F) float64 (float32 with --dtype float32, as every
                         derivative array), atoms of all structures in order
atom_offsets             (n_structures + 1,) int64
atomic_numbers           (n_atoms,) int64
positions                (n_atoms, 3) float64, as read
cells, pbc               (n_structures, 3, 3) float64, (n_structures, 3) bool
structure_file           (n_structures,) int64, index into ``input_files``
structure_frame          (n_structures,) int64, frame number within the selection
gradient_centers,        (G,) int64 (global atom indices), only with --gradients:
gradient_neighbors       the sparse pair rows (centre != neighbour) of
gradient_channels        docs/gradients.md; channel of each row's neighbour
gradient_starts          (G,) int64, start of each row's (3, k) block in
gradient_values          (E,) float64, the pair rows one after the other
self_gradient_starts,    (n_atoms,) int64, (E_s,) float64: the centres' own rows
self_gradients           d features[i] / d positions[i], stored the same way
environment_channels     (n_atoms, n_channels) bool, channels present around each centre
feature_channels         (F, k) int64, the channels of each feature
strain_derivatives       (n_atoms, 3, 3, F) float64, only with --stress
feature_labels           (F, k) int64; column names in feature_label_names (JSON)
hyperparameters          JSON string (Featurizer.hyperparameters())
rstref_version           string
input_files              JSON list of the INPUT paths
failures                 JSON list of {"file", "frame", "error"} (empty if none)
=======================  =====================================================

A file that cannot be read, or a structure that cannot be featurized, is reported on
stderr with the file name (and frame) and skipped; everything else is still written
(the frames of a file before a read error included), and the exit status is 1.

The arguments and the output path are checked before any work: a bad value, ``-o`` naming
an input file or a directory, or an output directory that is missing or not writable,
ends the run at once with a one-line message and exit status 2.  ``-o out`` without the
``.npz`` suffix writes ``out.npz`` (and says so).

The output is written atomically (see :mod:`rstref._commands._staging`): ``OUT.npz`` is at
every moment absent, the previous file, or one complete run's file, even with several
runs writing the same ``OUT.npz``; temporaries live in ``.rstref-featurize-*`` next to it
and are removed at the end, on Ctrl-C and on SIGTERM (those of a SIGKILLed run by the next
run).  Interruptions:

* Ctrl-C while featurizing: the structures done so far are written (a complete, valid
  file; ``failures`` ends with an entry saying where the run was interrupted); exit 130.
* Ctrl-C before the first structure is done, a second Ctrl-C, Ctrl-C during the final
  write, or SIGTERM at any time: nothing is written (an existing ``OUT.npz`` is left as
  it was), temporaries are removed; exit 130 (SIGINT) or 143 (SIGTERM).
"""

import json
import math
import os
import re
import sys

from rstref._commands._inputs import _failure, _Frames, _frames_of, _species_of_inputs
from rstref.features import DEFAULT_BATCH_ATOMS, DEFAULT_L_MAX, DEFAULT_N_MAX, DEFAULT_R_CUT

#: the choices offered on the command line (Featurizer checks them again)
SPECIES_MODES = ("channels", "values")
INVARIANTS = ("power_spectrum", "bispectrum")


def add_arguments(parser):
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="structure files (any format ase.io reads)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.npz|OUT.zarr",
                        help="output: a .npz file, or a .zarr store (chunked, committed batch by "
                             "batch; rerunning the same command resumes it)")
    parser.add_argument("--index", default=":", help="frames to read from each file (ase syntax, default ':')")
    parser.add_argument("--format", default=None, help="ase.io format (default: guessed from the file name)")
    parser.add_argument("--r-cut", type=float, default=DEFAULT_R_CUT,
                        help=f"cutoff radius in Å (default {DEFAULT_R_CUT})")
    parser.add_argument("--n-max", type=int, default=DEFAULT_N_MAX, help=f"radial functions (default {DEFAULT_N_MAX})")
    parser.add_argument("--l-max", type=int, default=DEFAULT_L_MAX, help=f"largest degree l (default {DEFAULT_L_MAX})")
    parser.add_argument("--species", default=None,
                        help="comma-separated species list, e.g. H,C,O (channels mode: fixes the "
                             "feature layout; default: all species found in the inputs, which "
                             "costs one extra reading pass)")
    parser.add_argument("--species-mode", choices=SPECIES_MODES, default="channels",
                        help="'channels' (one density per species, default) or 'values' (one "
                             "density, peak height per species)")
    parser.add_argument("--species-values", default=None,
                        help="values mode: peak heights, e.g. H=-1,C=1,O=1 (default: H -1, others +1)")
    parser.add_argument("--invariant", choices=INVARIANTS, default="power_spectrum")
    parser.add_argument("--primitive", "--radial", dest="primitive", default="smooth_cosines",
                        help="radial family: smooth_cosines (default, C^2 at r_cut), cosines, cosine_bumps")
    parser.add_argument("--envelope-power", type=int, default=None, help="envelope (r_cut - r)^p")
    parser.add_argument("--normalize", action="store_true",
                        help="kernel-normalised projection (the seed's; discontinuous at r_cut)")
    parser.add_argument("--include-center", action="store_true", help="centre atom in its own density")
    parser.add_argument("--gradients", action="store_true", help="also write pair-sparse position gradients")
    parser.add_argument("--stress", action="store_true", help="also write strain derivatives")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="of the features and derivatives written (computed in float64; "
                             "float32: relative rounding error at most 2^-24 per entry)")
    parser.add_argument("--batch-atoms", type=int, default=DEFAULT_BATCH_ATOMS,
                        help=f"atoms per batch (memory bound; default {DEFAULT_BATCH_ATOMS})")
    parser.add_argument("--max-memory", default=None, metavar="SIZE",
                        help="memory budget of a batch, e.g. 2GB (default: half the available "
                             "memory); with .zarr a larger structure is done in pieces")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, default=None, metavar="N",
                         help=".zarr only: compute the batches on N local Dask worker processes")
    cluster.add_argument("--scheduler", default=None, metavar="ADDRESS",
                         help=".zarr only: compute the batches on an existing Dask cluster, e.g. "
                              "tcp://host:8786")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="progress on stderr (default: when stderr is a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false")


#: exit statuses
OK, FAILURES, USAGE = 0, 1, 2


class _UsageError(Exception):
    """A bad argument or output path: one line on stderr, exit status 2."""


def _error(message):
    print(f"rstref featurize: {message}", file=sys.stderr)


def _parse_species(text):
    if text is None:
        return None
    species = [s.strip() for s in text.split(",") if s.strip()]
    if not species:
        raise _UsageError(f"--species: expected a comma-separated list such as H,C,O, got {text!r}")
    return species


def _parse_species_values(text):
    if text is None:
        return None
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise _UsageError(f"--species-values: expected SYMBOL=VALUE items such as H=-1,C=1, got {item!r}")
        try:
            number = float(value)
        except ValueError:
            raise _UsageError(f"--species-values: the value of {key!r} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise _UsageError(f"--species-values: the value of {key!r} must be finite, got {value!r}")
        out[key] = number
    return out


def _output_path(output, inputs):
    """The checked output path (``.npz`` added if missing) and a note when it was added."""
    if output and output.rstrip(os.sep).lower().endswith(".zarr"):
        return _store_path(output.rstrip(os.sep), inputs), None
    if not output or output.endswith(os.sep):
        raise _UsageError(f"-o {output!r}: expected a file name such as out.npz")
    path, note = output, None
    if not output.lower().endswith(".npz") and not os.path.isdir(output):
        path = output + ".npz"
        note = f"-o {output!r} has no .npz suffix: writing {path!r}"
    for candidate in {output, path}:
        if os.path.isdir(candidate):
            raise _UsageError(f"-o {candidate!r} is a directory; give a file name such as "
                              f"{os.path.join(candidate, 'out.npz')!r}")
        for name in inputs:
            if _same_file(name, candidate):
                raise _UsageError(f"-o {candidate!r} is the input file {name!r}; it would be overwritten")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise _UsageError(f"-o {path!r}: {directory!r} {what}")
    return path, note


def _store_path(path, inputs):
    """The checked path of a .zarr store (new, or one to resume)."""
    for name in inputs:
        if _same_file(name, path):
            raise _UsageError(f"-o {path!r} is the input file {name!r}; it would be overwritten")
    if os.path.exists(path) and not os.path.isdir(path):
        raise _UsageError(f"-o {path!r} exists and is not a directory (a .zarr store)")
    if os.path.isdir(path) and os.listdir(path) and not os.path.exists(os.path.join(path, "zarr.json")):
        raise _UsageError(f"-o {path!r} is a directory that is not a Zarr store")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise _UsageError(f"-o {path!r}: {directory!r} {what}")
    if not os.access(directory, os.W_OK) and not os.path.isdir(path):
        raise _UsageError(f"cannot write to {directory!r} (the directory of -o {path!r})")
    return path


def _is_store(path):
    return path.lower().endswith(".zarr")


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return os.path.abspath(a) == os.path.abspath(b)


def _featurizer(args, species, species_values):
    from rstref.features import Featurizer

    try:
        return Featurizer(r_cut=args.r_cut, n_max=args.n_max, l_max=args.l_max, species=species,
                          species_mode=args.species_mode, species_values=species_values,
                          invariant=args.invariant, primitive=args.primitive,
                          envelope_power=args.envelope_power, normalize=args.normalize,
                          include_center=args.include_center)
    except (TypeError, ValueError) as exc:
        raise _UsageError(str(exc)) from None


class _Run:
    """The featurizer, the staged output and the bookkeeping of one run."""

    def __init__(self, featurizer, writer, signals, args, inputs):

        self.featurizer, self.writer, self.signals, self.inputs = featurizer, writer, signals, inputs
        self.gradients, self.stress = args.gradients, args.stress
        self.dtype = getattr(args, "dtype", "float64")
        self.batch_atoms, self.progress = args.batch_atoms, args.progress
        from rstref.features.memory import writing_budget

        self.max_memory = writing_budget(args.max_memory)  # the file writer's share kept
        self.n_atoms = 0
        self.n_structures = 0
        self.atom_offsets = [0]  # small: one integer per structure
        self.entries = {"gradient_entries": 0, "self_entries": 0}  # flat gradient arrays
        self.declare(writer, featurizer.n_features)

    def declare(self, writer, F):
        import numpy as np

        real = np.dtype(self.dtype)
        for name, dtype, trailing in (("features", real, (F,)), ("atomic_numbers", np.int64, ()),
                                      ("positions", np.float64, (3,)), ("cells", np.float64, (3, 3)),
                                      ("pbc", np.bool_, (3,)), ("structure_file", np.int64, ()),
                                      ("structure_frame", np.int64, ())):
            writer.declare(name, dtype, trailing)
        if self.gradients:
            from rstref.features.store_rows import gradient_declarations

            for name, (dtype, trailing, _) in gradient_declarations(self.featurizer, real).items():
                writer.declare(name, np.dtype(dtype), trailing)
        if self.stress:
            writer.declare("strain_derivatives", real, (3, 3, F))

    def featurize(self, frames, failures):
        """Featurize every frame with ``Featurizer.iter_batches``; a batch that fails is
        retried structure by structure and its bad structures are reported and skipped."""
        batches = self._batches(frames)
        while True:
            try:
                result = next(batches)
            except StopIteration:
                return
            except (TypeError, ValueError):  # a bad structure in the batch: find it
                for entry in frames.take(len(frames.pending)):
                    self.featurize_one(entry, failures)
                batches = self._batches(frames)  # go on with the frames after the batch
                continue
            self.write(frames.take(result.n_structures), result)
            result = None  # one batch in memory while the next one is computed

    def _batches(self, source, progress=None):
        progress = self.progress if progress is None else progress
        return self.featurizer.iter_batches(source, self.gradients, self.stress, self.batch_atoms,
                                            progress, self.max_memory)

    def featurize_one(self, entry, failures):
        file_index, frame, atoms = entry
        path = self.inputs[file_index]
        try:
            result = next(self._batches([atoms], progress=False))
        except (TypeError, ValueError) as exc:
            # the featurizer numbers structures within its call: name the frame instead
            message = re.sub(r"^structure 0: ", "", str(exc))
            message = re.sub(r"\bstructure 0\b", f"frame {frame}", message)
            _failure(failures, path, int(frame), message)
            _error(f"{path}: frame {frame}: {message} (skipped)")
            return
        self.write([entry], result)

    def write(self, entries, result):
        """Append one batch's rows (all arrays, or none: signals wait until it is done)."""
        import numpy as np

        from rstref.features.store_rows import atom_rows

        structures = [atoms for _, _, atoms in entries]
        result = result.astype(self.dtype)
        rows = {
            "features": result.features,
            "atomic_numbers": result.atomic_numbers,
            "positions": np.concatenate([a.get_positions() for a in structures]).reshape(-1, 3),
            "cells": np.array([np.asarray(a.get_cell()) for a in structures]).reshape(-1, 3, 3),
            "pbc": np.array([a.get_pbc() for a in structures], dtype=bool).reshape(-1, 3),
            "structure_file": np.array([f for f, _, _ in entries], dtype=np.int64),
            "structure_frame": np.array([k for _, k, _ in entries], dtype=np.int64),
        }
        bases = {"atoms": self.n_atoms, **self.entries}
        rows.update(atom_rows(result, bases, self.gradients, self.stress))
        with self.signals.critical():
            for name, value in rows.items():
                self.writer.append(name, value)
            self.atom_offsets.extend((result.atom_offsets[1:] + self.n_atoms).tolist())
            self.n_atoms += result.n_atoms
            self.n_structures += len(entries)
            if self.gradients:
                self.entries["gradient_entries"] += result.gradient_values.shape[0]
                self.entries["self_entries"] += result.self_gradients.shape[0]

    def extra(self, inputs, failures):
        import numpy as np

        import rstref

        names, labels = self.featurizer.feature_labels()
        gradient_table = ({"feature_channels": self.featurizer.feature_channels()}
                          if self.gradients else {})
        return {
            **gradient_table,
            "atom_offsets": np.array(self.atom_offsets, dtype=np.int64),
            "feature_labels": labels,
            "feature_label_names": json.dumps(list(names)),
            "hyperparameters": json.dumps(self.featurizer.hyperparameters(), sort_keys=True),
            "rstref_version": rstref.__version__,
            "input_files": json.dumps(inputs),
            "failures": json.dumps(failures),
        }


class _StoreRun(_Run):
    """A run into a Zarr store: every batch committed when written, resumable."""

    def declare(self, writer, F):
        from rstref.features.progress import Progress

        self.store = writer.store
        self.client = None
        self.local = False  # structures retried one by one are computed here
        self.bar = Progress(None, False)  # set by _work_into_store

    def _batches(self, source, progress=None):
        """Batches computed here or on the Dask workers (which write their rows into the
        store); the progress is this run's bar (:meth:`write`), not the featurizer's."""
        if self.client is not None and not self.local:
            from rstref.features.distributed import distributed_batches

            return distributed_batches(self.client, self.featurizer, source, self.gradients,
                                       self.stress, self.batch_atoms, self.max_memory, False,
                                       store=self.store)
        return self.featurizer._iter_units(source, self.gradients, self.stress, self.batch_atoms,
                                           False, self.max_memory, split=True)

    def write(self, entries, result):
        from rstref._commands import _store

        with self.signals.critical():
            _store.append(self.store, entries, result)
            self.n_atoms += result.n_atoms
            self.n_structures += len(entries)
        self.bar.update(len(entries), atoms=result.n_atoms)

    def featurize_one(self, entry, failures):
        done = self.n_structures
        self.local = True
        try:
            super().featurize_one(entry, failures)
        finally:
            self.local = False
        if self.n_structures == done:  # skipped: consumed without rows, and said so in the store
            with self.signals.critical():
                self.store.set_attributes(failures=self.previous_failures + failures)
                self.store.skipped(1)


def _checked_arguments(args):
    """Everything that can be checked before the work; raises :class:`_UsageError`."""
    if isinstance(args.batch_atoms, bool) or args.batch_atoms < 1:
        raise _UsageError(f"--batch-atoms must be a positive integer, got {args.batch_atoms}")
    if args.max_memory is not None:
        from rstref.features.memory import parse_bytes

        try:
            args.max_memory = parse_bytes(args.max_memory, "--max-memory")
        except (TypeError, ValueError) as exc:
            raise _UsageError(str(exc)) from None
    if args.workers is not None and args.workers < 1:
        raise _UsageError(f"--workers must be a positive integer, got {args.workers}")
    if (args.workers is not None or args.scheduler is not None) and not _is_store(
            args.output.rstrip(os.sep)):
        raise _UsageError("--workers and --scheduler need a .zarr output (-o OUT.zarr)")
    species = _parse_species(args.species)
    species_values = _parse_species_values(args.species_values)
    output, note = _output_path(args.output, args.inputs)
    infer = species is None and args.species_mode == "channels"
    # the hyper-parameters are checked now, also when the species are inferred later
    featurizer = _featurizer(args, ["H"] if infer else species, species_values)
    return species, species_values, output, note, (None if infer else featurizer)


def run(args):
    from rstref._commands._staging import Signals, Stop

    writer = None
    try:
        with Signals() as signals:
            try:
                species, species_values, output, featurizer, writer = _prepare(args)
                _first_run_notice()
                return _work(args, output, species, species_values, featurizer, writer, signals)
            finally:
                if writer is not None:
                    with signals.critical():
                        writer.cleanup()
    except _UsageError as exc:
        _error(f"error: {exc}")
        return USAGE
    except Stop as stop:
        _error(_stopped_message(stop.signum, writer))
        return 128 + int(stop.signum)
    except OSError as exc:
        _error(f"error: cannot write {args.output}: {exc}")
        return USAGE
    except MemoryError:
        _error(f"error: out of memory (--batch-atoms {args.batch_atoms}); try a smaller --batch-atoms")
        return USAGE


def _first_run_notice():
    """On a terminal, say in one line that the first run compiles (not in pipes or logs)."""
    from rstref._commands.compile import compile_notice

    if getattr(sys.stderr, "isatty", lambda: False)():
        notice = compile_notice()
        if notice:
            _error(notice)


def _prepare(args):
    """Check the arguments and open the staged output, before any work."""
    from rstref._commands._staging import StagedNpz

    species, species_values, output, note, featurizer = _checked_arguments(args)
    if note:
        _error(note)
    if _is_store(output):
        from rstref._commands._store import StoreWriter

        return species, species_values, output, featurizer, StoreWriter(output)
    try:
        writer = StagedNpz(output)
    except OSError as exc:
        directory = os.path.dirname(os.path.abspath(output))
        raise _UsageError(f"cannot write to {directory!r} (the directory of -o {output!r}): "
                          f"{exc.strerror or exc}") from None
    return species, species_values, output, featurizer, writer


def _stopped_message(signum, writer):
    import signal

    name = "SIGTERM" if signum == signal.SIGTERM else "interrupted (SIGINT)"
    if writer is not None and getattr(writer, "is_store", False):
        return writer.stopped_message(name)
    if writer is not None and writer.committed:
        return f"{name} after {writer.path} was written"
    if writer is not None and os.path.exists(writer.path):
        return f"{name}: nothing written ({writer.path} was left as it was); temporary files removed"
    return f"{name}: nothing written; temporary files removed"


def _work(args, output, species, species_values, featurizer, writer, signals):
    from rstref._commands._staging import Interrupted

    inputs, failures, totals = list(args.inputs), [], {}
    if featurizer is None:
        species = _species_of_inputs(inputs, args.index, args.format, totals)
        if not species:
            for path in inputs:  # say why nothing was found
                for _ in _frames_of(path, args.index, args.format, failures):
                    pass
            _error("no atoms found in the inputs; pass --species to write an empty output")
            return FAILURES
        featurizer = _featurizer(args, species, species_values)
    if getattr(writer, "is_store", False):
        return _work_into_store(args, output, featurizer, writer, signals, inputs, failures,
                                totals)
    state = _Run(featurizer, writer, signals, args, inputs)
    interrupted = False
    try:
        _featurize_unwrapping_signals(state, _Frames(inputs, args.index, args.format, failures), failures)
    except Interrupted:
        if state.n_structures == 0:
            raise
        interrupted = True
        _failure(failures, None, None, f"interrupted (SIGINT) after {state.n_structures} structures; "
                                       "the remaining structures were not featurized")
        _error(f"interrupted; writing the {state.n_structures} structures done so far (Ctrl-C again to abort)")
    signals.phase = "write"
    staged = writer.write_zip(state.extra(inputs, failures))
    with signals.critical():
        writer.commit(staged)
    _error(f"{state.n_structures} structures, {state.n_atoms} atoms, "
           f"{featurizer.n_features} features per atom -> {output}")
    if interrupted:
        return 130
    return FAILURES if failures else OK


def _featurize_unwrapping_signals(state, frames, failures):
    """``state.featurize``, with a signal that arrived inside a numba callback re-raised as itself.

    A handler that raises while numba runs a Python callback (loading a cached kernel)
    surfaces as ``SystemError``; the signal's :class:`~rstref._commands._staging.Stop` is in
    its cause chain.
    """
    from rstref._commands._staging import signal_in

    try:
        state.featurize(frames, failures)
    except SystemError as err:
        stop = signal_in(err)
        if stop is None:
            raise
        raise stop from None


def _work_into_store(args, output, featurizer, writer, signals, inputs, failures, totals=None):
    """The run into a Zarr store (:mod:`rstref._commands._store`); ``totals``: the
    structures and atoms of the inputs, where a reading pass counted them (the progress)."""
    from rstref._commands import _store
    from rstref._commands._staging import Interrupted

    try:
        writer.open(featurizer, args)
    except ImportError as exc:
        raise _UsageError(str(exc)) from None
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    state = _StoreRun(featurizer, writer, signals, args, inputs)
    state.previous_failures = list(writer.store.group.attrs.get("failures", []))
    frames = _Frames(inputs, args.index, args.format, failures)
    if writer.resumed_from:
        _error(f"resuming {output}: its {writer.resumed_from} input structures are done")
        _store.skip_done(frames, writer.resumed_from)
    with _store.dask_client(args) as client, _store.progress(args, writer.store, totals) as bar:
        state.client, state.bar = client, bar
        try:
            _featurize_unwrapping_signals(state, frames, failures)
        except Interrupted:
            bar.close()
            _error(writer.stopped_message("interrupted (SIGINT)"))
            return 130
    with signals.critical():
        writer.store.set_attributes(failures=state.previous_failures + failures)
        writer.store.finish()
    done = writer.store.committed
    _error(f"{done['structures']} structures, {done['atoms']} atoms, "
           f"{featurizer.n_features} features per atom -> {output}")
    return FAILURES if failures else OK
