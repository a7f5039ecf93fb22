"""Limits that rstref enforces at run time: what it rejects, and where it stops.

These are not test tolerances (those live in :mod:`rstref.tolerances`); they decide what
a call accepts.  Each states its unit and why it has its value.
"""

import os


def _half_physical_memory():
    """Half the physical memory in bytes, or 4 GiB where the platform does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2
    except (AttributeError, ValueError, OSError):
        return 4 * 2**30


#: rejection tolerance for rotation matrices: ||R^T R - I||_max and |det R - 1|
ROTATION_ATOL = 1e-10

#: largest condition number accepted for a radial Gram matrix, measured on the
#: Jacobi-scaled matrix D^-1/2 G D^-1/2 (D = diag G), which is what bounds Cholesky's
#: accuracy.  rstref integrates G and factorises it in numpy.longdouble (eps_ld = 1.1e-19
#: on x86-64) and rounds C = L^-1 once, so the orthonormality defect max|C G C^T - I| is
#: about eps_ld * cond + eps * sqrt(cond): measured 1e-16 at cond 2, 1e-14 at cond 1e5,
#: 2e-9 at cond 4e10.  1e10 keeps it below ~1e-9 where longdouble is 80-bit (and below
#: ~2e-6 on platforms where longdouble is float64); beyond that a float64 basis is no
#: longer orthonormal to a useful accuracy and the basis is refused with ValueError.
GRAM_CONDITION_MAX = 1e10


#: two atoms of one environment closer than this (in length units) are "coincident" and
#: rejected with ValueError by the projections: the density would hold a single
#: peak of summed height, which is almost always an input error (duplicated atom).
COINCIDENT_ATOMS_ATOL = 1e-8

#: kernel-normalised projection: an atom with ||phi(r)||^2 <= this contributes 0.
#: Only reached at/after r_cut in practice (||phi||^2 = (l_max+1)^2 sum_n R_n^2 is never
#: this small inside the ball for bases in float64).  Chosen so that 1/||phi|| <= 1e75 and
#: the first/second derivatives (~1/||phi||^2, ~1/||phi||^3 times bounded factors) stay finite.
KERNEL_NORM_FLOOR = 1e-150

#: largest number of bytes one request may allocate (its output, or the largest temporary
#: it needs) before rstref refuses it with ValueError (:func:`rstref._checks.check_allocation`),
#: instead of starting work that would exhaust memory or run for hours.  Default: half of
#: the machine's physical memory (4 GiB where that cannot be read).  It is read at call
#: time: set ``rstref.limits.MAX_ALLOCATION_BYTES`` to another value to change it.
MAX_ALLOCATION_BYTES = _half_physical_memory()

#: neighbour list: largest number of candidate pairs (bin visits times atoms per bin) the
#: cell-list search may test before it is refused with ValueError (a cell far smaller than
#: r_cut, e.g. r_cut=1 in a 1e-3 cell, needs ~8e9 and ~4e9 pairs).  2e9 is a few seconds of
#: the search: a million atoms at liquid density and r_cut=6 need ~3e8.  Raise it at run time
#: with ``rstref.limits.NEIGHBOR_MAX_CANDIDATES = ...``.
NEIGHBOR_MAX_CANDIDATES = 2e9

#: largest l_max the bispectrum layout functions (:mod:`rstref.layouts`) accept.  Far
#: above any Clebsch-Gordan table rstref loads (l <= 200), and low enough that counting
#: the layout block by block (O(l_max^2) closed-form terms) stays below a second.
BISPECTRUM_L_MAX = 1000

#: accepted cutoff radii (length units).  The orthonormal functions scale like
#: ``r_cut**-1.5`` and their second derivatives like ``r_cut**-3.5``; invariants and their
#: Hessians are products of two or three of them, and the kernel-normalised projection
#: divides by ``||phi||**2 ~ r_cut**-3`` (floored at ``limits.KERNEL_NORM_FLOOR``), so
#: within this range everything stays far from float64's over- and underflow.
R_CUT_MIN, R_CUT_MAX = 1e-30, 1e30

#: the envelope ``(r_cut - r)**p`` is evaluated in float64: ``r_cut**p`` must stay
#: within this factor of 1 (both ways)
ENVELOPE_SCALE_MAX = 1e150
