"""Inputs of the kit's checkers: argument validation and the calling convention.

Every checker validates every argument here before evaluating anything, so a bad
argument raises ``TypeError``/``ValueError`` naming it instead of making the check
vacuous (a zero "rotation", an empty list of permutations, a NaN tolerance, ...).

Calling convention: the featurizer is called as ``func(positions)``,
``func(positions, species)``, ``func(positions, cell)`` or
``func(positions, species, cell)``, depending on which of ``species`` and ``cell`` are
given (see ``docs/testing-kit.md``).
"""

import numpy as np

from rstref._checks import as_float_array, check_callable, check_nonnegative_float
from rstref.rotations import check_rotation


def positions(value, name="positions"):
    """``value`` as a fresh (N, 3) float64 array of finite coordinates."""
    return np.array(as_float_array(value, name, trailing_shape=(3,)), copy=True)


def cell(value):
    """None, or ``value`` as a fresh finite (3, 3) float64 array (rows: lattice vectors)."""
    if value is None:
        return None
    return np.array(as_float_array(value, "cell", trailing_shape=(3, 3), ndim=2), copy=True)


def function(value, name):
    """``value`` if callable (the featurizer or a helper callable), else TypeError."""
    return check_callable(value, name)


def optional_nonnegative(value, name):
    """None, or ``value`` as a finite float >= 0 (``atol=``, ``scale=``)."""
    return None if value is None else check_nonnegative_float(value, name)


def _stack(value, name, item_shape, what):
    """``value`` as a non-empty float64 stack of arrays of ``item_shape`` (one may be bare)."""
    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(f"{name} must be a {what} or a sequence of them, got a ragged sequence") from None
    if arr.ndim == len(item_shape):
        arr = arr[None]
    if arr.ndim != len(item_shape) + 1 or arr.shape[1:] != item_shape:
        raise ValueError(f"{name} must be a {what} or a sequence of them, got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError(f"{name} must contain at least one {what}: an empty sequence tests nothing")
    arr = as_float_array(arr, name, trailing_shape=item_shape, ndim=len(item_shape) + 1, allow_nonfinite=True)
    finite = np.isfinite(arr).reshape(len(arr), -1).all(axis=1)
    if not finite.all():
        k = int(np.argmin(finite))
        label = name if np.ndim(value) == len(item_shape) else f"{name}[{k}]"
        raise ValueError(f"{label} contains NaN or infinite values")
    return arr


def rotations(value, name="rotations"):
    """A non-empty list of orthogonal (3, 3) matrices (proper or improper).

    Each matrix R (or -R when det R < 0) must pass :func:`rstref.rotations.check_rotation`:
    finite, ``max |R^T R - I|`` and ``|det R| - 1`` within ``rstref.limits.ROTATION_ATOL``.
    """
    arr = _stack(value, name, (3, 3), "(3, 3) matrix")
    single = np.ndim(value) == 2
    out = []
    for k, R in enumerate(arr):
        label = name if single else f"{name}[{k}]"
        sign = -1.0 if np.linalg.det(R) < 0 else 1.0
        try:
            check_rotation(sign * R, label)
        except ValueError as exc:
            raise ValueError(f"{exc} ({name} must be orthogonal matrices, det +1 or -1)") from None
        out.append(R)
    return out


def vectors(value, name="translations"):
    """A non-empty list of finite (3,) vectors."""
    return list(_stack(value, name, (3,), "(3,) vector"))


def permutations(value, n_atoms, name="permutations"):
    """A non-empty list of int arrays, each a permutation of ``range(n_atoms)``.

    One permutation may be given bare; the empty permutation (of no atoms) only as an
    integer array.
    """
    try:
        count = len(value)
    except TypeError:
        raise TypeError(f"{name} must be a permutation or a sequence of them, "
                        f"got {type(value).__name__}") from None
    if count == 0:
        if n_atoms == 0 and np.asarray(value).dtype.kind in "iu":
            return [np.zeros(0, dtype=np.intp)]
        raise ValueError(f"{name} must contain at least one permutation: an empty sequence tests nothing")
    items = [value] if np.ndim(value[0]) == 0 else list(value)
    out = []
    for p in items:
        p = np.asarray(p)
        if p.dtype.kind not in "iu":
            raise TypeError(f"{name} must be integer arrays, got dtype {p.dtype}")
        if p.ndim != 1 or sorted(p.tolist()) != list(range(n_atoms)):
            raise ValueError(f"{name} must be permutations of range({n_atoms}), got {p}")
        out.append(p.astype(np.intp))
    return out


def per_atom_species(species, n_atoms):
    """``species`` as an array with one entry per atom (checkers that permute atoms)."""
    if species is None:
        return None
    arr = np.asarray(species)
    if arr.ndim == 0 or len(arr) != n_atoms:
        raise ValueError(f"species must have one entry per atom ({n_atoms}), got shape {arr.shape}")
    return arr


def length_scale(x, c=None):
    """Size of a configuration: the largest |position| (and |lattice vector|); 0 if none."""
    sizes = [float(np.max(np.linalg.norm(x, axis=1), initial=0.0))]
    if c is not None:
        sizes.append(float(np.max(np.linalg.norm(c, axis=1))))
    return max(sizes)


def call(func, x, species, c):
    """Call ``func`` with the arguments the calling convention gives it."""
    args = [x]
    if species is not None:
        args.append(species)
    if c is not None:
        args.append(c)
    return func(*args)


def output(func, x, species, c):
    """``func``'s output as a float64 array."""
    return np.asarray(call(func, x, species, c), dtype=np.float64)


def base_input(x, species, c):
    """The input every report records: positions (species, cell)."""
    base = {"positions": x}
    if species is not None:
        base["species"] = np.asarray(species)
    if c is not None:
        base["cell"] = c
    return base
