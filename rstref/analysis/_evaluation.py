"""Evaluating a descriptor inside the analysis loops: validate once, then trust.

The public functions of :mod:`rstref.analysis` check their arguments once, at the door
(shapes, dtypes, finiteness, coincident atoms, every numeric option).  Their loops then
evaluate the descriptor through :class:`CheckedDescriptor`, which calls the private fast
path ``descriptor._compute_checked(positions, values, normalize, order)`` of
:class:`rstref.invariants.PowerSpectrum` / :class:`rstref.invariants.Bispectrum` (no
validation, no coincident-atoms scan, no new calculator objects per step) and falls back
to the public ``compute`` / ``compute_with_gradients`` / ``compute_with_hessians`` of
any other descriptor.

Trial points of an optimiser are evaluated without the coincident-atoms check: the
density of peaks is a smooth function of each atom's position (two peaks that meet
simply add), so the loss and its derivatives are well defined there and the optimiser
is never interrupted by a point it merely tried.  The check exists to catch duplicated
atoms in *input*; the public entry points still apply it to what the caller passes.
"""

import numpy as np

from rstref._checks import as_float_array, check_bool, check_int

#: the descriptor method needed for each derivative order
_METHODS = ("compute", "compute_with_gradients", "compute_with_hessians")


def check_descriptor(descriptor, max_order):
    """Raise ``TypeError`` unless ``descriptor`` has the methods up to ``max_order``."""
    for name in _METHODS[:max_order + 1]:
        if not callable(getattr(descriptor, name, None)):
            raise TypeError(
                f"descriptor must have a method {name}(positions, values) (e.g. a "
                f"rstref.invariants.PowerSpectrum), got {type(descriptor).__name__}")
    return descriptor


def check_descriptor_kwargs(descriptor_kwargs):
    """``descriptor_kwargs`` as a dict (None: empty), or ``TypeError``."""
    if descriptor_kwargs is None:
        return {}
    if not isinstance(descriptor_kwargs, dict) or not all(
            isinstance(key, str) for key in descriptor_kwargs):
        raise TypeError("descriptor_kwargs must be a dict of keyword arguments or None, "
                        f"got {type(descriptor_kwargs).__name__}")
    return dict(descriptor_kwargs)


def as_flat_positions(x, name="x"):
    """Flattened atom-major positions ``(3N,)`` as C-contiguous float64, checked."""
    x = as_float_array(x, name, ndim=1)
    if x.size % 3:
        raise ValueError(f"{name} must have shape (3N,) (flattened positions), got {x.shape}")
    return x


def check_order(order):
    """A derivative order: the int 0, 1 or 2 (``TypeError`` for 2.5, ``ValueError`` for 5)."""
    return check_int(order, "order", 0, 2)


class CheckedDescriptor:
    """``descriptor`` bound to checked peak ``values`` and keyword arguments.

    ``self(positions, order)`` returns ``(p, dp, d2p)``, None beyond ``order``, for
    C-contiguous float64 ``positions`` (N, 3) that the caller has already checked.

    Parameters
    ----------
    descriptor : object
        See :mod:`rstref.analysis`.
    values : ndarray, shape (N,)
        Checked peak heights.
    descriptor_kwargs : dict
        Checked keyword arguments of the descriptor's calls.
    max_order : {0, 1, 2}
        Highest order the caller will ask for (the methods it needs are checked here).
    """

    def __init__(self, descriptor, values, descriptor_kwargs, max_order):
        check_descriptor(descriptor, max_order)
        self.values = values
        fast = getattr(descriptor, "_compute_checked", None)
        if callable(fast) and set(descriptor_kwargs) <= {"normalize"}:
            normalize = check_bool(descriptor_kwargs.get("normalize", True),
                                   "descriptor_kwargs['normalize']")
            self._evaluate = lambda positions, order: fast(positions, values, normalize, order)
        else:
            self._evaluate = _public_methods(descriptor, values, descriptor_kwargs)

    def __call__(self, positions, order):
        return self._evaluate(positions, order)


def _public_methods(descriptor, values, kwargs):
    """``(positions, order) -> (p, dp, d2p)`` through the descriptor's public methods."""

    def evaluate(positions, order):
        if order == 0:
            return np.asarray(descriptor.compute(positions, values, **kwargs)), None, None
        if order == 1:
            return (*descriptor.compute_with_gradients(positions, values, **kwargs), None)
        return tuple(descriptor.compute_with_hessians(positions, values, **kwargs))

    return evaluate


def check_target(target, p, name="target"):
    """Raise ``ValueError`` unless ``target`` has the shape of the invariants ``p``."""
    if target.shape != p.shape:
        raise ValueError(f"{name} must have shape {p.shape} (the descriptor's invariants), "
                         f"got {target.shape}")
