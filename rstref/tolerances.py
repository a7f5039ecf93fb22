"""All numerical tolerances of rstref and its tests, in one place (DESIGN section 4).

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

#: max abs error of 'norm'-normalised spherical harmonics against mpmath (issue 2)
def sh_value_atol(l):
    """Max abs error allowed for 'norm'-normalised Y_lm of degree l against a 30-digit oracle."""
    return 1e-14 * (l + 1) if l <= 20 else 1e-12

#: identities that hold exactly in exact arithmetic (orthonormality, addition theorem, ...)
def identity_atol(scale=1.0, l=0):
    """Tolerance for an exact identity of size ``scale`` involving degree-l quantities."""
    return 64 * EPS * max(scale, 1.0) * (l + 1) ** 2

#: rejection tolerance for rotation matrices: ||R^T R - I||_max and |det R - 1|
ROTATION_ATOL = 1e-10

#: CPU vs CUDA agreement (DESIGN 4)
CUDA_RTOL = 1e-12

#: largest condition number accepted for a radial Gram matrix (issue 3), measured on the
#: Jacobi-scaled matrix D^-1/2 G D^-1/2 (D = diag G), which is what bounds Cholesky's
#: accuracy.  The Gram entries carry a relative error of a few eps, so even an exact
#: orthonormalisation of the computed G leaves an orthonormality defect of about
#: cond * eps with respect to the exact inner product: 1e12 keeps that below ~2e-4,
#: the point past which the basis is no longer "orthonormal in float64" in any useful
#: sense.  Bases this ill-conditioned are refused with ValueError.
GRAM_CONDITION_MAX = 1e12


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

#: two atoms of one environment closer than this (in length units) are "coincident" and
#: rejected with ValueError by the projections (issue 5): the density would hold a single
#: peak of summed height, which is almost always an input error (duplicated atom).
COINCIDENT_ATOMS_ATOL = 1e-8

#: kernel-normalised projection (issue 5): an atom with ||phi(r)||^2 <= this contributes 0.
#: Only reached at/after r_cut in practice (||phi||^2 = (l_max+1)^2 sum_n R_n^2 is never
#: this small inside the ball for bases in float64).  Chosen so that 1/||phi|| <= 1e75 and
#: the first/second derivatives (~1/||phi||^2, ~1/||phi||^3 times bounded factors) stay finite.
KERNEL_NORM_FLOOR = 1e-150
