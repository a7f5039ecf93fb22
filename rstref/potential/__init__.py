"""Linear potentials on rstref features, with analytic forces, stress and Hessians.

See :mod:`rstref.potential.linear` for the model and :mod:`rstref.potential.interop` for ase,
phonopy and Sella; the contraction that avoids the feature axis is
:mod:`rstref.potential.contraction`.
"""

from rstref.potential.interop import (
    LinearPotentialCalculator,
    force_constants,
    hessian_function,
    to_vibrations_data,
)
from rstref.potential.linear import HESSIAN_FORMATS, LinearPotential

__all__ = ["LinearPotential", "LinearPotentialCalculator", "HESSIAN_FORMATS", "force_constants",
           "hessian_function", "to_vibrations_data"]
