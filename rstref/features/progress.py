"""Progress of featurization on stderr (tqdm when installed)."""

import sys
import time

import numpy as np


class Progress:
    """Progress on stderr: tqdm when installed, else a plain counter (at most 2 lines/s).

    Parameters
    ----------
    total : int or None
        Number of structures, if known.
    enabled : bool
        False: every method does nothing.
    desc : str
        Label of the bar.

    ``update(n)`` counts ``n`` more structures; ``close()`` ends the line.
    """

    def __init__(self, total, enabled, desc="featurize"):
        self.enabled = bool(enabled)
        self.count = 0
        self.total = total
        self.desc = desc
        self._bar = None
        self._last = 0.0
        if not self.enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            self._bar = tqdm(total=total, desc=desc, unit="structure", file=sys.stderr)

    def update(self, n):
        if not self.enabled:
            return
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= 0.5 or (self.total is not None and self.count >= self.total):
            self._last = now
            of = f"/{self.total}" if self.total is not None else ""
            sys.stderr.write(f"\r{self.desc}: {self.count}{of} structures")
            sys.stderr.flush()

    def close(self):
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()


def progress_enabled(progress, total):
    """The ``progress`` argument (None, True, False) resolved: None is on for ``total`` >= 50
    (or unknown) structures when stderr is a terminal."""
    if progress is None:
        return bool(total is None or total >= 50) and sys.stderr.isatty()
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool or None, got {type(progress).__name__}")
    return bool(progress)
