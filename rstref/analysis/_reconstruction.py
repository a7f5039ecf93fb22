"""The invariant loss and the reconstruction of positions from invariants.

``loss(x) = (1/F) * sum_f (p_f(x) - p*_f)**2`` with gradient ``(2/F) J^T r`` and
Hessian ``(2/F) (J^T J + sum_f r_f Hess p_f)``, where ``r = p(x) - p*`` and
``J = dp/dx`` of shape ``(F, 3N)`` (see :mod:`rstref.analysis`).  One name per
return arity: :func:`loss`, :func:`loss_with_gradient`, :func:`loss_with_hessian`.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

from rstref._checks import (
    as_float_array,
    as_positions_and_values,
    check_choice,
    check_int,
    check_no_coincident_atoms,
)
from rstref.analysis._evaluation import (
    CheckedDescriptor,
    as_flat_positions,
    check_descriptor_kwargs,
    check_order,
    check_target,
)


def _loss_terms(p, dp, d2p, target, order):
    """``(loss, grad (3N,) or None, hess (3N, 3N) or None)`` from invariants and derivatives."""
    r = p - target
    f = r.size
    value = float(r @ r) / f
    if order == 0:
        return value, None, None
    jac = dp.reshape(-1, f)  # (3N, F), atom-major rows
    grad = (2.0 / f) * (jac @ r)
    if order == 1:
        return value, grad, None
    n_flat = jac.shape[0]
    hess = (2.0 / f) * (jac @ jac.T + d2p.reshape(n_flat, n_flat, f) @ r)
    return value, grad, hess


def _checked_loss(x, target, values, descriptor, descriptor_kwargs, order):
    """Validate the public loss arguments once and evaluate at ``order``."""
    x = as_flat_positions(x, "x")
    positions, values = as_positions_and_values(x.reshape(-1, 3), values)
    check_no_coincident_atoms(positions, name="x")
    target = as_float_array(target, "target", ndim=1)
    evaluate = CheckedDescriptor(descriptor, values, check_descriptor_kwargs(descriptor_kwargs), order)
    p, dp, d2p = evaluate(positions, order)
    check_target(target, p)
    return _loss_terms(p, dp, d2p, target, order)


def loss(x, target, values, descriptor, descriptor_kwargs=None):
    """Mean-squared invariant loss at flattened positions ``x``.

    Parameters
    ----------
    x : array_like, shape (3N,)
        Flattened positions (atom-major).
    target : array_like, shape (F,)
        Target invariants.
    values : array_like, shape (N,) or None
        Peak heights (None: all ones).
    descriptor : object
        See :mod:`rstref.analysis`.
    descriptor_kwargs : dict, optional
        Passed to the descriptor's calls (e.g. ``{'normalize': True}``).

    Returns
    -------
    float
    """
    return _checked_loss(x, target, values, descriptor, descriptor_kwargs, 0)[0]


def loss_with_gradient(x, target, values, descriptor, descriptor_kwargs=None):
    """Loss and its gradient: ``(loss, grad)`` with ``grad`` of shape ``(3N,)``.

    Arguments as in :func:`loss`.
    """
    return _checked_loss(x, target, values, descriptor, descriptor_kwargs, 1)[:2]


def loss_with_hessian(x, target, values, descriptor, descriptor_kwargs=None):
    """Loss, gradient and Hessian: ``(loss, grad (3N,), hess (3N, 3N))``.

    Arguments as in :func:`loss`.
    """
    return _checked_loss(x, target, values, descriptor, descriptor_kwargs, 2)


def loss_with_derivatives(x, target, values, descriptor, order=1, descriptor_kwargs=None):
    """Deprecated: use :func:`loss`, :func:`loss_with_gradient` or :func:`loss_with_hessian`.

    Returns ``(loss,)``, ``(loss, grad)`` or ``(loss, grad, hess)`` for ``order`` 0, 1, 2;
    any other ``order`` (5, 2.5, True) raises.
    """
    order = check_order(order)
    warnings.warn("loss_with_derivatives is deprecated (its return arity depends on order): use "
                  "loss, loss_with_gradient or loss_with_hessian", DeprecationWarning, stacklevel=2)
    terms = _checked_loss(x, target, values, descriptor, descriptor_kwargs, order)
    return terms[:order + 1]


class _Objective:
    """The loss of checked input as the optimiser sees it, with a small cache.

    ``self(z, order)`` returns ``(loss, grad, hess)`` (None beyond ``order``) at the
    flattened positions ``z``; the last few points are remembered, so the value that the
    iteration callback records, and the gradient and Hessian that a trust-region step
    asks for separately, are not computed twice.
    """

    _CACHE_SIZE = 4

    def __init__(self, evaluate, target):
        self._evaluate = evaluate
        self._target = target
        self._cache = {}

    def __call__(self, z, order):
        key = z.tobytes()
        hit = self._cache.get(key)
        if hit is not None and hit[0] >= order:
            return hit[1]
        positions = np.ascontiguousarray(z, dtype=np.float64).reshape(-1, 3)
        terms = _loss_terms(*self._evaluate(positions, order), self._target, order)
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (order, terms)
        return terms


# ------------------------------------------------------------------ reconstruction


@dataclass
class ReconstructionResult:
    """Outcome of :func:`reconstruct`.

    Attributes
    ----------
    positions : ndarray, shape (N, 3)
    loss : float
        Final mean-squared invariant loss.
    iterations : int
        Total optimiser iterations over all stages.
    history : list of float
        Loss after each iteration (all stages concatenated).
    stages : list of dict
        Per stage: method, iterations, loss, scipy message.
    """

    positions: np.ndarray
    loss: float
    iterations: int
    history: list = field(default_factory=list)
    stages: list = field(default_factory=list)


_METHODS = {"first-order", "newton", "first-order+newton"}


def reconstruct(
    target_invariants,
    start_positions,
    values,
    descriptor,
    method="first-order+newton",
    max_iterations=2000,
    descriptor_kwargs=None,
):
    """Find positions whose invariants match ``target_invariants``.

    The arguments are checked once; the optimiser's steps then evaluate the descriptor
    on its private fast path (see :mod:`rstref.analysis`).  Trial points where two atoms
    meet are evaluated like any other (the loss is smooth there); if the *final*
    positions hold two coincident atoms, a ``RuntimeWarning`` names them.

    Parameters
    ----------
    target_invariants : array_like, shape (F,)
    start_positions : array_like, shape (N, 3)
        No two atoms closer than ``rstref.limits.COINCIDENT_ATOMS_ATOL``.
    values : array_like, shape (N,) or None
        Peak heights (None: all ones).
    descriptor : object
        See :mod:`rstref.analysis`.
    method : {'first-order', 'newton', 'first-order+newton'}
        'first-order': L-BFGS-B with the explicit gradient (the seed notebook's
        route, up to the optimiser); 'newton': scipy's trust-region exact method
        with the explicit Hessian; 'first-order+newton' (default): the first, then
        the second as a refinement, which tells a true zero-loss solution from a
        local minimum with non-zero loss.
    max_iterations : int
        Per stage, at least 1.
    descriptor_kwargs : dict, optional
        Passed to the descriptor's calls.

    Returns
    -------
    ReconstructionResult
    """
    check_choice(method, "method", _METHODS)
    max_iterations = check_int(max_iterations, "max_iterations", 1)
    positions, values = as_positions_and_values(start_positions, values)
    check_no_coincident_atoms(positions, name="start_positions")
    target = as_float_array(target_invariants, "target_invariants", ndim=1)
    max_order = 1 if method == "first-order" else 2
    evaluate = CheckedDescriptor(descriptor, values, check_descriptor_kwargs(descriptor_kwargs),
                                 max_order)
    check_target(target, evaluate(positions, 0)[0], "target_invariants")
    objective = _Objective(evaluate, target)
    x = positions.ravel().copy()
    history, stages = [], []

    def record(z, *args):
        history.append(objective(z, 0)[0])

    if method in ("first-order", "first-order+newton"):
        x = _first_order_stage(objective, x, record, max_iterations, stages)
    if method in ("newton", "first-order+newton"):
        x = _newton_stage(objective, x, record, max_iterations, stages)
    _warn_if_coincident(x)
    return ReconstructionResult(
        positions=x.reshape(-1, 3), loss=objective(x, 0)[0],
        iterations=sum(s["iterations"] for s in stages), history=history, stages=stages,
    )


def _first_order_stage(objective, x, record, max_iterations, stages):
    res = scipy.optimize.minimize(
        lambda z: objective(z, 1)[:2], x, jac=True, method="L-BFGS-B", callback=record,
        options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-13, "maxcor": 30},
    )
    stages.append({"method": "L-BFGS-B", "iterations": int(res.nit),
                   "loss": float(res.fun), "message": str(res.message)})
    return res.x


def _newton_stage(objective, x, record, max_iterations, stages):
    # trial points need the value only; gradient and Hessian are asked for (separately)
    # at accepted points, and one order-2 evaluation serves both
    res = scipy.optimize.minimize(
        lambda z: objective(z, 0)[0], x, jac=lambda z: objective(z, 2)[1],
        hess=lambda z: objective(z, 2)[2], method="trust-exact",
        callback=lambda z, *a: record(z), options={"maxiter": max_iterations, "gtol": 1e-15},
    )
    stages.append({"method": "trust-exact", "iterations": int(res.nit),
                   "loss": float(res.fun), "message": str(res.message)})
    return res.x


def _warn_if_coincident(x):
    try:
        check_no_coincident_atoms(np.ascontiguousarray(x).reshape(-1, 3))
    except ValueError as err:
        warnings.warn(f"reconstruct: the final positions hold two coincident atoms: {err}",
                      RuntimeWarning, stacklevel=3)
