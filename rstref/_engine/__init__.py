"""The one pipeline: ragged batch -> coefficients (+ derivatives) -> invariants (+ derivatives).

Rooms:

* :mod:`~rstref._engine.batch` -- :class:`RaggedBatch`, the one internal currency;
* :mod:`~rstref._engine.expansion` -- :class:`Expansion`: per-neighbour radial and angular
  factors, then the per-atom projection kernel (raw or kernel-normalised, any number of
  species channels) -> coefficients and per-neighbour derivatives;
* :mod:`~rstref._engine.invariants` -- power spectrum, cross power spectrum and bispectrum
  (values, gradients, Hessians) from coefficients;
* :mod:`~rstref._engine.structures` -- per-atom environments of structures -> invariants
  with pair-sparse gradients and strain derivatives.

The engine is the only CPU caller of the environment kernels (:mod:`rstref._kernels`);
it takes checked arrays (the public modules validate once) and imports nothing public.
"""

from rstref._engine.batch import RaggedBatch, one_density, single_environment
from rstref._engine.expansion import Expansion

__all__ = ["RaggedBatch", "Expansion", "one_density", "single_environment"]
