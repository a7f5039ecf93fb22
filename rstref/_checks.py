"""Input validation shared by every public entry point (README and docs/architecture.md).

Every function raises ``TypeError`` or ``ValueError`` with a message that names the
argument and what was expected; nothing is clipped or coerced silently except the
documented promotion of float32 (and other real floats) to float64.
"""

import numbers

import numba
import numpy as np

from rstref._kernels.tensor import closest_pair_below
from rstref._numba import njit
from rstref.limits import COINCIDENT_ATOMS_ATOL


def as_float_array(value, name, trailing_shape=(), ndim=None, allow_nonfinite=False):
    """Return ``value`` as a C-contiguous float64 array after checking it.

    Parameters
    ----------
    value : array_like
        Real floating-point or integer array. Booleans, complex and object arrays
        are rejected.
    name : str
        Argument name used in error messages.
    trailing_shape : tuple of int
        Required trailing dimensions, e.g. ``(3,)`` for an ``(n, 3)`` array.
    ndim : int, optional
        Required number of dimensions (defaults to ``len(trailing_shape) + 1``).
    allow_nonfinite : bool
        If False (default) NaN or infinite entries raise ``ValueError``.
    """
    arr = as_array(value, name)
    if arr.dtype == object:
        raise TypeError(f"{name} must be a rectangular array of real numbers, got "
                        "entries numpy reads as Python objects (ragged rows, strings, "
                        "None, or integers beyond int64)")
    if arr.dtype.kind not in "fiu":
        raise TypeError(
            f"{name} must be a real float array, got dtype {arr.dtype}"
        )
    if ndim is None:
        ndim = len(trailing_shape) + 1
    expected = "(" + ", ".join(["n"] * (ndim - len(trailing_shape)) + [str(t) for t in trailing_shape]) + ")"
    if ndim == 1 and not trailing_shape:
        expected = "(n,)"
    if arr.ndim != ndim or (trailing_shape and tuple(arr.shape[ndim - len(trailing_shape):]) != tuple(trailing_shape)):
        raise ValueError(f"{name} must have shape {expected}, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not allow_nonfinite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_positions_and_values(positions, values):
    """Return ``positions`` as an ``(n, 3)`` and ``values`` as an ``(n,)`` float64 array.

    ``values=None`` stands for one unit value per position. Both arrays are checked
    with :func:`as_float_array`; a ``values`` whose length differs from the number of
    positions raises ``ValueError``.
    """
    positions = as_float_array(positions, "positions", trailing_shape=(3,))
    n = positions.shape[0]
    if values is None:
        return positions, np.ones(n)
    values = as_float_array(values, "values", ndim=1)
    if values.shape != (n,):
        raise ValueError(f"values must have shape ({n},) to match positions {positions.shape}, "
                         f"got {values.shape}")
    return positions, values


def check_int(value, name, low=None, high=None):
    """Return ``value`` as a Python int, checking ``low <= value <= high``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_positive_float(value, name):
    """Return ``value`` as a float, requiring it to be finite and > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = _as_python_float(value, name)
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    try:
        known = value in choices
    except (TypeError, ValueError):  # an array or another value that does not compare
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_bool(value, name):
    """Return ``value`` as a Python bool; anything but ``bool``/``numpy.bool_`` raises TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_offsets(offsets, n_items, name="offsets"):
    """Return ragged-batch ``offsets`` as C-contiguous int64 after checking the layout.

    ``offsets`` has shape ``(n_env + 1,)``, starts at 0, ends at ``n_items`` and is
    non-decreasing: environment ``e`` owns rows ``offsets[e]:offsets[e + 1]``.
    """
    arr = np.asarray(offsets)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n_env + 1,), got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr[0] != 0 or arr[-1] != n_items:
        raise ValueError(
            f"{name} must start at 0 and end at the number of neighbours {n_items}, "
            f"got {arr[0]} and {arr[-1]}"
        )
    if np.any(np.diff(arr) < 0):
        raise ValueError(f"{name} must be non-decreasing")
    return arr


def coincident_atoms_message(i, j, distance, name="positions", environment=None):
    """The one error message for two coincident atoms (``limits.COINCIDENT_ATOMS_ATOL``)."""
    where = "atoms" if environment is None else "neighbours"
    env = "" if environment is None else f" of environment {environment}"
    return (f"{name}: {where} {i} and {j}{env} coincide (distance {distance:.3e} < "
            f"COINCIDENT_ATOMS_ATOL = {COINCIDENT_ATOMS_ATOL:.0e})")


def check_no_coincident_atoms(positions, offsets=None, name="positions"):
    """Raise ``ValueError`` if two atoms of one environment are closer than the limit.

    ``positions`` (N, 3) float64 (already checked); ``offsets`` None for one environment,
    else checked ragged offsets.  The one coincident-atoms check of the package.
    """
    if offsets is None:
        i, j = closest_pair_below(positions, COINCIDENT_ATOMS_ATOL)
        if i >= 0:
            d = float(np.linalg.norm(positions[i] - positions[j]))
            raise ValueError(coincident_atoms_message(int(i), int(j), d, name))
        return
    pairs = np.empty((offsets.shape[0] - 1, 2), dtype=np.int64)
    _closest_pairs_ragged(positions, offsets, COINCIDENT_ATOMS_ATOL, pairs)
    bad = np.nonzero(pairs[:, 0] >= 0)[0]
    if bad.size:
        e = int(bad[0])
        i, j = (int(offsets[e] + k) for k in pairs[e])
        d = float(np.linalg.norm(positions[i] - positions[j]))
        raise ValueError(coincident_atoms_message(i, j, d, name, environment=e))


@njit(parallel=True)
def _closest_pairs_ragged(positions, offsets, tolerance, pairs):
    """``pairs[e]``: the first coincident pair of environment ``e`` (local indices) or (-1, -1)."""
    for e in numba.prange(offsets.shape[0] - 1):
        i, j = closest_pair_below(positions[offsets[e]:offsets[e + 1]], tolerance)
        pairs[e, 0] = i
        pairs[e, 1] = j


def check_nonnegative_float(value, name):
    """Return ``value`` as a float, requiring it to be finite and >= 0 (bools rejected)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = _as_python_float(value, name)
    if not np.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_callable(value, name):
    """Return ``value`` if it is callable, else raise ``TypeError`` naming ``name``."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def check_float(value, name, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a finite Python float inside ``[low, high]``.

    ``low_open`` / ``high_open`` exclude the end points.  Booleans, complex numbers and
    non-numbers raise ``TypeError``; NaN, infinities and values outside the interval
    raise ``ValueError`` naming the argument and the interval.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = _as_python_float(value, name)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or below or above:
        interval = (("(" if low_open else "[") + ("-inf" if low is None else f"{low:g}") + ", "
                    + ("inf" if high is None else f"{high:g}") + (")" if high_open else "]"))
        raise ValueError(f"{name} must be a finite number in {interval}, got {value}")
    return value


def _bytes_text(n_bytes):
    if n_bytes >= 1e15:
        digits = len(str(int(n_bytes))) - 1 if isinstance(n_bytes, int) else int(np.log10(n_bytes))
        return f"1e{digits} bytes"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes} bytes"


def check_allocation(n_bytes, what, remedy):
    """Refuse a request that would allocate more than ``limits.MAX_ALLOCATION_BYTES``.

    Parameters
    ----------
    n_bytes : int or float
        Estimated bytes of the output (or of the largest temporary) of the request.
    what : str
        The request, with the arguments that set its size (e.g. ``"random_rotation(n=...)"``).
    remedy : str
        What the caller can change to make it fit (e.g. ``"draw in batches of ..."``).

    Raises
    ------
    ValueError
        ``"<what> needs about <size>, more than rstref.limits.MAX_ALLOCATION_BYTES =
        <limit>; <remedy>"``.  The limit is read at call time, so a user on a larger
        machine may raise it.
    """
    import rstref.limits as _limits

    limit = _limits.MAX_ALLOCATION_BYTES
    if n_bytes > limit:
        raise ValueError(f"{what} needs about {_bytes_text(n_bytes)}, more than "
                         f"rstref.limits.MAX_ALLOCATION_BYTES = {_bytes_text(limit)}; {remedy}")


#: smallest positive normal float64; below it 1/|r| overflows
SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)


def check_no_subnormal_rows(points, name):
    """Raise ``ValueError`` naming ``name`` if a row of ``points`` (n, 3), already checked,
    has ``0 < max|coordinate| < 2.2e-308``: derivatives of ``Y(r/|r|)`` there need
    ``1/|r|``, which overflows float64 (the zero vector itself is fine: docs/conventions.md)."""
    if not points.size or _first_subnormal_row(points, SMALLEST_NORMAL) < 0:
        return
    big = np.max(np.abs(points), axis=1)
    bad = np.flatnonzero((big > 0.0) & (big < SMALLEST_NORMAL))
    if bad.size:
        raise ValueError(f"{name} rows {bad[:5].tolist()} have 0 < |r| < {SMALLEST_NORMAL:.3g} "
                         "(subnormal): 1/|r| overflows, so derivatives with respect to them "
                         "are not representable in float64; move them to 0 or away from it")


def _as_python_float(value, name):
    """``float(value)`` of an already type-checked real number; an integer beyond float64
    (``float(10**400)``) raises ``ValueError`` naming ``name`` instead of OverflowError."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number, got an integer of "
                         f"{len(str(abs(int(value))))} digits, beyond float64") from None


def as_array(value, name):
    """``numpy.asarray(value)``; ragged nesting (which numpy refuses with "inhomogeneous
    shape") raises ``ValueError`` naming ``name`` and saying what was expected."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError):  # ragged nesting, or an object numpy refuses
        raise ValueError(f"{name} must be a rectangular array of numbers (every row of the "
                         f"same length), got a {type(value).__name__} with rows of "
                         "different lengths or entries that are not numbers") from None


@njit
def _first_subnormal_row(points, smallest):
    for i in range(points.shape[0]):
        big = max(abs(points[i, 0]), abs(points[i, 1]), abs(points[i, 2]))
        if 0.0 < big < smallest:
            return i
    return -1
