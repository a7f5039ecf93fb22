"""Memory planning of featurization: the bytes a batch needs, before it is allocated.

:func:`batch_bytes` is the one estimate (what :meth:`rstref.Featurizer.iter_batches` sizes
its batches with); :func:`memory_budget` turns a ``max_memory`` argument (bytes, a string
such as ``'2GB'`` or None) into bytes.  The estimate counts, in float64/int64:

* features ``n_atoms x F``;
* sparse gradients (docs/gradients.md), bounded by ``G x 3 x F_s`` (``G`` = one row per
  (centre, neighbour atom != centre), ``F_s`` the most features a neighbour's row can
  hold, every channel present) with their
  row indices and channels, and the centres' own rows ``n_atoms x 3 x F``;
* strain derivatives ``n_atoms x 9 x F``;
* the neighbour pairs (list, vectors, channels, peak heights, gradient slots);
* the per-neighbour factors ``R, dR, d2R`` (``3 n_max``) and ``Y`` (``L``), ``dY``
  (``3 L``) with ``L = (l_max + 1)^2``;
* for the bispectrum, one ``F x n_eff L`` Jacobian per numba thread.
"""

import re

from rstref import limits

_UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9,
          "GB": 10**9, "T": 10**12, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
          "TIB": 2**40}

#: bytes per neighbour pair outside the factors: neighbour-list output (i, j, shift,
#: distance, vector: 72), the batch's copies (centre, neighbour, vector, channel, weight: 56)
PAIR_BYTES = 128
#: bytes per pair of the gradient bookkeeping (keys, slots, unique, searchsorted: 5 x int64)
PAIR_GRADIENT_BYTES = 40
#: fraction of the available memory that ``max_memory=None`` allows
DEFAULT_MEMORY_FRACTION = 0.5
#: bytes of ``max_memory`` kept for the file writer when batches go to a file (Zarr's
#: encoding copies of a written block, the buffered rows): measured 0.1-0.2 GiB on a
#: 19,652-atom cell written into Zarr in 8-16 MiB blocks (0.3 GiB with 64 MiB blocks)
WRITER_RESERVE_BYTES = 192 * 2**20


class MemoryBudgetError(ValueError):
    """A structure needs more memory than the budget even on its own."""


def parse_bytes(value, name="max_memory"):
    """Bytes from an int, a float or a string like ``'2GB'``, ``'512 MiB'``, ``'1e9'``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number of bytes or a string such as '2GB', got bool")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", value)
        unit = match.group(2).upper() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(f"{name} must be bytes or a size such as '2GB' or '512MiB', got {value!r}")
        try:
            number = float(match.group(1)) * _UNITS[unit]
        except ValueError:
            raise ValueError(f"{name}: cannot read the number in {value!r}") from None
    else:
        raise TypeError(f"{name} must be a number of bytes or a string such as '2GB', "
                        f"got {type(value).__name__}")
    if not number > 0 or number == float("inf"):
        raise ValueError(f"{name} must be a positive, finite size, got {value!r}")
    return int(number)


def available_memory():
    """Bytes of memory available to new allocations (``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget(max_memory=None):
    """The batch budget in bytes: ``max_memory`` parsed, or by default half of the available
    memory, at most ``rstref.limits.MAX_ALLOCATION_BYTES``."""
    if max_memory is not None:
        return parse_bytes(max_memory)
    available = available_memory()
    budget = limits.MAX_ALLOCATION_BYTES
    if available is not None:
        budget = min(budget, int(available * DEFAULT_MEMORY_FRACTION))
    return max(int(budget), 1)


def writing_budget(max_memory=None):
    """The batch budget in bytes when the batches are written to a file
    (:meth:`rstref.Featurizer.compute_to`, ``rstref featurize``): :func:`memory_budget`
    less :data:`WRITER_RESERVE_BYTES` (at most half of it), so that the whole run stays
    within ``max_memory``."""
    budget = memory_budget(max_memory)
    return budget - min(WRITER_RESERVE_BYTES, budget // 2)


def gradient_rows_bound(n_atoms, n_pairs):
    """Upper bound of the pair gradient rows of one structure (images merged, the centre's
    own images in its own row)."""
    return min(n_pairs, n_atoms * max(n_atoms - 1, 0))


def batch_bytes(n_atoms, n_pairs, n_features, n_max, l_max, gradients=False, stress=False,
                n_gradient_rows=None, bispectrum_width=0, n_threads=1, n_sparse_features=None):
    """Estimated peak bytes of featurizing a batch (see the module docstring).

    Parameters
    ----------
    n_atoms, n_pairs : int
        Atoms (centres) and neighbour pairs of the batch.
    n_features : int
        Features per atom ``F``.
    n_max, l_max : int
        Radial functions per channel and largest degree.
    gradients, stress : bool
    n_gradient_rows : int, optional
        Pair rows of the sparse gradients (default: ``n_pairs``).
    bispectrum_width : int
        ``n_eff * (l_max + 1)^2`` for the bispectrum (its per-thread Jacobian), else 0.
    n_threads : int
        Numba threads (one Jacobian each).
    n_sparse_features : int, optional
        Most features per pair row ``F_s`` (default ``F``: dense rows).
    """
    F = int(n_features)
    L = (int(l_max) + 1) ** 2
    derivatives = bool(gradients or stress)
    total = 8 * n_atoms * F + PAIR_BYTES * n_pairs
    total += 8 * n_pairs * (3 * n_max + L * (4 if derivatives else 1))
    if gradients:
        rows = n_pairs if n_gradient_rows is None else n_gradient_rows
        F_s = F if n_sparse_features is None else int(n_sparse_features)
        total += 8 * rows * (3 * F_s + 3) + 8 * n_atoms * 3 * F + PAIR_GRADIENT_BYTES * n_pairs
    if stress:
        total += 8 * n_atoms * 9 * F
    if derivatives and bispectrum_width:
        total += 8 * F * (bispectrum_width + 3) * max(int(n_threads), 1)
    return int(total)


def too_large_message(index, n_atoms, n_pairs, needed, budget, gradients, stress):
    """The message of a structure that does not fit the budget on its own."""
    from rstref._checks import _bytes_text

    parts = [f"structure {index} ({n_atoms} atoms, {n_pairs} neighbour pairs) needs about "
             f"{_bytes_text(needed)} to featurize, more than max_memory = {_bytes_text(budget)}"]
    shrink = ["a larger max_memory", "a smaller r_cut (fewer pairs)",
              "smaller n_max or l_max (fewer features)"]
    if gradients:
        shrink.append("gradients=False (the gradients are most of it)")
    if stress:
        shrink.append("stress=False")
    shrink.append("fewer species in 'channels' mode (or species_mode='values')")
    return parts[0] + "; options that shrink it: " + ", ".join(shrink)


def centre_ranges(costs, available):
    """Split centres ``0..n`` into consecutive ranges whose summed ``costs`` (bytes per
    centre) stay within ``available``; None when one centre alone exceeds it."""
    import numpy as np

    costs = np.asarray(costs, dtype=np.float64)
    if costs.size and costs.max() > available:
        return None
    total = np.concatenate([[0.0], np.cumsum(costs)])
    ranges, start = [], 0
    while start < costs.size:
        stop = int(np.searchsorted(total, total[start] + available, side="right")) - 1
        stop = max(stop, start + 1)
        ranges.append((start, stop))
        start = stop
    return ranges
