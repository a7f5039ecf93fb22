"""The common interface of the invariant descriptors (:class:`Invariants`).

A descriptor turns the coefficients of a :class:`rstref.tensor.RadialSphericalTensor`
into rotation invariants; this base class projects the atoms (one environment, through
the engine) and hands the coefficients to the subclass.  Public from
:mod:`rstref.invariants`, where :class:`~rstref.invariants.PowerSpectrum` and
:class:`~rstref.invariants.Bispectrum` derive from it.
"""

from rstref._checks import check_bool
from rstref._engine import single_environment
from rstref._engine.expansion import unscale
from rstref._invariant_checks import check_hessian_size
from rstref.tensor import RadialSphericalTensor, _check_positions_values


class Invariants:
    """Common interface of the invariant descriptors of a :class:`RadialSphericalTensor`.

    Subclasses implement ``from_coefficients``, ``from_coefficients_with_gradients`` and
    ``from_coefficients_with_hessians``; the ``compute...`` methods project the atoms
    with :meth:`RadialSphericalTensor.with_peaks_at` (and its derivative variants) and
    apply them.

    Attributes
    ----------
    rst : RadialSphericalTensor
    n_features : int
    degree : int
        Polynomial degree of the invariants in the coefficients (2: power spectrum, 3:
        bispectrum).  They are computed without intermediate overflow (inputs of large
        magnitude are scaled by a power of two, the results scaled back), so finite input
        gives finite values or, where the true value exceeds float64, ``+-inf``; never NaN.
    """

    #: public home (pickles and reprs name rstref.invariants)
    __module__ = "rstref.invariants"

    degree = None

    def __init__(self, rst):
        if not isinstance(rst, RadialSphericalTensor):
            raise TypeError(f"rst must be a RadialSphericalTensor, got {type(rst).__name__}")
        self.rst = rst

    def feature_range(self):
        """Labels of the features in order (see the subclass)."""
        raise NotImplementedError

    def _compute_checked(self, positions, values, normalize, order):
        """``(p, dp, d2p)`` up to ``order`` (None beyond it) of already-checked input.

        The private fast path for loops that validated their input once (the optimiser
        of :mod:`rstref.analysis`): ``positions`` (N, 3) and ``values`` (N,) C-contiguous
        float64, finite, without coincident atoms, ``normalize`` a bool, ``order`` in
        {0, 1, 2}.
        """
        scale, c, dc, d2c = self.rst._expansion.coefficients_scaled(
            single_environment(positions, values), normalize, order)
        p, dp, d2p = self._from_checked(c[0], dc, d2c, order)
        unscale(scale, self.degree, *(a for a in (p, dp, d2p) if a is not None))
        return p, dp, d2p

    def _from_checked(self, c, dc, d2c, order):
        """``(p, dp, d2p)`` up to ``order`` from the engine's (checked) coefficients."""
        raise NotImplementedError

    def _compute(self, positions, values, normalize, order):
        positions, values = _check_positions_values(positions, values, order)
        normalize = check_bool(normalize, "normalize")
        if order == 2:
            check_hessian_size(positions.shape[0], self.n_features,
                               f"{type(self).__name__}.compute_with_hessians")
        return self._compute_checked(positions, values, normalize, order)

    def compute(self, positions, values=None, normalize=True):
        """Invariants of peaks ``values`` at ``positions`` (N, 3): shape ``(F,)``."""
        return self._compute(positions, values, normalize, 0)[0]

    def compute_with_gradients(self, positions, values=None, normalize=True):
        """Invariants and gradients: ``p`` (F,), ``dp`` (N, 3, F) with ``dp[i,a] = dp/dr_{i,a}``."""
        return self._compute(positions, values, normalize, 1)[:2]

    def compute_with_hessians(self, positions, values=None, normalize=True):
        """Invariants, gradients and Hessians: ``p`` (F,), ``dp`` (N, 3, F), ``d2p`` (N, 3, N, 3, F).

        ``d2p[i, a, j, b] = d^2 p / d r_{i,a} d r_{j,b}``.
        """
        return self._compute(positions, values, normalize, 2)
