"""Reading the inputs of ``rstref featurize``: every frame of every file, in order, with
read errors reported (file and frame) and the frames before them kept."""

import collections
import sys


def _error(message):
    print(f"rstref featurize: {message}", file=sys.stderr)


def _failure(failures, path, frame, error):
    failures.append({"file": path, "frame": frame, "error": error})


class _Frames:
    """The frames of all inputs in order, as one iterator of ``ase.Atoms``.

    A read error ends that file (the frames before it are kept) and is reported.  Every
    frame handed out is remembered in :attr:`pending` as ``(file_index, frame, atoms)``
    until the caller takes it: the structures of a batch that failed are exactly those
    still pending.  A plain iterator (not a generator): a consumer that stops early cannot
    close it, so the next consumer goes on with the following frames.
    """

    def __init__(self, inputs, index, fmt, failures):
        self.pending = collections.deque()
        self._frames = self._all(inputs, index, fmt, failures)

    def take(self, n):
        return [self.pending.popleft() for _ in range(n)]

    def __iter__(self):
        return self

    def __next__(self):
        entry = next(self._frames)
        self.pending.append(entry)
        return entry[2]

    @staticmethod
    def _all(inputs, index, fmt, failures):
        for file_index, path in enumerate(inputs):
            for frame, atoms in _frames_of(path, index, fmt, failures):
                yield file_index, frame, atoms


def _frames_of(path, index, fmt, failures=None):
    """``(frame, atoms)`` of one file; a read error ends it (reported if ``failures`` is a list)."""
    import ase.io

    frame = -1
    try:
        reader = iter(ase.io.iread(path, index=index, format=fmt))
    except Exception as exc:  # any reader error: reported with the file name
        _report_read_error(path, frame, exc, failures)
        return
    while True:
        try:
            atoms = next(reader)
        except StopIteration:
            return
        except Exception as exc:  # a reader error: keep what was read before it
            _report_read_error(path, frame, exc, failures)
            return
        frame += 1
        yield frame, atoms


def _report_read_error(path, frame, exc, failures):
    if failures is None:
        return
    where = f"after frame {frame}" if frame >= 0 else "at the start"
    _failure(failures, path, None, f"{type(exc).__name__}: {exc}")
    kept = " (frames before the error are kept)" if frame >= 0 else " (skipped)"
    _error(f"cannot read {path} ({where}): {type(exc).__name__}: {exc}{kept}")


def _species_of_inputs(inputs, index, fmt, totals=None):
    """Sorted atomic numbers in the readable frames of ``inputs`` (read errors are reported
    by the featurizing pass, which reads the same frames); ``totals``, a dict, gets the
    ``structures`` and ``atoms`` read (the progress' totals)."""
    found, structures, n_atoms = set(), 0, 0
    for path in inputs:
        for _, atoms in _frames_of(path, index, fmt):
            found.update(int(z) for z in atoms.get_atomic_numbers())
            structures += 1
            n_atoms += len(atoms)
    if totals is not None:
        totals.update(structures=structures, atoms=n_atoms)
    return sorted(found)
