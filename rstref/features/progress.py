"""Progress of featurization on stderr (tqdm when installed).

Counts structures and, where the caller gives them, atoms, each with its total when known;
updated per batch, and redrawn at least every :data:`HEARTBEAT_SECONDS` by a background
thread (the elapsed time moves on while a long batch is computed, locally or on Dask
workers).
"""

import sys
import threading
import time

import numpy as np

#: the line is redrawn at least this often while enabled
HEARTBEAT_SECONDS = 2.0


class Progress:
    """Progress on stderr: tqdm when installed, else a plain line (at most 2 updates/s).

    Parameters
    ----------
    total : int or None
        Number of structures, if known.
    enabled : bool
        False: every method does nothing.
    desc : str
        Label of the bar.
    total_atoms : int or None
        Number of atoms, if known (shown with the atoms counted by ``update``).
    heartbeat : float or None
        Seconds between redraws while nothing is counted (default
        :data:`HEARTBEAT_SECONDS`; None: no background thread).

    ``update(n, atoms=0)`` counts ``n`` more structures (and ``atoms`` atoms); ``close()``
    ends the line.
    """

    def __init__(self, total, enabled, desc="featurize", total_atoms=None,
                 heartbeat=HEARTBEAT_SECONDS):
        self.enabled = bool(enabled)
        self.count = 0
        self.atoms = 0
        self.total = total
        self.total_atoms = total_atoms
        self.desc = desc
        self._bar = None
        self._last = 0.0
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if not self.enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            self._bar = tqdm(total=total, desc=desc, unit="structure", file=sys.stderr)
        if heartbeat is not None:
            self._thread = threading.Thread(target=self._beat, args=(float(heartbeat),),
                                            name="rstref-progress", daemon=True)
            self._thread.start()

    def update(self, n, atoms=0):
        if not self.enabled:
            return
        with self._lock:
            self.count += int(n)
            self.atoms += int(atoms)
            if self._bar is not None:
                if self.atoms:
                    self._bar.set_postfix_str(self._atoms_text(), refresh=False)
                self._bar.update(n)
                return
            now = time.monotonic()
            if now - self._last >= 0.5 or (self.total is not None and self.count >= self.total):
                self._draw(now)

    def line(self, now=None):
        """The plain progress line: structures, atoms, elapsed seconds."""
        of = f"/{self.total}" if self.total is not None else ""
        atoms = f", {self._atoms_text()}" if self.atoms or self.total_atoms else ""
        elapsed = (time.monotonic() if now is None else now) - self._start
        return f"{self.desc}: {self.count}{of} structures{atoms}, {elapsed:.0f} s"

    def _atoms_text(self):
        of = f"/{self.total_atoms}" if self.total_atoms is not None else ""
        return f"{self.atoms}{of} atoms"

    def _draw(self, now):
        self._last = now
        sys.stderr.write("\r" + self.line(now))
        sys.stderr.flush()

    def _beat(self, seconds):
        while not self._stop.wait(seconds):
            with self._lock:
                if self._bar is not None:
                    self._bar.refresh()
                elif time.monotonic() - self._last >= seconds:
                    self._draw(time.monotonic())

    def close(self):
        if not self.enabled:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._bar is not None:
                self._bar.close()
            else:
                self._draw(time.monotonic())
                sys.stderr.write("\n")
                sys.stderr.flush()
        self.enabled = False


def progress_enabled(progress, total):
    """The ``progress`` argument (None, True, False) resolved: None is on for ``total`` >= 50
    (or unknown) structures when stderr is a terminal."""
    if progress is None:
        return bool(total is None or total >= 50) and sys.stderr.isatty()
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool or None, got {type(progress).__name__}")
    return bool(progress)
