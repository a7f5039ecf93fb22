"""Radial bases orthonormal on the ball of radius ``r_cut`` (docs/conventions.md).

A radial basis is built in two steps:

1. a family of *primitives* ``f_k(r)``, ``k = 0..n-1`` (:class:`RadialPrimitives`), each
   with exact values and first and second derivatives in ``r``, optionally multiplied by
   the envelope ``(r_cut - r)^p``;
2. Gram–Schmidt orthonormalisation in the inner product of the ball,
   ``<f, g> = int_0^r_cut f(r) g(r) 4 pi r^2 dr``, written as ``R = C f`` with
   ``C = L^{-1}`` and ``G = L L^T`` the Cholesky factorisation of the Gram matrix
   (:class:`OrthonormalRadialBasis`).

The Gram matrix is integrated by Gauss–Legendre quadrature on each smooth piece of the
primitives (the integrands are analytic on each piece, so the rule converges to machine
precision; the tests check it against an independent mpmath quadrature).  ``R_n`` is a
fixed linear combination of ``f_0..f_n`` (lower-triangular ``C``), so its values and
first and second derivatives are exact.  Everything is zero for ``r >= r_cut``.

Families (``primitive=``):

=================  ==========================================================  ========  ========
name               f_k(r), k = 0..n-1 (zero for r >= r_cut)                    interior  at r_cut
=================  ==========================================================  ========  ========
'cosine_bumps'     cos^2(pi (r - r_k) / (2 delta)) for abs(r - r_k) < delta,    C^1       C^-1
                   r_k = k delta, delta = r_cut / (n - 1)  (needs n >= 2)
'cosines'          cos(k pi r / r_cut)                                          C^inf     C^-1
'smooth_cosines'   cos(k pi r / r_cut) (1 - r^2 / r_cut^2)^3                    C^inf     C^2
=================  ==========================================================  ========  ========

``C^-1`` means the value itself jumps to 0 at ``r_cut``.  The envelope ``(r_cut - r)^p``
raises the order at ``r_cut`` by ``p`` (``p = 2`` is the tutorial's ``FadeAtCutoff``;
``p >= 3`` makes the bumps and cosines C^2 at ``r_cut``) and leaves the interior order
unchanged.  'smooth_cosines' is C^2 at ``r_cut`` without an envelope, C^inf inside, does
not vanish at ``r = 0`` and, being even in ``r``, defines functions ``R(|x|)`` that are
smooth at the origin of R^3; it is the family featurization uses by default.
"""

import math

import numpy as np

from rstref._checks import check_choice, check_int, check_positive_float
from rstref._dispatch import wants_gpu
from rstref._extended_precision import cholesky_extended, inverse_lower_extended
from rstref._kernels.radial import FAMILY_COSINE_BUMPS, FAMILY_COSINES, FAMILY_SMOOTH_COSINES
from rstref._radial_checks import (
    MAX_ENVELOPE_POWER,
    MAX_N,
    check_distances,
    check_envelope_power,
    check_envelope_scale,
    check_r_cut,
)
from rstref._radial_gram import gram_extended, scaled_condition_number
from rstref._radial_loops import orthonormal_loop, primitives_loop
from rstref.limits import ENVELOPE_SCALE_MAX, GRAM_CONDITION_MAX, R_CUT_MAX, R_CUT_MIN  # noqa: F401 (re-exported)

__all__ = [
    "RadialPrimitives",
    "OrthonormalRadialBasis",
    "FAMILIES",
    "MAX_ENVELOPE_POWER",
    "FixedCosineRadialModel",
    "CosineFunctions",
    "FadeAtCutoff",
    "OrthonormalRadialFunctions",
]

#: name -> (kernel code, smoothness in the interior, smoothness at r_cut without envelope,
#: minimum number of primitives)
FAMILIES = {
    "cosine_bumps": (FAMILY_COSINE_BUMPS, 1, -1, 2),
    "cosines": (FAMILY_COSINES, math.inf, -1, 1),
    "smooth_cosines": (FAMILY_SMOOTH_COSINES, math.inf, 2, 1),
}


# --------------------------------------------------------------------------- primitives

class RadialPrimitives:
    """A family of ``n`` primitive radial functions on ``[0, r_cut)``, zero beyond.

    Parameters
    ----------
    n : int
        Number of primitives, ``k = 0..n-1`` (``>= 2`` for 'cosine_bumps').
    r_cut : float
        Cutoff radius, in ``[R_CUT_MIN, R_CUT_MAX] = [1e-30, 1e30]``; with an envelope
        also ``r_cut**envelope_power`` in ``[1e-150, 1e150]``.
    primitive : {'cosine_bumps', 'cosines', 'smooth_cosines'}
        Family (formulas in the module docstring).
    envelope_power : int or None
        If given, every primitive is multiplied by ``(r_cut - r)^envelope_power``
        (``1 <= p <= MAX_ENVELOPE_POWER``).

    Attributes
    ----------
    smoothness_interior : int or math.inf
        Largest ``s`` such that every primitive is ``C^s`` on ``(0, r_cut)``.
    smoothness_at_cutoff : int or math.inf
        Largest ``s`` such that the primitives extended by zero are ``C^s`` at ``r_cut``
        (-1: the value jumps).  Equals the family's order plus ``envelope_power``.
    joins : ndarray
        Interior points where a piece ends (the derivative of order
        ``smoothness_interior + 1`` jumps there); empty for smooth families.
    breakpoints : ndarray
        ``[0, *joins, r_cut]``: the smooth pieces of ``[0, r_cut]``.
    smooth_at_origin : bool
        True when every primitive is even in ``r`` near 0 (all odd derivatives vanish
        there), so that ``f(|x|)`` is C^inf at the origin of R^3.  True for the three
        families without envelope; the envelope ``(r_cut - r)^p`` makes ``f'(0) != 0``,
        a cusp of ``f(|x|)`` at the origin.
    """

    def __init__(self, n, r_cut, primitive="cosine_bumps", envelope_power=None):
        check_choice(primitive, "primitive", FAMILIES)
        code, interior, at_cutoff, n_min = FAMILIES[primitive]
        self.n = check_int(n, "n", n_min, MAX_N)
        self.r_cut = check_r_cut(r_cut)
        self.primitive = primitive
        self.envelope_power = check_envelope_power(envelope_power)
        check_envelope_scale(self.r_cut, self.envelope_power)
        self.family_code = code
        self.smoothness_interior = interior
        self.smoothness_at_cutoff = at_cutoff + (self.envelope_power or 0)
        if code == FAMILY_COSINE_BUMPS:
            self.joins = np.arange(1, self.n - 1) * (self.r_cut / (self.n - 1))
        else:
            self.joins = np.zeros(0)
        self.breakpoints = np.concatenate([[0.0], self.joins, [self.r_cut]])
        # every family is even in r near 0; an envelope (r_cut - r)^p is not
        self.smooth_at_origin = self.envelope_power is None

    @property
    def _p(self):
        return self.envelope_power or 0

    def __call__(self, r):
        """Primitive values ``f_k(r)``, shape ``(len(r), n)``."""
        return self.with_derivatives(r)[0]

    def with_derivatives(self, r):
        """Values, first and second r-derivatives, each of shape ``(len(r), n)``."""
        r = check_distances(r)
        f = np.zeros((r.shape[0], self.n))
        df = np.zeros_like(f)
        d2f = np.zeros_like(f)
        if r.shape[0]:
            primitives_loop(r, self.family_code, self.r_cut, self.n, self._p, f, df, d2f)
        return f, df, d2f

    def gram(self):
        """Gram matrix ``G_ij = int_0^r_cut f_i f_j 4 pi r^2 dr``, shape ``(n, n)``.

        Gauss–Legendre on each piece between :attr:`breakpoints`; cosine families are
        further split into ``n - 1`` equal pieces so that each piece sees at most about
        one period of the highest product frequency, and the rule has enough nodes to
        integrate the polynomial factor (degree ``2 + 2p + 12``) exactly.  Nodes, weights,
        primitives and sums are in ``numpy.longdouble`` (80-bit on x86-64) and the result
        is rounded to float64.
        """
        return np.asarray(self._gram_extended(), dtype=np.float64)

    def _gram_extended(self):
        """:meth:`gram` before the rounding to float64 (longdouble, ``(n, n)``)."""
        return gram_extended(self.family_code, self.n, self.r_cut, self._p)

    def to_dict(self):
        return {"n": self.n, "r_cut": self.r_cut, "primitive": self.primitive,
                "envelope_power": self.envelope_power}

    def __repr__(self):
        return (f"RadialPrimitives(n={self.n}, r_cut={self.r_cut!r}, "
                f"primitive={self.primitive!r}, envelope_power={self.envelope_power!r})")


# --------------------------------------------------------------------------- basis

class OrthonormalRadialBasis:
    """Radial functions ``R_n``, ``n = 0..n_max-1``, orthonormal on the ball of radius r_cut.

    ``int_0^r_cut R_n(r) R_n'(r) 4 pi r^2 dr = delta_nn'``; ``R_n`` is the Gram–Schmidt
    orthonormalisation of the primitives ``f_0..f_n`` in that order, so ``R = C f`` with
    ``C`` lower triangular with positive diagonal.  ``R_n(r) = 0`` for ``r >= r_cut``.

    Parameters
    ----------
    n_max : int
        Number of radial functions (and of primitives), ``1 <= n_max <= 64``
        (``>= 2`` for 'cosine_bumps').
    r_cut : float
        Cutoff radius, in ``[R_CUT_MIN, R_CUT_MAX] = [1e-30, 1e30]`` (outside, the
        functions and their derivatives over- or underflow float64: change the length
        unit); with an envelope also ``r_cut**envelope_power`` in ``[1e-150, 1e150]``.
    primitive : {'cosine_bumps', 'cosines', 'smooth_cosines'}
        Primitive family (see the module docstring for formulas and smoothness).
    envelope_power : int or None
        Multiply the primitives by ``(r_cut - r)^envelope_power``.

    Attributes
    ----------
    n_max, r_cut, primitive, envelope_power
        The hyper-parameters (see :meth:`to_dict`).
    family : RadialPrimitives
        The primitives.
    gram : ndarray, shape (n_max, n_max)
        Gram matrix of the primitives.
    coefficients : ndarray, shape (n_max, n_max)
        ``C`` with ``R_n = sum_k C[n, k] f_k``; ``C G C^T = I``.
    condition_number : float
        2-norm condition number of the Jacobi-scaled Gram matrix
        ``D^-1/2 G D^-1/2`` (``D = diag G``), which is what bounds the accuracy of
        the Cholesky factorisation; bases above ``rstref.limits.GRAM_CONDITION_MAX`` are
        refused with ``ValueError``.
    smoothness_interior, smoothness_at_cutoff, joins, smooth_at_origin
        As for :class:`RadialPrimitives` (a linear combination is at least as smooth).

    Raises
    ------
    ValueError
        For ``n_max`` out of range, ``r_cut <= 0``, an unknown family, a bad envelope
        power or an ill-conditioned Gram matrix.
    """

    def __init__(self, n_max, r_cut, primitive="cosine_bumps", envelope_power=None):
        check_choice(primitive, "primitive", FAMILIES)
        n_min = FAMILIES[primitive][3]
        self.n_max = check_int(n_max, "n_max", n_min, MAX_N)
        self.family = RadialPrimitives(self.n_max, r_cut, primitive, envelope_power)
        self.r_cut = self.family.r_cut
        self.primitive = primitive
        self.envelope_power = self.family.envelope_power
        self.smoothness_interior = self.family.smoothness_interior
        self.smoothness_at_cutoff = self.family.smoothness_at_cutoff
        self.joins = self.family.joins
        self.smooth_at_origin = self.family.smooth_at_origin
        gram_extended = self.family._gram_extended()
        self.gram = np.asarray(gram_extended, dtype=np.float64)
        self.condition_number = scaled_condition_number(self.gram)
        if not self.condition_number <= GRAM_CONDITION_MAX:
            raise ValueError(
                f"the Gram matrix of {self.n_max} {primitive!r} primitives (r_cut={self.r_cut}, "
                f"envelope_power={self.envelope_power}) has condition number "
                f"{self.condition_number:.3g} > GRAM_CONDITION_MAX = {GRAM_CONDITION_MAX:.0e}: "
                "too ill-conditioned to orthonormalise in float64; use fewer functions "
                "or a lower envelope power"
            )
        # C = L^{-1} in extended precision, rounded once: the orthonormality defect is then
        # ~ eps * sqrt(cond) from that rounding (plus eps_longdouble * cond), not eps * cond.
        inverse = inverse_lower_extended(cholesky_extended(gram_extended))
        self.coefficients = np.ascontiguousarray(np.asarray(inverse, dtype=np.float64))

    # -- evaluation
    def __call__(self, r, device=None):
        """``R_n(r)``, shape ``(len(r), n_max)``; ``r`` 1-D, finite, ``>= 0``."""
        return self.with_derivatives(r, device=device)[0]

    def with_derivatives(self, r, device=None):
        """``R_n(r)``, ``dR_n/dr``, ``d^2R_n/dr^2``, each of shape ``(len(r), n_max)``.

        At an interior join of 'cosine_bumps' (where ``R''`` jumps) the second derivative
        is a one-sided limit: the right one, or the left one where ``r / delta`` rounds down;
        for ``r >= r_cut`` everything is 0.  ``device``: None runs on the GPU when ``r``
        is a device array (``__cuda_array_interface__``), 'cuda' forces the GPU (results
        are numba device arrays, see :mod:`rstref.cuda`), 'cpu' the CPU.
        """
        if wants_gpu(device, r):
            from rstref.cuda import radial as gpu

            return gpu.radial_basis_with_derivatives(self.kernel_arguments(), r)
        r = check_distances(r)
        out = np.zeros((r.shape[0], self.n_max))
        dout = np.zeros_like(out)
        d2out = np.zeros_like(out)
        if r.shape[0]:
            orthonormal_loop(r, *self.kernel_arguments(), out, dout, d2out)
        return out, dout, d2out

    def primitives(self, r):
        """The primitives before orthonormalisation, ``f_k(r)``, shape ``(len(r), n_max)``."""
        return self.family(r)

    def primitives_with_derivatives(self, r):
        """Primitive values, first and second derivatives, each ``(len(r), n_max)``."""
        return self.family.with_derivatives(r)

    def kernel_arguments(self):
        """What :func:`rstref._kernels.radial.orthonormal_radial_point` takes after ``r``.

        The per-distance kernel is called as ``orthonormal_radial_point(r, family, r_cut,
        n_prim, envelope_power, coefficients, f, df, d2f, R, dR, d2R)``; the CPU loops
        here, the environment kernels (:func:`rstref._kernels.tensor.project_environment_radial`)
        and the GPU driver (:mod:`rstref.cuda`) all take these five values from this method.

        Returns
        -------
        family : int
            Kernel code of the primitive family (``rstref._kernels.radial.FAMILY_*``).
        r_cut : float
        n_prim : int
            Number of primitives ``f_k`` (the scratch rows ``f, df, d2f`` have this
            length); equal to ``n_max`` for this basis, but a kernel must size its scratch
            from ``n_prim``, not from ``n_max``.
        envelope_power : int
            ``p`` of the envelope ``(r_cut - r)^p``; 0 for none.
        coefficients : ndarray of float64, shape (n_max, n_prim), C-contiguous
            ``C`` with ``R_n = sum_k C[n, k] f_k`` (the output rows ``R, dR, d2R`` have
            length ``n_max``).
        """
        return (int(self.family.family_code), float(self.r_cut), int(self.family.n),
                int(self.envelope_power or 0), self.coefficients)

    # -- description
    def to_dict(self):
        """Hyper-parameters as a JSON-serialisable dict (``from_dict`` inverts it)."""
        return {"n_max": self.n_max, "r_cut": self.r_cut, "primitive": self.primitive,
                "envelope_power": self.envelope_power}

    @classmethod
    def from_dict(cls, description):
        """Rebuild a basis from :meth:`to_dict` output."""
        return cls(**description)

    def _key(self):
        return (self.n_max, self.r_cut, self.primitive, self.envelope_power)

    def __eq__(self, other):
        return isinstance(other, OrthonormalRadialBasis) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"OrthonormalRadialBasis(n_max={self.n_max}, r_cut={self.r_cut!r}, "
                f"primitive={self.primitive!r}, envelope_power={self.envelope_power!r})")


# --------------------------------------------------------------------------- tutorial adapters
#
# Thin adapters for readers of the original e3nn radial-spherical-tensor tutorial.  They
# keep its names and call pattern (a radial model is a callable r -> (len(r), n)) but are
# NumPy objects backed by the classes above; nothing here is torch.

class FixedCosineRadialModel(RadialPrimitives):
    """Tutorial adapter: the cos^2 bumps, ``FixedCosineRadialModel(max_radius, number_of_basis)``.

    Same as ``RadialPrimitives(number_of_basis, max_radius, 'cosine_bumps')``.
    """

    def __init__(self, max_radius, number_of_basis):
        super().__init__(number_of_basis, max_radius, "cosine_bumps")


class CosineFunctions(RadialPrimitives):
    """Tutorial adapter: ``CosineFunctions(n_radial, radial_cutoff)``, ``cos(k pi r / r_cut)``.

    ``k = 0..n_radial-1``; same as ``RadialPrimitives(n_radial, radial_cutoff, 'cosines')``.
    """

    def __init__(self, n_radial, radial_cutoff):
        super().__init__(n_radial, radial_cutoff, "cosines")


class FadeAtCutoff(RadialPrimitives):
    """Tutorial adapter: ``FadeAtCutoff(radial_model, max_radius, power=2)``.

    Multiplies the primitives of ``radial_model`` (a :class:`RadialPrimitives` without
    envelope) by ``(max_radius - r)^power``; ``max_radius`` must equal the model's cutoff.
    """

    def __init__(self, radial_model, max_radius, power=2):
        if not isinstance(radial_model, RadialPrimitives) or radial_model.envelope_power:
            raise TypeError("radial_model must be a RadialPrimitives family without envelope")
        if check_positive_float(max_radius, "max_radius") != radial_model.r_cut:
            raise ValueError(f"max_radius must equal the model's cutoff {radial_model.r_cut}, "
                             f"got {max_radius}")
        super().__init__(radial_model.n, radial_model.r_cut, radial_model.primitive, power)


class OrthonormalRadialFunctions(OrthonormalRadialBasis):
    """Tutorial adapter: ``OrthonormalRadialFunctions(radial_model)``.

    Orthonormalises the primitives of ``radial_model`` (e.g. ``FadeAtCutoff(...)``) exactly
    instead of by the tutorial's trapezoid-rule Gram–Schmidt on a sample grid.
    """

    def __init__(self, radial_model):
        if not isinstance(radial_model, RadialPrimitives):
            raise TypeError("radial_model must be a RadialPrimitives family")
        super().__init__(radial_model.n, radial_model.r_cut, radial_model.primitive,
                         radial_model.envelope_power)
