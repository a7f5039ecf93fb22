"""Property checkers for any featurizer callable: symmetries, cutoff smoothness, derivatives.

This module gathers the checkers of the kit's rooms under one name:
:mod:`rstref.testing.report` (the :class:`CheckReport` and the ``assert_...`` form),
:mod:`rstref.testing.symmetry` (rotation, equivariance, permutation, translation),
:mod:`rstref.testing.smoothness` (cutoff smoothness) and
:mod:`rstref.testing.derivatives` (gradient, Hessian).  Every checker takes a callable
and concrete inputs, validates every argument (a bad one raises ``TypeError`` or
``ValueError`` naming it), evaluates the property and returns a :class:`CheckReport`; a
check that could not have failed is reported *vacuous* and fails.  The calling
convention, the derivative layouts, the tolerances and an example are in
``docs/testing-kit.md``.

Example
-------
A toy featurizer: sorted pair distances of an environment.

>>> import numpy as np
>>> from rstref.testing import assert_rotation_invariant, assert_permutation_invariant
>>> def sorted_distances(positions):
...     d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
...     return np.sort(d[np.triu_indices(len(positions), 1)])
>>> x = np.array([[0.1, 0.2, 0.3], [1.0, -0.5, 0.2], [-0.7, 0.4, 0.9]])
>>> R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
>>> assert_rotation_invariant(sorted_distances, x, R).passed
True
>>> assert_permutation_invariant(sorted_distances, x, [np.array([2, 0, 1])]).passed
True
"""

from rstref.testing.derivatives import (
    assert_gradient_matches,
    assert_hessian_matches,
    check_gradient,
    check_hessian,
)
from rstref.testing.report import CheckReport
from rstref.testing.smoothness import assert_smooth_at_cutoff, check_cutoff_smoothness
from rstref.testing.symmetry import (
    assert_equivariant,
    assert_permutation_equivariant,
    assert_permutation_invariant,
    assert_rotation_invariant,
    assert_translation_invariant,
    block_diagonal_representation,
    check_equivariance,
    check_permutation_equivariance,
    check_permutation_invariance,
    check_rotation_invariance,
    check_translation_invariance,
)

__all__ = [
    "CheckReport",
    "check_rotation_invariance", "assert_rotation_invariant",
    "check_equivariance", "assert_equivariant",
    "check_permutation_invariance", "assert_permutation_invariant",
    "check_permutation_equivariance", "assert_permutation_equivariant",
    "check_translation_invariance", "assert_translation_invariant",
    "check_cutoff_smoothness", "assert_smooth_at_cutoff",
    "check_gradient", "assert_gradient_matches",
    "check_hessian", "assert_hessian_matches",
    "block_diagonal_representation",
]
