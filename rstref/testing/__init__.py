"""A property-based test kit for featurizers of atomic environments and structures.

``rstref.testing`` checks the properties every descriptor of atoms should have, for **any**
featurizer callable (yours, rstref's, a peer's):

* checkers that take a callable and concrete inputs and return a :class:`CheckReport`
  (passed, max deviation, tolerance, worst input, vacuous), each with an ``assert_...``
  form raising ``AssertionError`` with a readable message, in rooms of one job:
  :mod:`~rstref.testing.symmetry` (rotation invariance, equivariance under a given
  representation, permutation invariance and equivariance, translation invariance),
  :mod:`~rstref.testing.smoothness` (smoothness across the cutoff to a stated order),
  :mod:`~rstref.testing.derivatives` (gradient / Hessian agreement with finite
  differences) and :mod:`~rstref.testing.report` (the report); all re-exported by
  :mod:`rstref.testing.checks` and here.  Every argument is validated (a bad one raises
  ``TypeError``/``ValueError`` naming it) and a check that could not have failed is
  reported *vacuous* and fails.
* :mod:`rstref.testing.strategies` -- hypothesis strategies for the inputs: uniform random
  rotations (proper and improper), environments with a minimum separation inside r_cut,
  species, permutations, translations, paths on which one atom crosses the cutoff,
  near-pole and tiny vectors, periodic cells (small and skewed) with atoms in them.

The checkers need only NumPy and rstref; the strategies need ``hypothesis``
(``pip install hypothesis``) and are imported on first use.  Tolerances are in
:mod:`rstref.tolerances` (``kit_*`` and ``KIT_*``); every checker takes ``atol=`` to
override them.  The user's guide is ``docs/testing-kit.md``.

Example: testing your own featurizer
------------------------------------
A toy featurizer: a Gaussian-smeared radial distribution of the neighbours of a centre at
the origin, with a cutoff function that is C^2 at r_cut::

    import numpy as np
    from hypothesis import given
    from rstref.testing import (assert_rotation_invariant, assert_permutation_invariant,
                                assert_smooth_at_cutoff, assert_gradient_matches)
    from rstref.testing import strategies as kst

    R_CUT, MU, SIGMA = 2.0, np.linspace(0.0, 2.0, 8), 0.3

    def rdf(positions):
        r = np.linalg.norm(positions, axis=1)
        fc = np.where(r < R_CUT, (1 - r / R_CUT) ** 3, 0.0)          # C^2 at r_cut
        return (fc[:, None] * np.exp(-(r[:, None] - MU) ** 2 / (2 * SIGMA ** 2))).sum(0)

    @given(kst.environments(r_cut=R_CUT, max_atoms=6), kst.rotations(kind="any"))
    def test_rdf_is_invariant(positions, rotation):
        assert_rotation_invariant(rdf, positions, rotation)

    @given(kst.environments(r_cut=R_CUT, min_atoms=2).flatmap(
        lambda x: kst.permutations(len(x)).map(lambda p: (x, p))))
    def test_rdf_ignores_order(case):
        positions, perm = case
        assert_permutation_invariant(rdf, positions, perm)

    @given(kst.cutoff_crossings(r_cut=R_CUT))
    def test_rdf_is_c2_at_the_cutoff(path):
        assert_smooth_at_cutoff(rdf, path, order=2)

A failing check raises ``AssertionError`` whose message is the report: the property, the
measured deviation and the tolerance, the output entry and the input (positions, rotation,
permutation, ...) that show it, printed with 17 digits so that it can be replayed.  To get
the *smallest* such input, let hypothesis shrink it (``hypothesis.find``, or a failing
``@given`` test).

Derivatives: ``assert_gradient_matches(f_with_grad, positions)`` and
``assert_hessian_matches(f_with_hess, positions, layout=...)`` compare with central
differences (Richardson-extrapolated; the Hessian against differences of the analytic
gradient); the accepted layouts are in ``docs/testing-kit.md``.
"""

from importlib import import_module

from rstref.testing.derivatives import (  # noqa: F401  (re-exported)
    assert_gradient_matches,
    assert_hessian_matches,
    check_gradient,
    check_hessian,
)
from rstref.testing.report import CheckReport  # noqa: F401  (re-exported)
from rstref.testing.smoothness import assert_smooth_at_cutoff, check_cutoff_smoothness  # noqa: F401
from rstref.testing.symmetry import (  # noqa: F401  (re-exported)
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
    "check_equivariance", "assert_equivariant", "block_diagonal_representation",
    "check_permutation_invariance", "assert_permutation_invariant",
    "check_permutation_equivariance", "assert_permutation_equivariant",
    "check_translation_invariance", "assert_translation_invariant",
    "check_cutoff_smoothness", "assert_smooth_at_cutoff",
    "check_gradient", "assert_gradient_matches",
    "check_hessian", "assert_hessian_matches",
    "strategies",
]


def __getattr__(name):
    # the strategies need hypothesis: import them only when asked for
    if name == "strategies":
        module = import_module("rstref.testing.strategies")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'rstref.testing' has no attribute {name!r}")
