"""Staged, atomic ``.npz`` output and signal handling for ``rstref featurize``.

Output protocol (what a reader of ``OUT.npz`` can see):

* all temporary data of a run lives in one private directory next to the output,
  ``.rstref-featurize-<host>-<pid>-<random>/`` (unique per run: ``tempfile.mkdtemp``);
  the raw row streams and the finished zip (``out.npz.part``) are written there;
* the finished zip is flushed to disk and moved onto ``OUT.npz`` with one
  ``os.replace`` (atomic on POSIX and Windows within one file system), so ``OUT.npz`` is
  at every moment either absent, the previous file, or one complete run's file, also with
  several runs writing the same output at once (the last one to finish wins);
* the private directory is removed when the run ends, also on SIGINT/SIGTERM; a run
  killed with SIGKILL leaves it behind, and the next run writing into the same directory
  removes it (its name carries the host and the pid, and that process no longer exists).
"""

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from contextlib import contextmanager

import numpy as np

_PREFIX = ".rstref-featurize-"
#: name of a staging directory: host (no '-' inside), pid, mkdtemp's random part
_STAGE_NAME = re.compile(r"^\.rstref-featurize-(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def _host():
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def _process_exists(pid):
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def remove_stale_stages(directory):
    """Remove staging directories in ``directory`` left by dead runs on this host.

    Returns the removed paths.  A directory of a live process, of another host, or with
    a name this module does not write is never touched.
    """
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    host = _host()
    for name in names:
        match = _STAGE_NAME.match(name)
        if match is None or match["host"] != host:
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _process_exists(pid):
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class _ArrayStream:
    """Rows of one array appended batch by batch to a raw file."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "wb")
        self.dtype = None
        self.trailing = None
        self.rows = 0

    def append(self, array):
        array = np.ascontiguousarray(array)
        if self.dtype is None:
            self.dtype, self.trailing = array.dtype, array.shape[1:]
        elif array.dtype != self.dtype or array.shape[1:] != self.trailing:
            raise ValueError(f"inconsistent rows for {self.path}")
        self.file.write(array.tobytes())
        self.rows += array.shape[0]

    def close(self):
        if not self.file.closed:
            self.file.close()


class StagedNpz:
    """A ``.npz`` whose arrays grow batch by batch (memory bounded by one batch), staged in
    a private directory next to ``path`` and moved into place atomically by :meth:`commit`.

    Creating it removes stale staging directories of dead runs and fails at once (OSError)
    when the output directory is not writable.
    """

    def __init__(self, path):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        self.removed_stale = remove_stale_stages(directory)
        self.stage = tempfile.mkdtemp(prefix=f"{_PREFIX}{_host()}-{os.getpid()}-", dir=directory)
        self.streams = {}
        self.empty = {}
        self.committed = False

    def declare(self, name, dtype, trailing):
        """Shape and dtype of an array that may receive no rows at all."""
        self.empty[name] = (dtype, tuple(trailing))

    def append(self, name, array):
        if name not in self.streams:
            self.streams[name] = _ArrayStream(os.path.join(self.stage, name + ".raw"))
        self.streams[name].append(array)

    def write_zip(self, extra):
        """Write the staged zip (every stream as a ``.npy`` member, then ``extra``); return its path."""
        import zipfile

        target = os.path.join(self.stage, "out.npz.part")
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
                        np.lib.format.write_array(out, np.zeros((0,) + trailing, dtype=dtype), allow_pickle=False)
            for name, value in extra.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, np.asarray(value), allow_pickle=False)
        with open(target, "rb+") as f:
            os.fsync(f.fileno())
        return target

    def commit(self, staged):
        """Move the staged zip onto the output (atomic)."""
        os.replace(staged, self.path)
        self.committed = True

    def cleanup(self):
        for stream in self.streams.values():
            stream.close()
        shutil.rmtree(self.stage, ignore_errors=True)


class Stop(BaseException):
    """A signal asked the run to stop (``signum``); raised from the signal handler."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def signal_in(error):
    """The :class:`Stop` a signal raised inside a C callback, found in ``error``'s causes, or None.

    A signal handler that raises while numba (or another extension) is running a Python
    callback (e.g. loading a cached kernel) surfaces as ``SystemError`` with the
    :class:`Stop` among its ``__cause__`` / ``__context__`` chain.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, Stop):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


class Interrupted(Stop):
    """SIGINT while featurizing: stop and write what is done."""


class Signals:
    """SIGINT/SIGTERM turned into exceptions, deferred inside critical sections.

    Phase ``"work"``: SIGINT raises :class:`Interrupted` (the run writes what it has),
    SIGTERM raises :class:`Stop`.  Phase ``"write"``: both raise :class:`Stop` (the run
    writes nothing).  Inside :meth:`critical` (a batch's rows being appended, the final
    rename, the clean-up) a signal is held and raised when the section ends, so that no
    half-appended batch or half-done rename exists.  Outside the main thread (where
    Python cannot install handlers) nothing is installed.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.phase = "work"
        self.pending = None
        self.depth = 0
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}
        return False

    def _handler(self, signum, frame):
        if self.depth:
            if self.pending is None or signum == signal.SIGTERM:
                self.pending = signum
            return
        self._raise(signum)

    def _raise(self, signum):
        if signum == signal.SIGINT and self.phase == "work":
            self.phase = "write"
            raise Interrupted(signum)
        raise Stop(signum)

    @contextmanager
    def critical(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending is not None:
                signum, self.pending = self.pending, None
                self._raise(signum)
