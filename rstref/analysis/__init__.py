"""Inversion of invariants, registration and degeneracy analysis.

The seed experiment of the README ("The seed experiment: ``rstref demo``") is built
from these functions; one room per job:

- :mod:`rstref.analysis._reconstruction`: the invariant loss (:func:`loss`,
  :func:`loss_with_gradient`, :func:`loss_with_hessian`) and :func:`reconstruct`;
- :mod:`rstref.analysis._registration`: :func:`register` (Kabsch about the centre,
  proper and improper, atom correspondence);
- :mod:`rstref.analysis._symmetry`: :func:`symmetry_operations`,
  :func:`symmetry_forced_subspace`, :func:`rotation_generators`;
- :mod:`rstref.analysis._degeneracy`: :func:`degeneracy`, :func:`loss_along`,
  :func:`homometric_pair`;
- :mod:`rstref.analysis._evaluation`: how the loops above evaluate a descriptor
  (validate once at the public entry, then a private fast path).

A *descriptor* here is any object with the interface of
:class:`rstref.invariants.PowerSpectrum` / :class:`rstref.invariants.Bispectrum`:

- ``compute(positions, values)`` -> ``p`` of shape ``(F,)``,
- ``compute_with_gradients(positions, values)`` -> ``p, dp`` with ``dp`` of shape ``(N, 3, F)``,
- ``compute_with_hessians(positions, values)`` -> ``p, dp, d2p`` with ``d2p`` of shape
  ``(N, 3, N, 3, F)``.

Extra keyword arguments given to the functions below as ``descriptor_kwargs`` (for
example ``normalize=True``) are passed through to those calls.

Displacements of ``N`` atoms are flattened atom-major: ``u.reshape(N, 3)[i] = u_i``.

The loss is the mean squared difference of the invariants, as in the seed notebook:
``loss(x) = (1/F) * sum_f (p_f(x) - p*_f)**2``, with gradient ``(2/F) J^T r`` and
Hessian ``(2/F) (J^T J + sum_f r_f Hess p_f)``, where ``r = p(x) - p*`` and
``J = dp/dx`` of shape ``(F, 3N)``.  At a zero-loss point the Hessian is ``(2/F) J^T J``.
"""

from rstref.analysis._degeneracy import DegeneracyResult, degeneracy, homometric_pair, loss_along
from rstref.analysis._reconstruction import (
    ReconstructionResult,
    loss,
    loss_with_gradient,
    loss_with_hessian,
    reconstruct,
)

# deprecated (its return arity depends on ``order``), importable but not in __all__
from rstref.analysis._reconstruction import loss_with_derivatives as loss_with_derivatives
from rstref.analysis._registration import (
    MAX_ATOMS_EXHAUSTIVE_REGISTRATION,
    RegistrationResult,
    register,
)
from rstref.analysis._symmetry import (
    rotation_generators,
    symmetry_forced_subspace,
    symmetry_operations,
)

__all__ = [
    "loss",
    "loss_with_gradient",
    "loss_with_hessian",
    "reconstruct",
    "register",
    "rotation_generators",
    "symmetry_operations",
    "symmetry_forced_subspace",
    "degeneracy",
    "loss_along",
    "homometric_pair",
    "ReconstructionResult",
    "RegistrationResult",
    "DegeneracyResult",
    "MAX_ATOMS_EXHAUSTIVE_REGISTRATION",
]
