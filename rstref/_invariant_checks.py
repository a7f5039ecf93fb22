"""Argument checks of the invariants (:mod:`rstref.invariants`): sizes, coefficient
arrays and their derivatives, and the memory of a dense Hessian.

Each check returns the checked value (float64 arrays, Python ints) or raises
``TypeError`` / ``ValueError`` naming the argument.
"""

from rstref._checks import as_array, as_float_array, check_allocation, check_int
from rstref.layouts import nlm_size


def check_sizes(n_max, l_max):
    """``(n_max, l_max)`` as ints, ``n_max >= 1`` and ``l_max >= 0``."""
    return check_int(n_max, "n_max", 1), check_int(l_max, "l_max", 0)


def coefficients(c, n_max, l_max, name="c", vector=False):
    """``c`` of shape ``(..., nlm_size(n_max, l_max))`` (``(dim,)`` if ``vector``) as float64."""
    dim = nlm_size(n_max, l_max)
    arr = as_array(c, name)
    if arr.ndim == 0 or arr.shape[-1] != dim or (vector and arr.ndim != 1):
        shape = f"({dim},)" if vector else f"(..., {dim})"
        raise ValueError(f"{name} must have shape {shape} = n_max*(l_max+1)**2 for "
                         f"n_max={n_max}, l_max={l_max}, got {arr.shape}")
    return as_float_array(arr, name, trailing_shape=(dim,), ndim=arr.ndim)


def derivatives(dc, dim, name, trailing=1):
    """``dc`` with last axis ``dim`` (any leading axes) as float64."""
    arr = as_array(dc, name)
    if arr.ndim < trailing or arr.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (..., {dim}), got {arr.shape}")
    return as_float_array(arr, name, trailing_shape=(dim,), ndim=arr.ndim)


def check_hessian_size(n_atoms, n_features, what):
    """Refuse a dense Hessian ``(N, 3, N, 3, F)`` beyond ``limits.MAX_ALLOCATION_BYTES``."""
    check_allocation(8.0 * (3 * n_atoms) ** 2 * n_features,
                     f"{what} of {n_atoms} atoms and {n_features} features "
                     f"(a dense ({n_atoms}, 3, {n_atoms}, 3, {n_features}) array)",
                     "use gradients only, fewer atoms, or the per-neighbour derivatives of "
                     "rstref.featurize")


def hessian_inputs(dc, d2c, dim):
    """``dc`` (N, 3, dim) and ``d2c`` (N, 3, 3, dim) as float64, with the same ``N``."""
    dc = as_float_array(dc, "dc", trailing_shape=(3, dim), ndim=3)
    N = dc.shape[0]
    d2c = as_float_array(d2c, "d2c", trailing_shape=(3, 3, dim), ndim=4)
    if d2c.shape[0] != N:
        raise ValueError(f"d2c must have shape ({N}, 3, 3, {dim}) to match dc, got {d2c.shape}")
    return dc, d2c
