"""``rstref featurize``: per-atom invariant features of structure files into one ``.npz``.

Reads every INPUT with ``ase.io.iread`` (any format ase reads; ``--index`` selects
frames, default all), featurizes the structures in batches and streams the results to
temporary files, then writes ``OUT.npz`` (plain arrays, loadable with
``numpy.load(OUT, allow_pickle=False)``):

=======================  =====================================================
features                 (n_atoms, F) float64, atoms of all structures in order
atom_offsets             (n_structures + 1,) int64
atomic_numbers           (n_atoms,) int64
positions                (n_atoms, 3) float64, as read
cells, pbc               (n_structures, 3, 3) float64, (n_structures, 3) bool
structure_file           (n_structures,) int64, index into ``input_files``
structure_frame          (n_structures,) int64, frame number within the selection
gradient_centers,        (G,) int64 (global atom indices), only with --gradients
gradient_neighbors
gradient_values          (G, 3, F) float64, only with --gradients
strain_derivatives       (n_atoms, 3, 3, F) float64, only with --stress
feature_labels           (F, k) int64; column names in feature_label_names (JSON)
hyperparameters          JSON string (Featurizer.hyperparameters())
rstref_version           string
input_files              JSON list of the INPUT paths
failures                 JSON list of {"file", "frame", "error"} (empty if none)
=======================  =====================================================

A file that cannot be read, or a structure that cannot be featurized, is reported on
stderr with the file name (and frame) and skipped; everything else is still written,
and the exit status is 1.  The output is written also when the run is interrupted
(Ctrl-C), with what was done so far.
"""

import json
import os
import shutil
import sys
import tempfile

from rstref.features import DEFAULT_BATCH_ATOMS, DEFAULT_L_MAX, DEFAULT_N_MAX, DEFAULT_R_CUT, INVARIANTS, SPECIES_MODES


def add_arguments(parser):
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="structure files (any format ase.io reads)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="output .npz file")
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
    parser.add_argument("--radial", default="smooth_cosines",
                        help="radial family: smooth_cosines (default, C^2 at r_cut), cosines, cosine_bumps")
    parser.add_argument("--envelope-power", type=int, default=None, help="envelope (r_cut - r)^p")
    parser.add_argument("--normalize", action="store_true",
                        help="kernel-normalised projection (the seed's; discontinuous at r_cut)")
    parser.add_argument("--include-center", action="store_true", help="centre atom in its own density")
    parser.add_argument("--gradients", action="store_true", help="also write pair-sparse position gradients")
    parser.add_argument("--stress", action="store_true", help="also write strain derivatives")
    parser.add_argument("--batch-atoms", type=int, default=DEFAULT_BATCH_ATOMS,
                        help=f"atoms per batch (memory bound; default {DEFAULT_BATCH_ATOMS})")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="progress on stderr (default: when stderr is a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false")


def _error(message):
    print(f"rstref featurize: {message}", file=sys.stderr)


def _parse_species_values(text):
    out = {}
    for item in text.split(","):
        if "=" not in item:
            raise ValueError(f"--species-values: expected SYMBOL=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = float(value)
    return out


class _ArrayStream:
    """Rows of one array appended batch by batch to a raw temporary file."""

    def __init__(self, directory, name):
        self.path = os.path.join(directory, name + ".raw")
        self.file = open(self.path, "wb")
        self.dtype = None
        self.trailing = None
        self.rows = 0

    def append(self, array):
        import numpy as np

        array = np.ascontiguousarray(array)
        if self.dtype is None:
            self.dtype, self.trailing = array.dtype, array.shape[1:]
        elif array.dtype != self.dtype or array.shape[1:] != self.trailing:
            raise ValueError(f"inconsistent rows for {self.path}")
        self.file.write(array.tobytes())
        self.rows += array.shape[0]

    def close(self):
        self.file.close()


class NpzStreamWriter:
    """Write a ``.npz`` whose arrays grow batch by batch, with memory bounded by one batch.

    Rows go to raw temporary files next to the output; :meth:`finish` writes each as a
    ``.npy`` member of the zip (header with the final shape, then the bytes copied in
    chunks) and moves the result into place atomically.
    """

    def __init__(self, path):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        self.tmp = tempfile.mkdtemp(prefix=".rstref-featurize-", dir=directory)
        self.streams = {}
        self.empty = {}

    def declare(self, name, dtype, trailing):
        """Shape and dtype of an array that may receive no rows at all."""
        self.empty[name] = (dtype, tuple(trailing))

    def append(self, name, array):
        if name not in self.streams:
            self.streams[name] = _ArrayStream(self.tmp, name)
        self.streams[name].append(array)

    def finish(self, extra):
        import zipfile

        import numpy as np

        target = self.path + ".part"
        try:
            with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, stream in self.streams.items():
                    stream.close()
                    header = {"descr": np.lib.format.dtype_to_descr(stream.dtype), "fortran_order": False,
                              "shape": (stream.rows,) + tuple(stream.trailing)}
                    with zf.open(name + ".npy", "w", force_zip64=True) as out, open(stream.path, "rb") as src:
                        np.lib.format.write_array_header_2_0(out, header)
                        shutil.copyfileobj(src, out, 1 << 22)
                for name, (dtype, trailing) in self.empty.items():
                    if name not in self.streams:
                        with zf.open(name + ".npy", "w", force_zip64=True) as out:
                            np.lib.format.write_array(out, np.zeros((0,) + trailing, dtype=dtype),
                                                      allow_pickle=False)
                for name, value in extra.items():
                    with zf.open(name + ".npy", "w", force_zip64=True) as out:
                        np.lib.format.write_array(out, np.asarray(value), allow_pickle=False)
            os.replace(target, self.path)
        finally:
            self.cleanup()
            if os.path.exists(target):
                os.remove(target)

    def cleanup(self):
        for stream in self.streams.values():
            if not stream.file.closed:
                stream.file.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _read_frames(path, index, fmt):
    import ase.io

    return ase.io.iread(path, index=index, format=fmt)


def _species_of_inputs(inputs, index, fmt, failures):
    found = set()
    for path in inputs:
        try:
            for atoms in _read_frames(path, index, fmt):
                found.update(int(z) for z in atoms.get_atomic_numbers())
        except Exception as exc:  # any reader error: reported with the file name
            failures.append({"file": path, "frame": None, "error": f"{type(exc).__name__}: {exc}"})
            _error(f"cannot read {path}: {type(exc).__name__}: {exc} (skipped)")
    return sorted(found)


class _Run:
    """State of one CLI run: the featurizer, the writer and the bookkeeping."""

    def __init__(self, featurizer, writer, gradients, stress):
        self.featurizer = featurizer
        self.writer = writer
        self.gradients = gradients
        self.stress = stress
        self.n_atoms = 0
        self.n_structures = 0
        self.atom_offsets = [0]  # small: one integer per structure
        F = featurizer.n_features
        import numpy as np

        writer.declare("features", np.float64, (F,))
        writer.declare("atomic_numbers", np.int64, ())
        writer.declare("positions", np.float64, (3,))
        writer.declare("cells", np.float64, (3, 3))
        writer.declare("pbc", np.bool_, (3,))
        writer.declare("structure_file", np.int64, ())
        writer.declare("structure_frame", np.int64, ())
        if gradients:
            writer.declare("gradient_centers", np.int64, ())
            writer.declare("gradient_neighbors", np.int64, ())
            writer.declare("gradient_values", np.float64, (3, F))
        if stress:
            writer.declare("strain_derivatives", np.float64, (3, 3, F))

    def write(self, structures, result, file_index, frames):
        import numpy as np

        w = self.writer
        w.append("features", result.features)
        w.append("atomic_numbers", result.atomic_numbers)
        w.append("positions", np.concatenate([a.get_positions() for a in structures]).reshape(-1, 3))
        w.append("cells", np.array([np.asarray(a.get_cell()) for a in structures]).reshape(-1, 3, 3))
        w.append("pbc", np.array([a.get_pbc() for a in structures], dtype=bool).reshape(-1, 3))
        w.append("structure_file", np.full(len(structures), file_index, dtype=np.int64))
        w.append("structure_frame", np.asarray(frames, dtype=np.int64))
        self.atom_offsets.extend((result.atom_offsets[1:] + self.n_atoms).tolist())
        if self.gradients:
            w.append("gradient_centers", result.gradient_centers + self.n_atoms)
            w.append("gradient_neighbors", result.gradient_neighbors + self.n_atoms)
            w.append("gradient_values", result.gradient_values)
        if self.stress:
            w.append("strain_derivatives", result.strain_derivatives)
        self.n_atoms += result.n_atoms
        self.n_structures += len(structures)

    def featurize(self, structures, file_index, frames, path, failures):
        """Featurize one batch; on failure retry structure by structure and skip the bad ones."""
        try:
            # frames of one batch are consecutive: messages name the frame number
            result = self.featurizer._compute_batch(structures, self.gradients, self.stress, int(frames[0]))
        except (TypeError, ValueError) as exc:
            if len(structures) == 1:
                failures.append({"file": path, "frame": int(frames[0]), "error": str(exc)})
                _error(f"{path}: {exc} (skipped)")
                return
            for atoms, frame in zip(structures, frames):
                self.featurize([atoms], file_index, [frame], path, failures)
            return
        self.write(structures, result, file_index, frames)


def run(args):
    import numpy as np

    import rstref
    from rstref.features import Featurizer, _Progress, _progress_enabled

    failures = []
    try:
        species = None if args.species is None else [s.strip() for s in args.species.split(",") if s.strip()]
        species_values = None if args.species_values is None else _parse_species_values(args.species_values)
        inputs = list(args.inputs)
        if species is None and args.species_mode == "channels":
            species = _species_of_inputs(inputs, args.index, args.format, failures)
            bad = {f["file"] for f in failures}
            inputs_to_read = [p for p in inputs if p not in bad]
            if not species:
                _error("no atoms found in the inputs; pass --species to write an empty output")
                return 1
        else:
            inputs_to_read = inputs
        featurizer = Featurizer(r_cut=args.r_cut, n_max=args.n_max, l_max=args.l_max, species=species,
                                species_mode=args.species_mode, species_values=species_values,
                                invariant=args.invariant, radial=args.radial,
                                envelope_power=args.envelope_power, normalize=args.normalize,
                                include_center=args.include_center)
    except (TypeError, ValueError) as exc:
        _error(f"error: {exc}")
        return 2

    writer = NpzStreamWriter(args.output)
    state = _Run(featurizer, writer, args.gradients, args.stress)
    bar = _Progress(None, _progress_enabled(args.progress, None))
    interrupted = False
    try:
        for file_index, path in enumerate(inputs):
            if path not in inputs_to_read:
                continue
            batch, frames, atoms_in_batch, frame = [], [], 0, -1
            try:
                for frame, atoms in enumerate(_read_frames(path, args.index, args.format)):
                    batch.append(atoms)
                    frames.append(frame)
                    atoms_in_batch += len(atoms)
                    if atoms_in_batch >= args.batch_atoms:
                        state.featurize(batch, file_index, frames, path, failures)
                        bar.update(len(batch))
                        batch, frames, atoms_in_batch = [], [], 0
            except Exception as exc:  # a reader error: keep what was read before it
                where = f"after frame {frame}" if frame >= 0 else "at the start"
                failures.append({"file": path, "frame": None, "error": f"{type(exc).__name__}: {exc}"})
                _error(f"cannot read {path} ({where}): {type(exc).__name__}: {exc} "
                       "(frames before the error are kept)")
            if batch:
                state.featurize(batch, file_index, frames, path, failures)
                bar.update(len(batch))
    except KeyboardInterrupt:
        interrupted = True
        _error("interrupted; writing the structures done so far")
    finally:
        bar.close()
        names, labels = featurizer.feature_labels()
        extra = {
            "atom_offsets": np.array(state.atom_offsets, dtype=np.int64),
            "feature_labels": labels,
            "feature_label_names": json.dumps(list(names)),
            "hyperparameters": json.dumps(featurizer.hyperparameters(), sort_keys=True),
            "rstref_version": rstref.__version__,
            "input_files": json.dumps(inputs),
            "failures": json.dumps(failures),
        }
        writer.finish(extra)
    print(f"rstref featurize: {state.n_structures} structures, {state.n_atoms} atoms, "
          f"{featurizer.n_features} features per atom -> {args.output}", file=sys.stderr)
    return 1 if failures or interrupted else 0

