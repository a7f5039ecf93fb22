"""Test and peer tolerance budgets of rstref, in one place (docs/testing.md).

The limits that rstref itself enforces at run time (rotation check, Gram condition,
coincident atoms, kernel-normalisation floor) live in :mod:`rstref.limits`.

Tolerances are multiples of the float64 machine epsilon, scaled with the degree l
(or the size of the quantity) where round-off grows with it.  Finite-difference
tolerances follow from the step: a central difference with step h has truncation
error O(h^2) and round-off O(eps/h); the optimal h ~ eps^(1/3) gives ~eps^(2/3).
"""

import numpy as np

EPS = float(np.finfo(np.float64).eps)

#: step for central differences of values (first derivatives)
FD_STEP = 1e-5
#: relative tolerance of a central-difference check (h^2 truncation plus eps/h round-off)
FD_RTOL = 1e-7

#: max abs error of 'norm'-normalised spherical harmonics against mpmath
def sh_value_atol(l):
    """Max abs error allowed for 'norm'-normalised Y_lm of degree l against a 30-digit oracle."""
    return 1e-14 * (l + 1) if l <= 20 else 1e-12

#: central-difference check of spherical-harmonic derivatives of degree l
def sh_fd_atol(scale, l):
    """Allowed |analytic - central difference| for derivatives of degree-l harmonics.

    ``scale`` is the magnitude of the analytic derivative block being checked; the step
    is ``FD_STEP * |r|``.  The truncation error h^2 f^(3)/6 grows like l^3 (each derivative
    of a degree-l harmonic brings a factor ~l/|r|), hence the factor max(1, (l/10)^3).
    """
    return FD_RTOL * np.maximum(scale, 1e-300) * max(1.0, (l / 10.0) ** 3)


#: identities that hold exactly in exact arithmetic (orthonormality, addition theorem, ...)
def identity_atol(scale=1.0, l=0):
    """Tolerance for an exact identity of size ``scale`` involving degree-l quantities."""
    return 64 * EPS * max(scale, 1.0) * (l + 1) ** 2

#: CPU vs CUDA agreement
CUDA_RTOL = 1e-12



# =======================================================================================
# Testing kit (rstref.testing; docs/testing-kit.md)
# ---------------------------------------------------------------------------------------
# The property checkers of rstref.testing accept any featurizer, so their tolerances are
# stated in terms of quantities the checker measures itself: the machine epsilon, the
# magnitude ("scale") of the outputs it compares, the number of atoms and of output
# entries, and the finite-difference step.  A checker's keyword `atol` overrides all this.
# =======================================================================================

#: round-off budget of one evaluation of a featurizer, in units of eps * scale: how far a
#: correct float64 featurizer may move when its input is rotated, permuted or translated
#: (every rotated coordinate carries ~eps relative error and is then pushed through a
#: handful of well-conditioned operations per atom and per output entry)
KIT_ROUNDOFF_ULPS = 256


def kit_invariance_atol(scale, n_atoms, n_outputs):
    """Max abs deviation allowed between f(x) and f(T x) (or D f(x)) for a symmetry T.

    ``KIT_ROUNDOFF_ULPS * eps * scale * sqrt(max(n_atoms, 1) * max(n_outputs, 1))``:
    round-off grows like the square root of the number of summed atoms, and the largest of
    ``n_outputs`` independent errors grows (slowly) with the output size; ``scale`` is the
    largest |output| of the two evaluations.
    """
    return KIT_ROUNDOFF_ULPS * EPS * float(scale) * float(np.sqrt(max(n_atoms, 1) * max(n_outputs, 1)))


#: default step (in position units) of the kit's central differences.  The kit uses the
#: Richardson combination (4 D(h/2) - D(h)) / 3 of central differences, whose truncation
#: error is O(h^4 f^(5)) and whose round-off is at most 3 eps_f / h (sum of |weights|).
KIT_FD_STEP = 1e-3

#: relative (to the largest analytic derivative) truncation budget of the Richardson
#: difference at KIT_FD_STEP: h^4 / 30 * f^(5) stays below 1e-8 * f' for any function that
#: varies on length scales >~ 0.03 position units (Gaussians of width 0.03 and up)
KIT_FD_RTOL = 1e-8


def kit_fd_atol(value_scale, derivative_scale, step):
    """Max abs deviation allowed between an analytic derivative and its Richardson FD.

    ``3 * KIT_ROUNDOFF_ULPS * eps * value_scale / step + KIT_FD_RTOL * derivative_scale``:
    the round-off of the difference quotient (weights summing to 3/h applied to values
    carrying KIT_ROUNDOFF_ULPS eps of error) plus its truncation budget.  ``value_scale``
    is the largest |value| differenced (the function for gradients, the gradient for
    Hessians) and ``derivative_scale`` the largest |analytic derivative|.
    """
    return 3.0 * KIT_ROUNDOFF_ULPS * EPS * float(value_scale) / float(step) + KIT_FD_RTOL * float(derivative_scale)


#: smallest finite-difference step, relative to the largest |coordinate|, that the kit
#: accepts: positions +- step/2 then differ from positions by step/2 to ~2e-7 relative
#: (eps / 1e-9), and the round-off term of kit_fd_atol stays below ~2e-4 of
#: value_scale / |coordinate|.  Smaller steps raise ValueError naming ``step``.
KIT_FD_MIN_RELATIVE_STEP = 1e-9

#: largest finite-difference step, relative to the configuration's size (largest
#: |position| or |lattice vector|): a step moving atoms by more than 10% of it measures a
#: secant, not a derivative (and can step over a cutoff).  Larger steps raise ValueError.
KIT_FD_MAX_RELATIVE_STEP = 0.1

#: when no perturbation of size step/2 changes the function beyond round-off
#: (KIT_ROUNDOFF_ULPS eps of its scale), the kit retries at KIT_FD_PROBE_FACTOR * step
#: (capped by KIT_FD_MAX_RELATIVE_STEP): a function that changes there was not resolved at
#: the given step, and the check is reported vacuous instead of passing
KIT_FD_PROBE_FACTOR = 256


#: a derivative check is vacuous (reported failed) unless its tolerance is below
#: 1 / KIT_FD_RESOLUTION_FACTOR of the largest finite-difference derivative or rate of
#: change max|f(x +- h/2 e) - f(x)| / (h/2) of the function: with a tolerance of half the
#: derivative's size, a zero (or halved) derivative would already pass.  Functions whose
#: round-off swamps the differences (a large constant offset, a tiny step) trip this.
KIT_FD_RESOLUTION_FACTOR = 2.0


#: identities that hold to round-off: Hessian symmetry H[i,a,j,b] = H[j,b,i,a]
def kit_symmetry_atol(scale, n_outputs):
    """Max abs asymmetry allowed in an analytic Hessian of largest entry ``scale``."""
    return KIT_ROUNDOFF_ULPS * EPS * float(scale) * float(np.sqrt(max(n_outputs, 1)))


#: default largest step of the cutoff-smoothness check, as a fraction of r_cut; the check
#: uses h, h/2 and h/4 so its smallest step is KIT_SMOOTHNESS_STEP / 4 * r_cut
KIT_SMOOTHNESS_STEP = 4e-3


#: highest continuity order the cutoff-smoothness check accepts: it uses order + 3
#: one-sided samples, and the round-off floor of the order-d estimate relative to
#: value_scale / r_cut^d at the default step is ~8e-13, 3e-9, 8e-6, 2e-2 for d = 0..3
#: but ~55 for d = 4 (no usable step resolves a fourth-derivative jump)
KIT_SMOOTHNESS_MAX_ORDER = 3

#: largest reach (order + 3) * step of the smoothness samples, relative to r_cut (or the
#: configuration size): the strategies keep 0.05 r_cut of the path clear of other events,
#: and the default step reaches (order + 3) * KIT_SMOOTHNESS_STEP <= 0.024 r_cut
KIT_SMOOTHNESS_MAX_REACH = 0.1

#: the smoothness check is vacuous (reported failed) when the round-off floor of the
#: claimed order's estimate exceeds this fraction of value_scale / length^order: a jump of
#: the derivative's natural size would then be hidden under round-off
KIT_SMOOTHNESS_MAX_FLOOR = 0.1


def kit_smoothness_noise(value_scale, weight_sum):
    """Round-off floor of a one-sided derivative estimate: left minus right.

    Each side's estimate is a weighted sum of samples with ``sum |w| = weight_sum``
    (including the 1/h^d factor); samples carry KIT_ROUNDOFF_ULPS * eps * value_scale of
    error, and the two sides' errors add.  A discrepancy below this is not a jump.
    """
    return 2.0 * KIT_ROUNDOFF_ULPS * EPS * float(value_scale) * float(weight_sum)


def kit_smoothness_ratio(convergence_order):
    """Largest discrepancy ratio D(h/4) / D(h/2) accepted as 'converging to zero'.

    A function that is C^d at the crossing has left/right discrepancy O(h^p) with
    p = convergence_order (number of one-sided samples minus d), so halving h divides it
    by 2^p; a jump J leaves it at J (ratio -> 1).  The threshold 2^-(p-1) sits between.
    """
    return 2.0 ** (-(convergence_order - 1))


# =======================================================================================
# Validation against peer implementations (validation/, sphericart, e3nn, scipy, wigners)
# =======================================================================================

#: round-off budget, in units of eps, of two independent float64 implementations of the
#: same real spherical harmonic: each carries O(l) ulps from its recurrence
PEER_ULPS = 64


def peer_rtol(l, order=0):
    """Max deviation of rstref from a peer, relative to the peer's largest value of degree l.

    ``PEER_ULPS * eps * (l + 1) * (1 + order)``: a degree-l recurrence accumulates O(l)
    ulps, and each derivative order adds one more recurrence (``order`` = 0 values,
    1 gradients, 2 Hessians; derivatives rescaled to unit |r| before comparing).
    """
    return PEER_ULPS * EPS * (l + 1) * (1 + order)


#: Clebsch-Gordan agreement with a peer (e3nn's float64 tables, wigners): entries are
#: O(1); both sides are rounded exact numbers, so a few ulps per entry
PEER_CG_ATOL = 1e-13

#: orthonormality defect max|C G C^T - I| of a radial basis against an independent
#: 25-digit mpmath Gram matrix (holds for condition numbers up to ~1e6, see
#: GRAM_CONDITION_MAX for the measured defects)
RADIAL_ORTHONORMALITY_ATOL = 1e-12
#: relative accuracy of the (longdouble Gauss-Legendre, rounded) radial Gram matrix,
#: |G - G_exact| / sqrt(G_ii G_jj): the float64 rounding plus a little
RADIAL_GRAM_RTOL = 2 * EPS


# =======================================================================================
# Clebsch-Gordan tables
# =======================================================================================

#: real Gaunt coefficients against a product quadrature of three real SH that is exact for
#: their polynomial degree (the issue's bound; entries are O(1/sqrt(4 pi)), the quadrature
#: sums O(l^2) products of float64 harmonics, so this is ~1e3 eps)
GAUNT_QUADRATURE_ATOL = 1e-13

#: rstref's tensor coefficients / power spectrum vs e3nn-built equivalents:
#: max |difference| / max |e3nn value|; the issue's criterion
PEER_TENSOR_RTOL = 1e-12

# =======================================================================================
# featurization of structures
# =======================================================================================

#: rstref features vs featomic with a Dirac-delta density and rstref's radial basis
#: tabulated as a 4001-point cubic Hermite spline (validation/bench_featurize.py): the
#: spline's interpolation error (O(h^4) in values), relative to the largest feature
PEER_FEATOMIC_DELTA_RTOL = 1e-8
#: the same for position gradients: the spline's derivative is only O(h^3) accurate
PEER_FEATOMIC_DELTA_GRADIENT_RTOL = 1e-7
#: a peer featurizer's features under a rotation / permutation of the structure, relative
#: to the largest feature (peers such as dscribe sum in float64 through other code paths)
PEER_INVARIANCE_RTOL = 1e-10


# =======================================================================================
# Potentials (rstref.potential)
# =======================================================================================

#: relative agreement of the analytic energy Hessian with central differences (step
#: FD_STEP) of the analytic forces, relative to max |H|: h^2 truncation ~1e-10 and
#: eps |F| / h ~1e-11 round-off, with the margin FD_RTOL keeps for every FD check
POTENTIAL_FD_RTOL = FD_RTOL
